"""What a person at a terminal reads: help text without reST markup."""

from __future__ import annotations

import pytest

from imdb_lightning.utils.terminal import plain


def test_help_text_shows_literals_and_roles_as_their_text():
    assert plain("Give ``--file`` or see :func:`~imdb_lightning.api.run` and :class:`Result`.") == (
        "Give --file or see imdb_lightning.api.run and Result."
    )


@pytest.mark.parametrize("module", ["imdb_lightning.results.predict", "imdb_lightning.data.prepare"])
def test_the_commands_help_has_no_rest_markup(module, capsys):
    import importlib

    with pytest.raises(SystemExit) as done:
        importlib.import_module(module).main(["--help"])
    assert done.value.code == 0
    shown = capsys.readouterr().out
    assert "usage:" in shown and "``" not in shown and ":func:" not in shown

"""``scripts/mutants.py`` stays plantable: each of its one-line bugs names a line its module still holds."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import imdb_lightning

PACKAGE = Path(imdb_lightning.__file__).parent
SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "mutants.py"


def test_every_mutants_line_is_once_in_its_module():
    spec = importlib.util.spec_from_file_location("mutants", SCRIPT)
    mutants = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mutants  # its dataclass looks its module up there
    spec.loader.exec_module(mutants)
    stale = [
        f"{m.name}: {m.module}" for m in mutants.MUTANTS if (PACKAGE / m.module).read_text().count(m.old) != 1
    ]
    assert not stale, f"lines moved since these mutants were written (update scripts/mutants.py): {stale}"

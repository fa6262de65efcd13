"""The output-folder check that runs before Hydra makes the run folder."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from imdb_lightning.utils.atomic import unwritable


def test_a_writable_folder_is_made_and_left_as_it_was(tmp_path):
    folder = tmp_path / "a" / "b"
    assert unwritable(folder) is None
    assert folder.is_dir() and list(folder.iterdir()) == []


def test_a_file_where_the_folder_should_be_is_named(tmp_path):
    (tmp_path / "run").write_text("")
    assert unwritable(tmp_path / "run") == "it is a file, not a folder"


def test_processes_checking_one_folder_at_once_all_find_it_writable(tmp_path):
    # Every DDP process runs the check on the shared run folder at the same moment: one probe file name for
    # all let one process delete another's probe, and that process reported the folder unwritable.
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda _: unwritable(tmp_path), range(2000)))
    assert set(answers) == {None}
    assert list(tmp_path.iterdir()) == []

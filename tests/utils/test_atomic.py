"""Atomic writes leave either the old file or the new one, and a later start clears what a killed writer
left."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
from conftest import read_only

from imdb_lightning.utils.atomic import _host, atomic_open, clear_stale_parts


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "f.json"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_open(target, "w") as f:
        f.write("half")
        raise RuntimeError("disk full")
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["f.json"]


def test_a_killed_writers_temporary_is_cleared_and_a_live_ones_kept(tmp_path):
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True
    )
    killed = tmp_path / f".cache.npz.{_host()}.{int(dead.stdout)}.abc123.part"  # its writer has exited
    live = tmp_path / f".cache.npz.{_host()}.{os.getpid()}.def456.part"  # this process is writing it
    foreign_new = tmp_path / ".cache.npz.otherhost.1.ghi789.part"
    foreign_old = tmp_path / ".cache.npz.otherhost.2.jkl012.part"
    for path in (killed, live, foreign_new, foreign_old):
        path.write_bytes(b"partial")
    day_ago = time.time() - 2 * 24 * 3600
    os.utime(foreign_old, (day_ago, day_ago))
    assert sorted(p.name for p in clear_stale_parts(tmp_path)) == sorted([killed.name, foreign_old.name])
    assert live.exists() and foreign_new.exists()


def test_temporaries_name_their_writer(tmp_path):
    with atomic_open(tmp_path / "x.bin"):
        (part,) = [p for p in tmp_path.iterdir() if p.name.endswith(".part")]
        assert f".{_host()}.{os.getpid()}." in part.name
    assert clear_stale_parts(tmp_path) == []


def test_read_only_blocks_writes_even_for_root(tmp_path):
    with read_only(tmp_path):
        with pytest.raises(PermissionError):
            (tmp_path / "x.txt").write_text("no")
        with pytest.raises(PermissionError):
            (tmp_path / "sub").mkdir()
        assert (tmp_path / "x.txt").exists() is False
    (tmp_path / "x.txt").write_text("yes")  # and nothing is blocked afterwards

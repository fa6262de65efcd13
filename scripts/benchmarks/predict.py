"""Memory and time of ``python -m imdb_lightning.predict`` on many reviews from standard input.

Trains the baseline for one epoch on the real data (a 10,000-word checkpoint, as the lecture's), writes
short reviews built from the word index's common words, pipes them into ``predict`` and reports
the child's peak resident memory (``ru_maxrss``) and its wall time. predict reads, encodes and scores its
input a batch at a time, so the peak must not grow with the number of reviews: 50,000 reviews beside
500,000 show it.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

from benchmarks.harness import Table


def train_checkpoint(folder: Path) -> Path:
    """A one-epoch baseline run on the real data; returns its folder."""
    run = folder / "run"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "imdb_lightning",
            "+experiment=baseline",
            "trainer.max_epochs=1",
            "test=false",
            "~logger",
            f"hydra.run.dir={run}",
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return run


def write_reviews(path: Path, count: int, data_dir: Path) -> int:
    """``count`` reviews of 20-60 words drawn from the 5,000 most common words; returns the file's size."""
    index = json.loads((data_dir / "imdb_word_index.json").read_text())
    words = [w for w, rank in sorted(index.items(), key=lambda item: item[1])[:5000]]
    rng = random.Random(0)
    with open(path, "w") as f:
        for _ in range(count):
            f.write(" ".join(rng.choices(words, k=rng.randint(20, 60))) + "\n")
    return path.stat().st_size


#: Runs predict as the only child of a fresh process, which prints that child's peak RSS (ru_maxrss of
#: RUSAGE_CHILDREN is the largest waited-for child's: here, predict's alone).
_MEASURE = """
import resource, subprocess, sys, time
started = time.perf_counter()
command = [sys.executable, *sys.argv[3:], sys.argv[1]]
with open(sys.argv[2], "rb") as stdin:
    done = subprocess.run(command, stdin=stdin, capture_output=True, check=True)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, time.perf_counter() - started,
      done.stdout.count(b"\\n"))
"""


def measure(run: Path, reviews: Path, predict: list[str]) -> tuple[float, float, int]:
    """Peak RSS of the predict process (MB), its wall time (s) and the lines it printed."""
    out = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(run), str(reviews), *predict],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return int(out[0]) / 1024, float(out[1]), int(out[2])


def predict(tmp: Path, counts: list[int]) -> tuple[dict, dict[str, Table]]:
    """predict's peak memory and time on each count of reviews."""
    data_dir = Path(os.environ.get("IMDB_LIGHTNING_DATA", "")).expanduser()
    if not (data_dir / "imdb_word_index.json").is_file():
        sys.exit("set IMDB_LIGHTNING_DATA to the data folder")
    run = train_checkpoint(tmp)
    table = Table(["reviews", "input", "peak RSS", "wall time", "reviews / s"])
    figures = {}
    for count in sorted(counts):
        reviews = tmp / f"reviews-{count}.txt"
        size = write_reviews(reviews, count, data_dir)
        peak, seconds, lines = measure(run, reviews, ["-m", "imdb_lightning.predict"])
        assert lines == count, (lines, count)
        figures[count] = {"peak_rss_mb": peak, "seconds": seconds}
        table.add(
            f"{count:,}",
            f"{size / 1e6:.1f} MB",
            f"{peak:.0f} MB",
            f"{seconds:.1f} s",
            f"{count / seconds:,.0f}",
        )
    return {"predict": figures}, {"predict": table}

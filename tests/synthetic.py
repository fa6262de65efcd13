"""Small synthetic IMDB data that tests make for themselves: an ``aclImdb`` tree (or tarball) and a word
index.

Positive reviews draw most of their words from a positive list, negative ones from a negative list, so a
model can learn the task in a few steps; every review also carries filler words and punctuation.
"""

from __future__ import annotations

import json
import random
import tarfile
from pathlib import Path

POSITIVE = ["great", "brilliant", "loved", "wonderful", "superb", "moving", "best", "fun"]
NEGATIVE = ["awful", "boring", "worst", "waste", "terrible", "dull", "bad", "mess"]
FILLER = ["the", "film", "a", "and", "was", "of", "it", "this", "movie", "story", "actor", "plot", "i"]


def review_text(rng: random.Random, positive: bool, length: int = 30) -> str:
    signal = POSITIVE if positive else NEGATIVE
    words = [rng.choice(signal) if rng.random() < 0.3 else rng.choice(FILLER) for _ in range(length)]
    words[0] = words[0].capitalize()
    return " ".join(words[:10]) + ", <br /><br />" + " ".join(words[10:]) + "!"


def make_reviews(n_per_label: int = 20, seed: int = 0) -> dict[tuple[str, str], list[str]]:
    """``{(split, "pos"|"neg"): [texts]}``, ``n_per_label`` reviews in each of the four folders."""
    rng = random.Random(seed)
    return {
        (split, label): [review_text(rng, label == "pos", rng.randint(12, 40)) for _ in range(n_per_label)]
        for split in ("train", "test")
        for label in ("pos", "neg")
    }


def write_tree(root: Path, reviews: dict[tuple[str, str], list[str]]) -> Path:
    """Write reviews in the official layout ``root/aclImdb/<split>/<label>/<id>_<rating>.txt``."""
    for (split, label), texts in reviews.items():
        folder = root / "aclImdb" / split / label
        folder.mkdir(parents=True, exist_ok=True)
        for i, text in enumerate(texts):
            rating = 8 + i % 3 if label == "pos" else 1 + i % 4
            (folder / f"{i}_{rating}.txt").write_text(text, encoding="utf-8")
    (root / "aclImdb" / "README").write_text("synthetic test data\n")
    return root / "aclImdb"


def write_tarball(tree: Path, tarball: Path) -> Path:
    with tarfile.open(tarball, "w:gz") as tar:
        tar.add(tree, arcname="aclImdb")
    return tarball


def write_word_index(root: Path, words: list[str] | None = None) -> Path:
    """A word index ranking ``words`` in order (``the`` first, as Keras's)."""
    words = words or FILLER + POSITIVE + NEGATIVE + ["br"]
    path = root / "imdb_word_index.json"
    path.write_text(json.dumps({w: i for i, w in enumerate(words, start=1)}))
    return path


def make_data_dir(root: Path, *, form: str = "folder", n_per_label: int = 20, seed: int = 0) -> Path:
    """A complete data folder: reviews as an extracted tree (``form="folder"``) or a tarball, plus word
    index."""
    root.mkdir(parents=True, exist_ok=True)
    reviews = make_reviews(n_per_label, seed)
    if form == "folder":
        write_tree(root, reviews)
    else:
        staging = root.parent / f".{root.name}-staging"
        write_tarball(write_tree(staging, reviews), root / "aclImdb_v1.tar.gz")
    write_word_index(root)
    return root

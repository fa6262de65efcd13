"""The whole IMDB corpus: the review files read and tokenized into word-index ranks (once; :mod:`.cache` keeps
the result), then encoded as ``keras.datasets.imdb.load_data`` encodes them."""

from __future__ import annotations

import logging
import os
import re
import tarfile
import zlib
from array import array
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from imdb_lightning.data.tokenizer import (
    KerasEncoding,
    apply_id_conventions,
    build_word_index,
    ranks_of,
    tokenize,
)
from imdb_lightning.network.kernels import distinct_segments, gather_segments
from imdb_lightning.utils.errors import ConfigError, DataError
from imdb_lightning.utils.terminal import progress

log = logging.getLogger(__name__)

SPLITS = ("train", "test")
LABELS = {"neg": 0, "pos": 1}
_REVIEW_NAME = re.compile(r"(?:^|/)aclImdb/(train|test)/(pos|neg)/(\d+)_(\d+)\.txt$")


@dataclass
class RawSplit:
    """One split's reviews as word-index ranks (each >= 1: unknown words are dropped), in Keras's order.

    Keras's arrays, before ``load_data`` shuffles them, hold the positive reviews first, then the negative
    ones, each sorted by file name as a string (``0_9.txt``, ``10000_8.txt``, ..., ``9_7.txt``).
    """

    ranks: np.ndarray  # int32, every review's ranks back to back
    offsets: np.ndarray  # int64, len = n + 1
    labels: np.ndarray  # int8, 0 = negative, 1 = positive
    review_ids: np.ndarray  # int32, the <id> of <id>_<rating>.txt

    def __len__(self) -> int:
        return len(self.labels)

    def take(self, index: np.ndarray) -> RawSplit:
        """A new split holding reviews ``index`` in that order."""
        index = np.asarray(index, dtype=np.int64)
        ranks, offsets = gather_segments(self.ranks, self.offsets, index)
        return RawSplit(ranks, offsets, self.labels[index], self.review_ids[index])


@dataclass
class EncodedSplit:
    """One split as Keras ``imdb.load_data`` would give it: id sequences (flat + offsets) and labels."""

    ids: np.ndarray  # int32
    offsets: np.ndarray  # int64, len = n + 1
    labels: np.ndarray  # float32 0/1
    review_ids: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)

    def sequence(self, i: int) -> list[int]:
        return self.ids[self.offsets[i] : self.offsets[i + 1]].tolist()

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    def distinct(self) -> EncodedSplit:
        """Each review's distinct ids, sorted: what a multi-hot row holds, as a bag for sparse sums."""
        ids, offsets = distinct_segments(self.ids, self.offsets)
        return EncodedSplit(ids, offsets, self.labels, self.review_ids)

    def take(self, index: np.ndarray) -> EncodedSplit:
        """A new split holding reviews ``index`` in that order (used for shuffling and splitting)."""
        index = np.asarray(index, dtype=np.int64)
        ids, offsets = gather_segments(self.ids, self.offsets, index)
        return EncodedSplit(ids, offsets, self.labels[index], self.review_ids[index])


@dataclass
class Corpus:
    """Both splits as ranks, plus what was noticed while reading them."""

    splits: dict[str, RawSplit]
    vocabulary_size: int  # the largest word-index rank: the number of words for the Keras index
    invalid_utf8: int = 0
    meta: dict = field(default_factory=dict)
    word_index: dict[str, int] = field(default_factory=dict)  # what the ranks were made with


# ----------------------------------------------------------------------------------------------- reading


def iter_review_files(source: Path) -> Iterator[tuple[str, int, int, int, bytes]]:
    """Yield ``(split, label, review_id, rating, raw bytes)`` for every labelled review under ``source``.

    ``source`` is an extracted ``aclImdb`` folder or a tarball of one; unlabelled (``unsup``) reviews and
    other files are skipped.
    """
    if source.is_dir():
        for split in SPLITS:
            for label_name, label in LABELS.items():
                folder = source / split / label_name
                if not folder.is_dir():
                    continue
                for entry in os.scandir(folder):
                    match = _REVIEW_NAME.search(f"aclImdb/{split}/{label_name}/{entry.name}")
                    if match:
                        yield split, label, int(match[3]), int(match[4]), Path(entry.path).read_bytes()
        return
    try:
        with tarfile.open(source, "r:*") as tar:
            for member in tar:
                match = _REVIEW_NAME.search(member.name)
                if match and member.isfile():
                    f = tar.extractfile(member)
                    yield match[1], LABELS[match[2]], int(match[3]), int(match[4]), f.read() if f else b""
    except (tarfile.TarError, EOFError, zlib.error, OSError) as err:
        raise DataError(
            f"the reviews tarball {source} is corrupt or truncated ({type(err).__name__}: {err}). "
            "Delete it and download it again (https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz)."
        ) from err


def read_corpus(source: Path, word_index: Mapping[str, int] | None) -> Corpus:
    """Read and rank every review; ``word_index=None`` ranks words by training-set frequency instead.

    Reviews that are not valid UTF-8 are decoded with replacement characters, as Keras's text utilities do,
    and counted.
    """
    texts: dict[str, list[tuple[int, str, int, str]]] = {split: [] for split in SPLITS}
    invalid = 0
    for n, (split, label, review_id, rating, raw) in enumerate(iter_review_files(source), start=1):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = raw.decode("utf-8", errors="replace")
            invalid += 1
        texts[split].append((label, f"{review_id}_{rating}.txt", review_id, text))
        if n % 10000 == 0:
            progress(f"reading reviews: {n:,}")
    progress(f"reading reviews: {sum(map(len, texts.values())):,} done", done=True)
    check_labels(source, {split: [row[0] for row in rows] for split, rows in texts.items()})
    if word_index is None:
        word_index = build_word_index(t for *_, t in texts["train"])
    splits = {}
    for split in SPLITS:
        rows = sorted(texts[split], key=lambda row: (-row[0], row[1]))  # Keras's order: see RawSplit
        ranks = array("i")
        offsets = array("q", [0])
        for _, _, _, text in rows:
            ranks.extend(ranks_of(tokenize(text), word_index))
            offsets.append(len(ranks))
        splits[split] = RawSplit(
            ranks=np.frombuffer(ranks, dtype=np.int32).copy(),
            offsets=np.frombuffer(offsets, dtype=np.int64).copy(),
            labels=np.array([r[0] for r in rows], dtype=np.int8),
            review_ids=np.array([r[2] for r in rows], dtype=np.int32),
        )
        texts[split] = []  # free the text as soon as it is encoded
    if invalid:
        log.warning("%d review(s) were not valid UTF-8 and were decoded with replacement characters", invalid)
    return Corpus(
        splits, vocabulary_size=max(word_index.values()), invalid_utf8=invalid, word_index=dict(word_index)
    )


def check_labels(source: Path, labels: dict[str, list[int]]) -> None:
    """Each split needs reviews of both labels: a missing folder (say ``test/neg``) would otherwise train and
    report an accuracy on one class alone. Counts other than the official 12,500 get a warning."""
    names = {value: name for name, value in LABELS.items()}
    counts = {split: {name: 0 for name in LABELS} for split in SPLITS}
    for split, values in labels.items():
        for value in values:
            counts[split][names[value]] += 1
    missing = [f"{split}/{name}" for split in SPLITS for name in LABELS if counts[split][name] == 0]
    if missing:
        raise DataError(
            f"{source} holds no reviews in {', '.join(missing)}: each split needs positive and negative "
            f"reviews "
            "(aclImdb/<train|test>/<pos|neg>/<id>_<rating>.txt; the official data has 12,500 in each folder)"
        )
    official = 12_500
    if any(n != official for split in counts.values() for n in split.values()):
        summary = "; ".join(
            f"{split}: {c['pos']:,} positive, {c['neg']:,} negative" for split, c in counts.items()
        )
        log.warning(
            "%s is not the official data set (%s; the official one has 12,500 of each)", source, summary
        )


def keras_orders(n_train: int, n_test: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The permutations Keras's ``imdb.load_data(seed=...)`` applies: one ``RandomState(seed)`` shuffles
    ``arange(n_train)``, then ``arange(n_test)``."""
    rng = np.random.RandomState(seed)
    train, test = np.arange(n_train), np.arange(n_test)
    rng.shuffle(train)
    rng.shuffle(test)
    return train, test


def encode_corpus(corpus: Corpus, encoding: KerasEncoding) -> tuple[EncodedSplit, EncodedSplit, int]:
    """Both splits exactly as ``keras.datasets.imdb.load_data(**encoding)`` returns them, and the resolved
    ``num_words`` (every id is below it).

    In Keras's sequence of steps: shuffle train, then test, with one ``RandomState(seed)``; drop reviews of
    ``maxlen`` ids or more (start id included); resolve ``num_words=None`` to the largest id over both splits
    (that id itself then becomes out of vocabulary, as in Keras); then the ``skip_top``/``num_words`` cut.
    """
    orders = keras_orders(len(corpus.splits["train"]), len(corpus.splits["test"]), encoding.seed)
    shuffled = {split: corpus.splits[split].take(order) for split, order in zip(SPLITS, orders, strict=True)}
    start = encoding.start_char is not None
    if encoding.maxlen:
        for split, raw in shuffled.items():
            kept = np.flatnonzero(np.diff(raw.offsets) + start < encoding.maxlen)
            if len(kept) == 0:
                shortest = int(np.diff(raw.offsets).min()) + start if len(raw) else 0
                raise ConfigError(
                    f"maxlen={encoding.maxlen} keeps no {split} review: reviews of maxlen ids or more are "
                    f"dropped "
                    f"(Keras semantics) and the shortest has {shortest}; raise maxlen or set it to null"
                )
            if len(kept) < len(raw):
                log.warning(
                    "maxlen=%d dropped %d of %d %s reviews (Keras semantics)",
                    encoding.maxlen,
                    len(raw) - len(kept),
                    len(raw),
                    split,
                )
                shuffled[split] = raw.take(kept)
    num_words = encoding.num_words
    if not num_words:
        largest = [int(raw.ranks.max()) + encoding.index_from for raw in shuffled.values() if len(raw.ranks)]
        num_words = max(largest + ([encoding.start_char] if start else []), default=0)
    encoded = []
    for raw in shuffled.values():
        ids, offsets = apply_id_conventions(raw.ranks, raw.offsets, replace(encoding, num_words=num_words))
        encoded.append(EncodedSplit(ids, offsets, raw.labels.astype(np.float32), raw.review_ids))
    return encoded[0], encoded[1], num_words

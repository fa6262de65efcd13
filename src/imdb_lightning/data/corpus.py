"""The whole IMDB corpus, encoded once and cached compactly.

Tokenizing 50,000 reviews takes seconds; loading the result must take well under one. So the expensive
step — reading the texts and turning every word into its word-index rank — runs once per (reviews, word
index, tokenizer version) and is stored as flat arrays: all ranks back to back plus an offsets array, about
4 bytes a word instead of the 40 KB a dense 10,000-float row costs. Everything cheap that users vary
(``num_words``, ``skip_top``, ``start_char``, ``oov_char``, ``index_from``, ``maxlen``) is applied on load by
:func:`~imdb_lightning.data.tokenizer.apply_id_conventions`, so changing it never re-tokenizes.
"""

from __future__ import annotations

import hashlib
import json
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

from imdb_lightning.data.sources import cache_dir, find_reviews, find_word_index
from imdb_lightning.data.tokenizer import (
    TOKENIZER_VERSION,
    KerasEncoding,
    apply_id_conventions,
    build_word_index,
    load_word_index,
    ranks_of,
    tokenize,
)
from imdb_lightning.network.kernels import gather_segments
from imdb_lightning.utils.atomic import atomic_open, clear_stale_parts
from imdb_lightning.utils.errors import ConfigError, DataError
from imdb_lightning.utils.terminal import progress

log = logging.getLogger(__name__)

SPLITS = ("train", "test")
LABELS = {"neg": 0, "pos": 1}
CACHE_FORMAT = 3  # 2: the word index is stored with the ranks; 3: Keras's review order, no ratings
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
        """Each review's distinct ids, sorted: what a multi-hot row holds, as a bag for sparse sums.

        One sort of ``review * width + id`` keys for the whole split, rather than a set per review.
        """
        width = int(self.ids.max()) + 1 if len(self.ids) else 1
        review = np.repeat(np.arange(len(self), dtype=np.int64), self.lengths)
        keys = review * width + self.ids
        keys.sort()
        first = np.ones(len(keys), dtype=bool)
        np.not_equal(keys[1:], keys[:-1], out=first[1:])
        keys = keys[first]
        counts = np.bincount(keys // width, minlength=len(self))
        offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        return EncodedSplit((keys % width).astype(np.int32), offsets, self.labels, self.review_ids)

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


# ----------------------------------------------------------------------------------------------- caching


def source_fingerprint(source: Path) -> dict:
    """What identifies the reviews cheaply: a tarball's name, size and mtime; for a folder, every review
    file's path (its split and label), size and mtime, hashed. A review moved from ``train/pos`` to
    ``train/neg`` changes its label and keeps the folder's file count, total size and newest mtime: only
    the paths tell."""
    if source.is_file():
        st = source.stat()
        return {
            "kind": "tarball",
            "path": str(source.resolve()),
            "size": st.st_size,
            "mtime_ns": st.st_mtime_ns,
        }
    digest, count = hashlib.sha256(), 0
    for split in SPLITS:
        for label_name in LABELS:
            folder = source / split / label_name
            if folder.is_dir():
                for entry in sorted(os.scandir(folder), key=lambda e: e.name):
                    st = entry.stat()
                    digest.update(
                        f"{split}/{label_name}/{entry.name}\0{st.st_size}\0{st.st_mtime_ns}\n".encode()
                    )
                    count += 1
    return {"kind": "folder", "path": str(source.resolve()), "files": count, "digest": digest.hexdigest()}


def cache_key(source: Path, word_index_path: Path | None) -> dict:
    """Everything that changes the cached ranks; a change in any of it means a new cache file."""
    if word_index_path is None:
        index = "corpus"
    else:
        index = hashlib.sha256(word_index_path.read_bytes()).hexdigest()
    return {
        "format": CACHE_FORMAT,
        "tokenizer": TOKENIZER_VERSION,
        "reviews": source_fingerprint(source),
        "word_index": index,
    }


def cache_path(key: dict, folder: Path | None = None) -> Path:
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:20]
    return (folder or cache_dir()) / "encoded" / f"imdb-ranks-{digest}.npz"


def save_corpus(corpus: Corpus, path: Path, key: dict) -> None:
    """Write atomically (temporary file, then rename): a crash never leaves a half-written cache behind."""
    arrays = {
        f"{split}__{name}": getattr(raw, name)
        for split, raw in corpus.splits.items()
        for name in RawSplit.__dataclass_fields__
    }
    meta = {"key": key, "vocabulary_size": corpus.vocabulary_size, "invalid_utf8": corpus.invalid_utf8}
    with atomic_open(path) as f:
        np.savez(
            f, meta=np.array(json.dumps(meta)), word_index=np.array(json.dumps(corpus.word_index)), **arrays
        )


def load_cached_corpus(path: Path, key: dict) -> Corpus | None:
    """The cached corpus if it is there, intact and made for ``key``; None (with a message) otherwise."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as npz:
            meta = json.loads(str(npz["meta"]))
            if meta.get("key") != key:
                raise ValueError("it was made for other data or by another version")
            splits = {
                split: RawSplit(**{name: npz[f"{split}__{name}"] for name in RawSplit.__dataclass_fields__})
                for split in SPLITS
            }
            word_index = json.loads(str(npz["word_index"]))
        for split, raw in splits.items():
            _check_consistent(split, raw, meta["vocabulary_size"])
    except Exception as err:  # noqa: BLE001 -- any unreadable cache is rebuilt, never trusted
        log.warning("the encoded-data cache %s is unusable (%s); rebuilding it", path, err)
        return None
    return Corpus(splits, meta["vocabulary_size"], meta["invalid_utf8"], meta, word_index)


def _check_consistent(split: str, raw: RawSplit, vocabulary_size: int) -> None:
    n = len(raw.labels)
    if not len(raw.offsets) == n + 1 == len(raw.review_ids) + 1:
        raise ValueError(f"{split}: array lengths disagree")
    if raw.offsets[0] != 0 or raw.offsets[-1] != len(raw.ranks) or np.any(np.diff(raw.offsets) < 0):
        raise ValueError(f"{split}: offsets are not a valid partition of the ranks")
    if len(raw.ranks) and (raw.ranks.min() < 1 or raw.ranks.max() > vocabulary_size):
        raise ValueError(f"{split}: ranks outside [1, {vocabulary_size}]")


def locate_corpus(
    data_dir: str | Path | None = None, *, word_index: str = "keras", download: bool = True
) -> tuple[Path, Path | None, dict]:
    """The reviews, the word index (None for ``word_index="corpus"``) and the cache key they make: which
    data a run would load, found cheaply (file stats and a hash of the word index)."""
    if word_index not in ("keras", "corpus"):
        raise ConfigError(f"data.word_index must be 'keras' or 'corpus', got {word_index!r}")
    source = find_reviews(data_dir, download=download)
    index_path = find_word_index(data_dir, download=download) if word_index == "keras" else None
    return source, index_path, cache_key(source, index_path)


def load_corpus(
    data_dir: str | Path | None = None,
    *,
    word_index: str = "keras",
    download: bool = True,
    cache: bool = True,
) -> Corpus:
    """Find the data, then load its encoding from the cache or build (and cache) it.

    ``word_index="keras"`` ranks words with the Keras word index; ``"corpus"`` with training-set word
    frequencies (see :func:`~imdb_lightning.data.tokenizer.build_word_index`).
    """
    source, index_path, key = locate_corpus(data_dir, word_index=word_index, download=download)
    path = cache_path(key)
    corpus = load_cached_corpus(path, key) if cache else None
    if corpus is not None:
        corpus.meta["cache_path"] = str(path)
        return corpus
    corpus = read_corpus(source, load_word_index(index_path) if index_path else None)
    corpus.meta.update(key=key, source=str(source))
    if cache:
        clear_stale_parts(path.parent)
        try:
            save_corpus(corpus, path, key)
            corpus.meta["cache_path"] = str(path)
        except OSError as err:
            log.warning("could not write the cache %s (%s); going on without it", path, err)
    return corpus


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

"""The tokenized corpus, cached compactly: found, keyed on everything that changes it, written atomically,
and read back only when it is intact and made for the same data.

Tokenizing 50,000 reviews takes seconds; loading the result must take well under one. So the expensive
step runs once per (reviews, word index, tokenizer version) and is stored as flat arrays: all ranks back to
back plus an offsets array, about 4 bytes a word instead of the 40 KB a dense 10,000-float row costs. The
reviews are known by their files' names, sizes and dates (cheap, every run); when those find no cache, by
their content, so that a copy or a touch of the same reviews costs a hash, not an encoding.
Everything cheap that users vary (``num_words``, ``skip_top``, ``start_char``, ``oov_char``, ``index_from``,
``maxlen``) is applied on load by :func:`~imdb_lightning.data.tokenizer.apply_id_conventions`, so changing
it never re-tokenizes.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from imdb_lightning.data.corpus import LABELS, SPLITS, Corpus, RawSplit, read_corpus
from imdb_lightning.data.sources import cache_dir, find_reviews, find_word_index
from imdb_lightning.data.tokenizer import TOKENIZER_VERSION, load_word_index
from imdb_lightning.utils.atomic import atomic_open, clear_stale_parts
from imdb_lightning.utils.errors import ConfigError

log = logging.getLogger(__name__)

CACHE_FORMAT = 3  # 2: the word index is stored with the ranks; 3: Keras's review order, no ratings


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
    for name, entry in review_files(source):
        st = entry.stat()
        digest.update(f"{name}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
        count += 1
    return {"kind": "folder", "path": str(source.resolve()), "files": count, "digest": digest.hexdigest()}


def review_files(source: Path) -> Iterator[tuple[str, os.DirEntry]]:
    """An extracted folder's review files, each as ``split/label/file name`` (what gives its split and label)
    and its entry, in a fixed order."""
    for split in SPLITS:
        for label_name in LABELS:
            folder = source / split / label_name
            if folder.is_dir():
                for entry in sorted(os.scandir(folder), key=lambda e: e.name):
                    yield f"{split}/{label_name}/{entry.name}", entry


def content_digest(source: Path) -> str:
    """What the reviews are, whatever their files' dates: the sha256 of a tarball's bytes, or of a folder's
    every review (its split, label and name, then its bytes). Read when the fingerprint finds no cache: a copy
    or a touch changes the dates, and a hash costs a fraction of a second where encoding costs many."""
    digest = hashlib.sha256()
    if source.is_file():
        with source.open("rb") as f:
            while chunk := f.read(1 << 20):
                digest.update(chunk)
        return digest.hexdigest()
    for name, entry in review_files(source):
        data = Path(entry.path).read_bytes()
        digest.update(f"{name}\0{len(data)}\0".encode())
        digest.update(data)
    return digest.hexdigest()


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


def save_corpus(corpus: Corpus, path: Path, key: dict, content: str | None = None) -> None:
    """Write atomically (temporary file, then rename): a crash never leaves a half-written cache behind.
    ``content`` (:func:`content_digest`) lets the cache be found again once the files' dates change."""
    arrays = {
        f"{split}__{name}": getattr(raw, name)
        for split, raw in corpus.splits.items()
        for name in RawSplit.__dataclass_fields__
    }
    meta = {"key": key, "vocabulary_size": corpus.vocabulary_size, "invalid_utf8": corpus.invalid_utf8}
    if content is not None:
        meta["content"] = content
    with atomic_open(path) as f:
        np.savez(
            f, meta=np.array(json.dumps(meta)), word_index=np.array(json.dumps(corpus.word_index)), **arrays
        )


def load_cached_corpus(path: Path, key: dict, instead: str = "rebuilding it") -> Corpus | None:
    """The cached corpus (its ``meta`` naming ``path`` as ``cache_path``) if it is there, intact and made for
    ``key``; None (with a message ending in what is done ``instead``) otherwise."""
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
        log.warning("the encoded-data cache %s is unusable (%s); %s", path, err, instead)
        return None
    return Corpus(
        splits, meta["vocabulary_size"], meta["invalid_utf8"], {**meta, "cache_path": str(path)}, word_index
    )


def _cached_key(path: Path) -> dict | None:
    """The key the cache file at ``path`` was made for, read alone (no arrays); None if it is absent or
    unreadable."""
    return (_cached_meta(path) or {}).get("key")


def _cached_meta(path: Path) -> dict | None:
    """What the cache file at ``path`` says of itself (no arrays read); None if it is absent or unreadable."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            return json.loads(str(npz["meta"]))
    except Exception:  # noqa: BLE001 -- absent or unreadable: load_corpus rebuilds it and says so
        return None


def _same_reviews_cached(path: Path, key: dict, content: str) -> Corpus | None:
    """A cache made by this version from the same reviews and word index under an earlier fingerprint (the
    files copied or touched since), written again under ``path`` for ``key``; the one it came from is deleted
    when it was made for the same files, whose earlier dates no run will find again. None when there is none.
    """
    for other in sorted(path.parent.glob("imdb-ranks-*.npz")):
        meta = _cached_meta(other) if other != path else None
        if not meta or meta.get("content") != content:
            continue
        earlier = meta.get("key") or {}
        if dict(earlier, reviews=None) != dict(key, reviews=None):  # the same but for the files' dates
            continue
        corpus = load_cached_corpus(other, earlier, instead="looking further")
        if corpus is None:
            continue
        log.info("the reviews' files have new dates but the same content: their encoding is reused")
        corpus.meta.update(key=key, content=content)
        try:
            save_corpus(corpus, path, key, content)
        except OSError as err:
            log.warning("could not write the cache %s (%s); going on with %s", path, err, other)
            return corpus
        corpus.meta["cache_path"] = str(path)
        if (earlier.get("reviews") or {}).get("path") == key["reviews"].get("path"):
            other.unlink(missing_ok=True)
        return corpus
    # Another process (a sweep's other worker) may have found it first: written it under ``path``, deleted it.
    return load_cached_corpus(path, key)


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
    return load_located(locate_corpus(data_dir, word_index=word_index, download=download), cache=cache)


#: What :func:`locate_corpus` found: the reviews, the word index (or None) and their cache key.
Located = tuple[Path, Path | None, dict]


def load_located(located: Located, *, cache: bool = True) -> Corpus:
    """:func:`load_corpus` for data found already: an extracted folder's fingerprint stats every review
    file, which a run's data module would otherwise do again for each step."""
    source, index_path, key = located
    path = cache_path(key)
    corpus = load_cached_corpus(path, key) if cache else None
    if corpus is not None:
        return corpus
    content = None
    if cache:
        clear_stale_parts(path.parent)
        content = content_digest(source)
        corpus = _same_reviews_cached(path, key, content)
    if corpus is None:
        corpus = read_corpus(source, load_word_index(index_path) if index_path else None)
        corpus.meta.update(key=key, content=content)
        if cache:
            try:
                save_corpus(corpus, path, key, content)
                corpus.meta["cache_path"] = str(path)
            except OSError as err:
                log.warning("could not write the cache %s (%s); going on without it", path, err)
    corpus.meta["source"] = str(source)
    return corpus


def prepare_located(located: Located, *, cache: bool = True) -> None:
    """With ``cache``, encode the data found into the cache unless it is there: what a data module's
    ``prepare_data`` does. A cache made for this data is known by its key alone (its arrays are read, and
    checked, when the data is loaded); without ``cache`` there is nothing to keep."""
    if cache and _cached_key(cache_path(located[2])) != located[2]:
        load_located(located, cache=True)

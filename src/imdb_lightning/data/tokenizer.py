"""Keras-faithful text → id encoding for IMDB reviews.

Keras's published IMDB arrays follow three rules, all reproduced here: the Keras ``Tokenizer`` defaults split
text into words (lowercase, filters become spaces, split on the single space), the Keras word index ranks
them (``"the": 1``), and a word the index lacks is *dropped*, not marked out of vocabulary. Then
``imdb.load_data``'s id conventions apply (0 pad, 1 start, 2 OOV, ``index_from=3``). This module holds
those rules for a single review; :mod:`.corpus` applies the same functions to the whole data set at once.

>>> word_index = {"the": 1, "film": 2, "was": 3, "brilliant": 4}
>>> encode_review("The film was... brilliant, unseenword!", word_index)
[1, 4, 5, 6, 7]
>>> decode_review([1, 4, 5, 6, 7, 2], word_index)
'? the film was brilliant ?'
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from imdb_lightning.utils.errors import DataError

# The Keras ``Tokenizer``'s default ``filters``: each becomes a word separator (tab and newline included).
KERAS_FILTERS = '!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\t\n'
_TRANSLATION = str.maketrans({c: " " for c in KERAS_FILTERS})

#: Bumped whenever tokenization changes, so that cached encodings made by an older version are rebuilt.
#: 2: split on the single space only, words the index lacks dropped (Keras's arrays).
TOKENIZER_VERSION = 2


@dataclass(frozen=True)
class KerasEncoding:
    """``keras.datasets.imdb.load_data``'s settings, with its defaults: one value a data set is encoded by.

    ``num_words=None`` keeps every word (Keras: ids below the largest id present); ``maxlen`` drops reviews
    of ``maxlen`` ids or more; ``seed`` shuffles both splits.
    """

    num_words: int | None = None
    skip_top: int = 0
    maxlen: int | None = None
    seed: int = 113
    start_char: int | None = 1
    oov_char: int | None = 2
    index_from: int = 3

    def for_text(self) -> dict:
        """The settings that encode one review, as a checkpoint stores them (``KerasEncoding(**settings)``
        restores them)."""
        settings = asdict(self)
        del settings["maxlen"], settings["seed"]
        return settings


def tokenize(text: str) -> list[str]:
    """Split a review into words as the Keras ``Tokenizer`` does with its defaults (``split=" "``).

    Lowercase, replace every filter character by a space, split on the single space. Apostrophes stay inside
    words (``everyone's``) and ``<br />`` becomes the word ``br``. Other whitespace that is no filter
    (``\\x85``, a no-break space, ``\\r``) stays inside a word, as in Keras's arrays.

    >>> tokenize("A <br />fly-fishing  film, isn't it?")
    ['a', 'br', 'fly', 'fishing', 'film', "isn't", 'it']
    >>> tokenize("good\\x85bad")
    ['good\\x85bad']
    """
    return [word for word in text.lower().translate(_TRANSLATION).split(" ") if word]


def load_word_index(path: str | Path | None = None) -> dict[str, int]:
    """Read the Keras IMDB word index (word → frequency rank, ``"the": 1``).

    Without a path the index is looked up like the reviews: the data folder (``IMDB_LIGHTNING_DATA``), then
    the download cache, downloading it if allowed (see :func:`imdb_lightning.data.sources.find_word_index`).
    """
    if path is None:
        from imdb_lightning.data.sources import find_word_index

        path = find_word_index()
    path = Path(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise DataError(f"cannot read the word index {path}: {err}") from err
    return validate_word_index(raw, source=str(path))


#: Ranks are stored as 32-bit integers and offset by ``index_from``: a bound that leaves room for both.
MAX_RANK = 2**30


def validate_word_index(raw: object, *, source: str = "word index") -> dict[str, int]:
    """Check that ``raw`` maps words to distinct positive ranks, so that ids cannot collide silently."""
    if not isinstance(raw, dict) or not raw:
        raise DataError(f"{source}: expected a non-empty JSON object mapping words to ranks")
    bad = [
        (w, r)
        for w, r in raw.items()
        if not isinstance(r, int) or isinstance(r, bool) or not 1 <= r < MAX_RANK
    ]
    if bad:
        raise DataError(
            f"{source}: ranks must be integers in [1, 2**30), got e.g. {bad[0][0]!r}: {bad[0][1]!r}"
        )
    if len(set(raw.values())) != len(raw):
        raise DataError(f"{source}: two words share a rank; the index would give them the same id")
    return dict(raw)


def build_word_index(texts: Iterable[str]) -> dict[str, int]:
    """Rank words by their frequency in ``texts``, the way the Keras ``Tokenizer.fit_on_texts`` does.

    This is an *approximation* of the Keras IMDB word index: Keras ranked words over its own (unpublished)
    preprocessing of the reviews, so ranks of rare words, and of words whose counts tie, differ. Ties keep
    the order in which words were first seen, as Keras's stable sort does.

    >>> build_word_index(["b a b", "c b a"])
    {'b': 1, 'a': 2, 'c': 3}
    """
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update(tokenize(text))
    ranked = sorted(counts.items(), key=lambda item: item[1], reverse=True)
    return {word: rank for rank, (word, _) in enumerate(ranked, start=1)}


def ranks_of(tokens: Iterable[str], word_index: Mapping[str, int]) -> list[int]:
    """Word-index rank of each token the index knows; unknown words are dropped, as in Keras's arrays."""
    get = word_index.get
    return [rank for rank in map(get, tokens) if rank is not None]


#: The lecture's encoding: ``load_data(num_words=10000)``.
LECTURE_ENCODING = KerasEncoding(num_words=10000)


def apply_id_conventions(
    ranks: np.ndarray, offsets: np.ndarray, encoding: KerasEncoding = LECTURE_ENCODING
) -> tuple[np.ndarray, np.ndarray]:
    """Turn rank sequences into Keras ``imdb.load_data`` id sequences, for many reviews at once.

    ``ranks`` (each >= 1) holds every review's ranks back to back, review ``i`` being
    ``ranks[offsets[i]:offsets[i+1]]``. As Keras does: id = rank + ``index_from``; ``start_char`` leads each
    review; then every id outside ``[skip_top, num_words)`` — the start id included — becomes ``oov_char``,
    or is dropped when ``oov_char`` is None. ``num_words=None`` cuts nothing above (``load_data``'s own
    ``num_words=None``, the largest id present, is resolved by :func:`.corpus.encode_corpus`). ``maxlen``
    and ``seed`` act on whole reviews, elsewhere. Returns ``(ids, offsets)`` in the same layout.
    """
    e = encoding
    num_words, skip_top, start_char, oov_char, index_from = (
        e.num_words,
        e.skip_top,
        e.start_char,
        e.oov_char,
        e.index_from,
    )
    ids = np.asarray(ranks, dtype=np.int32) + np.int32(index_from)  # int32: a fifth of int64's time on 6M ids
    offsets = np.asarray(offsets, dtype=np.int64)
    if start_char is not None:
        ids = np.insert(ids, offsets[:-1], start_char)
        offsets = offsets + np.arange(len(offsets), dtype=np.int64)
    keep = ids >= skip_top
    if num_words is not None:
        keep &= ids < num_words
    if oov_char is not None:
        ids = np.where(keep, ids, oov_char)
    elif not keep.all():
        lengths = np.diff(offsets)
        segment = np.repeat(np.arange(len(lengths)), lengths)
        ids = ids[keep]
        kept = np.bincount(segment[keep], minlength=len(lengths))
        offsets = np.concatenate([[0], np.cumsum(kept)]).astype(np.int64)
    return ids.astype(np.int32, copy=False), offsets


def encode_review(
    text: str, word_index: Mapping[str, int], encoding: KerasEncoding = LECTURE_ENCODING
) -> list[int]:
    """Encode one review exactly as the data set's reviews are encoded (see :func:`apply_id_conventions`).

    >>> encode_review("the film noword", {"the": 1, "film": 20000})
    [1, 4, 2]
    """
    ranks = np.asarray(ranks_of(tokenize(text), word_index), dtype=np.int64)
    ids, _ = apply_id_conventions(ranks, np.array([0, len(ranks)]), encoding)
    return ids.tolist()


def decode_review(ids: Sequence[int], word_index: Mapping[str, int], *, index_from: int = 3) -> str:
    """Turn ids back into words, as the lecture does; reserved and unknown ids read as ``?``."""
    reverse = {rank: word for word, rank in word_index.items()}
    return " ".join(reverse.get(int(i) - index_from, "?") for i in ids)

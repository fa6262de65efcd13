"""``keras.datasets.imdb.load_data``, rebuilt from the raw reviews: the same arrays, with no Keras installed.

>>> (x_train, y_train), (x_test, y_test) = load_data(num_words=10000)  # doctest: +SKIP
>>> x_train[0][:6], y_train[0]                                           # doctest: +SKIP
([1, 14, 22, 16, 43, 530], 1)
"""

from __future__ import annotations

import gc
from pathlib import Path

import numpy as np

from imdb_lightning.data.cache import load_corpus
from imdb_lightning.data.corpus import EncodedSplit, encode_corpus
from imdb_lightning.data.tokenizer import KerasEncoding


def load_data(
    path: str | Path | None = None,
    num_words: int | None = None,
    skip_top: int = 0,
    maxlen: int | None = None,
    seed: int = 113,
    start_char: int | None = 1,
    oov_char: int | None = 2,
    index_from: int = 3,
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """``(x_train, y_train), (x_test, y_test)`` exactly as ``keras.datasets.imdb.load_data`` returns them.

    ``x_*`` are object arrays of int lists (each review's ids), ``y_*`` int64 labels (1 = positive). The
    settings mean what Keras's mean, cut over train and test together: ``num_words=None`` keeps ids below
    the largest id of both splits, ``maxlen`` drops (does not truncate) reviews of ``maxlen`` ids or more.
    Unlike Keras's ``path`` (a file name in its cache), ``path`` here is the data folder: ``aclImdb/`` or its
    tarball plus ``imdb_word_index.json``; None looks in ``$IMDB_LIGHTNING_DATA``, then the download cache.

    The reviews are read and ranked once into a cache (a few seconds); later calls take well under a second.
    The :class:`~imdb_lightning.data.IMDBDataModule` serves the same arrays (:func:`.corpus.encode_corpus`).
    """
    encoding = KerasEncoding(num_words, skip_top, maxlen, seed, start_char, oov_char, index_from)
    train, test, _ = encode_corpus(load_corpus(path), encoding)
    return _as_keras(train), _as_keras(test)


def _as_keras(split: EncodedSplit) -> tuple[np.ndarray, np.ndarray]:
    flat, bounds = split.ids.tolist(), split.offsets.tolist()
    sequences = np.empty(len(split), dtype=object)  # filled one by one: np.array would make equal lengths 2-D
    was_enabled = gc.isenabled()
    gc.disable()  # 25,000 new lists would set off collections that walk every one made so far
    try:
        for i in range(len(split)):
            sequences[i] = flat[bounds[i] : bounds[i + 1]]
    finally:
        if was_enabled:
            gc.enable()
    return sequences, split.labels.astype(np.int64)

"""IMDB reviews the way the lecture's Keras code sees them: encoding, sources, cache and DataModule.

The names below load with their modules when first used: the data's settings (:mod:`.settings`) and sources
are read before PyTorch loads, and the data module needs Lightning."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

#: Each public name and the module that defines it.
_HOMES = {
    "load_corpus": "imdb_lightning.data.cache",
    "EncodedSplit": "imdb_lightning.data.corpus",
    "encode_corpus": "imdb_lightning.data.corpus",
    "IMDBDataModule": "imdb_lightning.data.datamodule",
    "load_data": "imdb_lightning.data.imdb",
    "BatchLoader": "imdb_lightning.data.loader",
    "cache_dir": "imdb_lightning.data.sources",
    "KerasEncoding": "imdb_lightning.data.tokenizer",
    "build_word_index": "imdb_lightning.data.tokenizer",
    "decode_review": "imdb_lightning.data.tokenizer",
    "encode_review": "imdb_lightning.data.tokenizer",
    "load_word_index": "imdb_lightning.data.tokenizer",
    "tokenize": "imdb_lightning.data.tokenizer",
    "CompactBatch": "imdb_lightning.network.batches",
    "multi_hot": "imdb_lightning.network.batches",
    "DataError": "imdb_lightning.utils.errors",
}

__all__ = [
    "BatchLoader",
    "CompactBatch",
    "DataError",
    "EncodedSplit",
    "IMDBDataModule",
    "KerasEncoding",
    "build_word_index",
    "cache_dir",
    "decode_review",
    "encode_corpus",
    "encode_review",
    "load_corpus",
    "load_data",
    "load_word_index",
    "multi_hot",
    "tokenize",
]


def __getattr__(name: str):
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_HOMES[name]), name)
    globals()[name] = value  # once found, an attribute like any other
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_HOMES))


if TYPE_CHECKING:
    from imdb_lightning.data.cache import load_corpus
    from imdb_lightning.data.corpus import EncodedSplit, encode_corpus
    from imdb_lightning.data.datamodule import IMDBDataModule
    from imdb_lightning.data.imdb import load_data
    from imdb_lightning.data.loader import BatchLoader
    from imdb_lightning.data.sources import cache_dir
    from imdb_lightning.data.tokenizer import (
        KerasEncoding,
        build_word_index,
        decode_review,
        encode_review,
        load_word_index,
        tokenize,
    )
    from imdb_lightning.network.batches import CompactBatch, multi_hot
    from imdb_lightning.utils.errors import DataError

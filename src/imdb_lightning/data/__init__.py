"""IMDB reviews the way the lecture's Keras code sees them: encoding, sources, cache and DataModule."""

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
    "encode_review",
    "encode_corpus",
    "load_corpus",
    "load_data",
    "load_word_index",
    "multi_hot",
    "tokenize",
]

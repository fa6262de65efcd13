"""IMDB reviews the way the lecture's Keras code sees them: encoding, sources, cache and DataModule."""

from imdb_lightning.data.corpus import EncodedSplit, encode_split, load_corpus
from imdb_lightning.data.datamodule import BatchLoader, CompactBatch, IMDBDataModule, multi_hot
from imdb_lightning.data.sources import cache_dir
from imdb_lightning.errors import DataError
from imdb_lightning.data.tokenizer import build_word_index, decode_review, encode_review, load_word_index, tokenize

__all__ = [
    "BatchLoader",
    "CompactBatch",
    "DataError",
    "EncodedSplit",
    "IMDBDataModule",
    "build_word_index",
    "cache_dir",
    "decode_review",
    "encode_review",
    "encode_split",
    "load_corpus",
    "load_word_index",
    "multi_hot",
    "tokenize",
]

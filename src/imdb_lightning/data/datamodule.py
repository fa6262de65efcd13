"""IMDB as a LightningDataModule that serves the lecture's multi-hot batches without a dense copy of the data.

The lecture builds ``vectorize_sequences(train_data)``: a 25,000 × 10,000 float64 matrix (2 GB) before
training starts. Here every split stays in its compact form (each review's distinct ids back to back +
offsets), preloaded on the model's device, and each batch is made from a slice of it when it is served:
``(x, y)`` with ``x`` the lecture's multi-hot rows (``batch_format="dense"``, the default), or, for a model
that declares ``accepts_bags``, the :class:`~imdb_lightning.network.batches.CompactBatch` itself
(``"bag"``): our model sums its first layer's kernel rows for the ids (``x @ kernel`` of a multi-hot row is
exactly that sum), which skips the 10,000-wide rows altogether. ``"auto"`` (the run's config) picks the bag on
a CPU for such a model, and dense rows otherwise.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, fields
from pathlib import Path

import lightning as L
import numpy as np
import torch

from imdb_lightning.data.cache import Located, load_located, locate_corpus, prepare_located
from imdb_lightning.data.corpus import Corpus, EncodedSplit, encode_corpus
from imdb_lightning.data.loader import BatchLoader
from imdb_lightning.data.settings import DATA_RULES
from imdb_lightning.data.tokenizer import KerasEncoding
from imdb_lightning.utils.checks import require
from imdb_lightning.utils.errors import ConfigError

log = logging.getLogger(__name__)


#: The settings that choose which reviews validate and how a review is encoded (a resumed run must keep them):
#: the encoding's, the word index and the validation size.
SPLIT_SETTINGS = (*(f.name for f in fields(KerasEncoding)), "word_index", "val_size")


@dataclass(frozen=True)
class PreparedSplits:
    """Everything a data module serves, made from the corpus for one set of settings."""

    splits: dict[str, EncodedSplit]
    bags: dict[str, EncodedSplit]  # each review's distinct ids: what the loaders serve
    width: int  # num_words, resolved
    vocabulary_size: int
    cache_path: str | None
    invalid_utf8: int
    word_index_json: str
    oov_words_json: str


# What this process prepared last: a sweep's jobs with the same data settings share it instead of reading and
# encoding the corpus again (about 0.4 s a job). One entry, so memory stays that of one data set.
_PREPARED_MEMO: dict[tuple, PreparedSplits] = {}


def prepare(corpus: Corpus, encoding: KerasEncoding, val_size: int) -> PreparedSplits:
    """Keras's arrays for ``encoding``, split into validation (the first ``val_size``), train and test."""
    largest = corpus.vocabulary_size + encoding.index_from + 1
    if encoding.num_words is not None and encoding.num_words > largest:
        raise ConfigError(
            f"data.num_words={encoding.num_words} exceeds the vocabulary: {corpus.vocabulary_size} words + "
            f"index_from {encoding.index_from} allow at most {largest} (or num_words=null for all of them)"
        )
    try:
        train, test, width = encode_corpus(corpus, encoding)
    except ConfigError as err:  # it names load_data's keyword (maxlen=...); users type data.maxlen=...
        raise ConfigError(f"data.{err}") from None
    if not 0 < val_size < len(train):
        raise ConfigError(
            f"data.val_size must be in (0, {len(train)}) (the training reviews), got {val_size}"
        )
    splits = {
        "val": train.take(np.arange(val_size)),
        "train": train.take(np.arange(val_size, len(train))),
        "test": test,
    }
    # New text is encoded with the words an id is kept for and, as out of vocabulary, the known words rarer
    # than that (words the index lacks are dropped). Serialized once: torch.save pickles a JSON string ten
    # times faster than a dict, and every checkpoint carries it.
    rank_limit = width - encoding.index_from
    return PreparedSplits(
        splits=splits,
        # A multi-hot row records presence only, so both batch formats are served from each review's distinct
        # ids (made here, before any timed fit).
        bags={name: split.distinct() for name, split in splits.items()},
        width=width,
        vocabulary_size=corpus.vocabulary_size,
        cache_path=corpus.meta.get("cache_path"),
        invalid_utf8=corpus.invalid_utf8,
        word_index_json=json.dumps({w: r for w, r in corpus.word_index.items() if r < rank_limit}),
        oov_words_json=json.dumps([w for w, r in corpus.word_index.items() if r >= rank_limit]),
    )


class IMDBDataModule(L.LightningDataModule):
    """The lecture's splits as multi-hot batches.

    The reviews are Keras's arrays, ``keras.datasets.imdb.load_data(seed=113, ...)`` review for review
    (:func:`imdb_lightning.data.load_data` returns the same arrays): the first ``val_size`` shuffled training
    reviews become validation (the lecture's ``x_train[:10000]``), the remaining ones the training set; the
    test reviews are the 25,000 test files. Training batches are reshuffled every epoch from ``shuffle_seed``
    (default: ``seed``). Batches are ``(x, y)``: ``x`` multi-hot float32
    ``[batch, num_words]``, ``y`` float32 0/1.

    >>> dm = IMDBDataModule(data_dir="../shared/data")  # doctest: +SKIP
    >>> dm.prepare_data(); dm.setup("fit")               # doctest: +SKIP
    """

    def __init__(
        self,
        data_dir: str | Path | None = None,
        *,
        num_words: int | None = 10000,
        skip_top: int = 0,
        maxlen: int | None = None,
        start_char: int | None = 1,
        oov_char: int | None = 2,
        index_from: int = 3,
        word_index: str = "keras",
        val_size: int = 10000,
        batch_size: int = 512,
        eval_batch_size: int | None = None,
        seed: int = 113,
        shuffle_seed: int | None = None,
        batch_format: str = "dense",
        download: bool = True,
        cache: bool = True,
    ) -> None:
        super().__init__()
        self.save_hyperparameters(logger=False)  # train() logs the whole config once
        for key, rule in DATA_RULES.items():  # the arguments as saved: one list of settings, the signature
            require(f"data.{key}", self.hparams[key], rule)
        self.encoding = KerasEncoding(num_words, skip_top, maxlen, seed, start_char, oov_char, index_from)
        self.splits: dict[str, EncodedSplit] = {}
        self.bags: dict[str, EncodedSplit] = {}  # each review's distinct ids: what the loaders serve
        self.vocabulary_size: int | None = None
        self._width: int | None = None  # num_words once resolved (Keras: null = the largest id present)
        self.cache_path: str | None = None
        self.invalid_utf8 = 0
        self._word_index_json = "{}"  # the word index new text is encoded with (see state_dict)
        self._oov_words_json = "[]"

    @property
    def num_words(self) -> int:
        """Width of a multi-hot row: ``num_words``; when that is None, Keras's: the largest id in the data."""
        if self._width is not None:
            return self._width
        if self.hparams.num_words is not None:
            return int(self.hparams.num_words)
        raise RuntimeError(
            "call setup() first: with num_words=null the width is known once the data is loaded"
        )

    def _located(self) -> Located:
        """The data this module's settings find, looked for once a step (an extracted folder's every file
        is stat'ed)."""
        hp = self.hparams
        return locate_corpus(hp.data_dir, word_index=hp.word_index, download=hp.download)

    def _memo_key(self, located: Located) -> tuple:
        """What this module's splits depend on: the data found (with its files' stats) and the settings."""
        hp = self.hparams
        return (json.dumps(located[2], sort_keys=True), hp.cache, self.encoding, hp.val_size)

    def prepare_data(self) -> None:
        """Find or download the data and encode it into the cache (once; no state is kept here).

        Nothing to do once the splits are loaded, or prepared in this process already: ``train()`` sets up
        before fitting, and ``Trainer.fit`` calls this again.
        """
        if self.splits:
            return
        located = self._located()
        if self._memo_key(located) not in _PREPARED_MEMO:
            prepare_located(located, cache=self.hparams.cache)

    def setup(self, stage: str | None = None) -> None:
        if self.splits:
            return
        located = self._located()
        key = self._memo_key(located)
        prepared = _PREPARED_MEMO.get(key)
        if prepared is None:
            hp = self.hparams
            prepared = prepare(load_located(located, cache=hp.cache), self.encoding, hp.val_size)
            _PREPARED_MEMO.clear()  # one data set at a time: a sweep over num_words keeps the current one
            _PREPARED_MEMO[key] = prepared
        self.splits, self.bags, self._width = prepared.splits, prepared.bags, prepared.width
        self.vocabulary_size, self.cache_path = prepared.vocabulary_size, prepared.cache_path
        self.invalid_utf8 = prepared.invalid_utf8
        self._word_index_json, self._oov_words_json = prepared.word_index_json, prepared.oov_words_json
        log.info("IMDB splits: %s", {name: len(split) for name, split in self.splits.items()})

    @property
    def device(self) -> torch.device:
        """Where the model runs (the Trainer's device once attached; the CPU for plain loops)."""
        trainer = self.trainer
        return trainer.strategy.root_device if trainer is not None else torch.device("cpu")

    def resolved_batch_format(self) -> str:
        """``dense`` multi-hot rows or ``bag`` of distinct ids. ``auto`` is the bag where it is faster, on a
        CPU, and only for a model that reads it (``accepts_bags``, as :class:`IMDBClassifier` does)."""
        if self.hparams.batch_format != "auto":
            return self.hparams.batch_format
        return "bag" if self.device.type == "cpu" and getattr(self._model, "accepts_bags", False) else "dense"

    @property
    def _model(self) -> L.LightningModule | None:
        """The model being trained or evaluated, which says how it reads batches (None outside a Trainer)."""
        return self.trainer.lightning_module if self.trainer is not None else None

    def state_dict(self) -> dict:
        """Saved in every checkpoint: how to encode new text exactly as the training reviews were."""
        encoding = {**self.encoding.for_text(), "num_words": self.num_words}
        return {
            "encoding": encoding,
            "width": self.num_words,
            "word_index_json": self._word_index_json,
            "oov_words_json": self._oov_words_json,
            "shuffle_seed": self.shuffle_seed,
        }

    def load_state_dict(self, state_dict: dict) -> None:
        """A resumed run continues the checkpointed one: its later epochs come in the checkpoint's order,
        whatever ``seed`` the resuming command gives (the weights, optimizer and dropout generator are
        restored too)."""
        self._word_index_json = state_dict.get("word_index_json", self._word_index_json)
        self._oov_words_json = state_dict.get("oov_words_json", self._oov_words_json)
        if "shuffle_seed" in state_dict:
            self.hparams.shuffle_seed = state_dict["shuffle_seed"]

    @property
    def shuffle_seed(self) -> int:
        """The seed of the training batches' per-epoch order (``data.shuffle_seed``, else ``data.seed``)."""
        hp = self.hparams
        return hp.seed if hp.shuffle_seed is None else hp.shuffle_seed

    def loader(self, split: str, *, shuffle: bool = False) -> BatchLoader:
        if not self.splits:
            raise RuntimeError("call setup() before asking for a loader")
        hp = self.hparams
        data = self.bags[split]
        batch_size = hp.batch_size if split == "train" or hp.eval_batch_size is None else hp.eval_batch_size
        # Under DDP each process takes its share of every epoch (Lightning shards only torch DataLoaders).
        shard = (self.trainer.global_rank, self.trainer.world_size) if self.trainer is not None else (0, 1)
        return BatchLoader(
            data,
            batch_size,
            shuffle=shuffle,
            seed=self.shuffle_seed,
            device=self.device,
            shard=shard,
            batch_format=self.resolved_batch_format(),
            width=self.num_words,
            # The model runs this many batches a Lightning step (IMDBClassifier.steps_per_execution).
            steps_per_execution=getattr(self._model, "steps_per_execution", 1),
        )

    def train_dataloader(self) -> BatchLoader:
        return self.loader("train", shuffle=True)

    def val_dataloader(self) -> BatchLoader:
        return self.loader("val")

    def test_dataloader(self) -> BatchLoader:
        return self.loader("test")

    def transfer_batch_to_device(self, batch, device: torch.device, dataloader_idx: int):
        """Loaders already live on the model's device: skip Lightning's walk over the batch."""
        if isinstance(batch, tuple) and len(batch) == 2 and batch[1].device == device:
            return batch
        return super().transfer_batch_to_device(batch, device, dataloader_idx)

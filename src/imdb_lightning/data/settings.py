"""What the data module's settings must be, as rules a config can be checked against before PyTorch loads
(:func:`imdb_lightning.config.rules.check_values`) and the data module checks when made."""

from __future__ import annotations

from imdb_lightning.utils.checks import (
    BOOLEAN,
    NON_NEGATIVE_INTEGER,
    POSITIVE_INTEGER,
    SEED,
    Rule,
    at_least,
    one_of,
)

#: How the data module can serve batches (:mod:`imdb_lightning.network.batches`).
BATCH_FORMATS = ("auto", "dense", "bag")
#: The smallest vocabulary: ids 0-2 are reserved (pad, start, OOV), 3 is the first word.
MIN_NUM_WORDS = 4

#: :class:`~imdb_lightning.data.datamodule.IMDBDataModule`'s settings.
DATA_RULES: dict[str, Rule] = {
    "num_words": at_least(MIN_NUM_WORDS).or_null(),
    "skip_top": NON_NEGATIVE_INTEGER,
    "maxlen": POSITIVE_INTEGER.or_null(),
    "start_char": NON_NEGATIVE_INTEGER.or_null(),
    "oov_char": NON_NEGATIVE_INTEGER.or_null(),
    "index_from": NON_NEGATIVE_INTEGER,
    "word_index": one_of(("keras", "corpus")),
    "val_size": POSITIVE_INTEGER,
    "batch_size": POSITIVE_INTEGER,
    "eval_batch_size": POSITIVE_INTEGER.or_null(),
    "seed": SEED,
    "shuffle_seed": SEED.or_null(),
    "batch_format": one_of(BATCH_FORMATS),
    "download": BOOLEAN,
    "cache": BOOLEAN,
}

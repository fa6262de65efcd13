"""What the classifier's numeric and flag settings must be, as rules a config can be checked against before
PyTorch loads (:func:`imdb_lightning.config.rules.check_values`) and the classifier checks when made."""

from __future__ import annotations

from imdb_lightning.utils.checks import (
    BOOLEAN,
    FRACTION,
    NON_NEGATIVE_NUMBER,
    POSITIVE_INTEGER,
    POSITIVE_INTEGERS,
    POSITIVE_NUMBER,
    Rule,
)

#: :class:`~imdb_lightning.network.model.IMDBClassifier`'s settings that are numbers or flags (its names,
#: ``activation`` and ``init``, are checked where their lists live).
MODEL_RULES: dict[str, Rule] = {
    "hidden_sizes": POSITIVE_INTEGERS,
    "dropout": FRACTION,
    "batchnorm": BOOLEAN,
    "l1": NON_NEGATIVE_NUMBER,
    "l2": NON_NEGATIVE_NUMBER,
    "init_scale": POSITIVE_NUMBER.or_null(),
    "steps_per_execution": POSITIVE_INTEGER,
}

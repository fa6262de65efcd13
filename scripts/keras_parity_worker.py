#!/usr/bin/env python
"""The Keras side of ``keras_parity.py``: runs in an interpreter with TensorFlow/Keras and numpy only.

    KERAS_PYTHON keras_parity_worker.py EXCHANGE_DIR

Reads ``EXCHANGE_DIR/data.npz`` (the splits as ids + offsets, labels, every epoch's training order) and
``EXCHANGE_DIR/variants.json``; for each variant builds the lecture's Keras model, saves its initial weights,
trains it on those batches in that order and writes ``keras_<variant>.npz`` (weights at the start and after
each epoch asked for) and ``keras_<variant>.json`` (the History and the versions). For the dropout check it
writes ``keras_dropout.npz``: a Dropout layer's training-mode output on ones, and the dropout model's
eval-mode output on validation rows, with its initial weights.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers, regularizers  # noqa: E402

OPTIMIZERS = {
    "sgd": lambda: keras.optimizers.SGD(),
    "momentum": lambda: keras.optimizers.SGD(momentum=0.9),
    "nesterov": lambda: keras.optimizers.SGD(momentum=0.9, nesterov=True),
    "adagrad": lambda: keras.optimizers.Adagrad(),
    "rmsprop": lambda: keras.optimizers.RMSprop(),
    "adam": lambda: keras.optimizers.Adam(),
    "adamw": lambda: keras.optimizers.AdamW(),
    "nadam": lambda: keras.optimizers.Nadam(),
    "adadelta": lambda: keras.optimizers.Adadelta(),
    "adamax": lambda: keras.optimizers.Adamax(),
}


def multi_hot(ids: np.ndarray, offsets: np.ndarray, width: int) -> np.ndarray:
    """The lecture's ``vectorize_sequences``, as float32 (Keras's floatx)."""
    out = np.zeros((len(offsets) - 1, width), dtype=np.float32)
    rows = np.repeat(np.arange(len(offsets) - 1), np.diff(offsets))
    out[rows, ids] = 1.0
    return out


def build(width: int, variant: dict) -> keras.Model:
    """The lecture's model: Dense(16, relu) x2 (then BatchNormalization or Dropout) -> Dense(1, sigmoid)."""
    regularizer = None
    if variant.get("l1") or variant.get("l2"):
        regularizer = regularizers.L1L2(l1=variant.get("l1", 0.0), l2=variant.get("l2", 0.0))
    stack = [layers.Input((width,))]
    for i in (1, 2):
        stack.append(layers.Dense(16, activation="relu", kernel_regularizer=regularizer, name=f"hidden_{i}"))
        if variant.get("batchnorm"):
            stack.append(layers.BatchNormalization(name=f"batch_normalization_{i}"))
        if variant.get("dropout"):
            stack.append(layers.Dropout(variant["dropout"], name=f"dropout_{i}"))
    stack.append(layers.Dense(1, activation="sigmoid", name="output"))
    return keras.Sequential(stack)


def weights(model: keras.Model) -> dict[str, np.ndarray]:
    """``layer/variable`` -> value, with Keras's own variable names (kernel, bias, gamma, moving_mean,
    ...)."""
    return {f"{layer.name}/{w.name}": np.asarray(w.numpy()) for layer in model.layers for w in layer.weights}


def run_variant(name: str, variant: dict, data: dict, out: Path) -> None:
    keras.utils.set_random_seed(variant.get("seed", 0))
    width = int(data["width"])
    x_train, y_train = data["x_train"], data["train_labels"]
    x_val, y_val = data["x_val"], data["val_labels"]
    model = build(width, variant)
    model.compile(
        optimizer=OPTIMIZERS[variant["optimizer"]](), loss="binary_crossentropy", metrics=["accuracy"]
    )
    saved = {f"start/{k}": v for k, v in weights(model).items()}
    history: dict[str, list[float]] = {}
    snapshots = set(variant["snapshot_epochs"])
    for epoch, order in enumerate(data["orders"][: variant["epochs"]], start=1):
        fit = model.fit(
            x_train[order],
            y_train[order],
            batch_size=variant["batch_size"],
            epochs=1,
            shuffle=False,
            validation_data=(x_val, y_val),
            verbose=0,
        )
        for key, values in fit.history.items():
            history.setdefault(key, []).extend(float(v) for v in values)
        if epoch in snapshots:
            saved.update({f"epoch{epoch}/{k}": v for k, v in weights(model).items()})
    np.savez(out / f"keras_{name}.npz", **saved)
    (out / f"keras_{name}.json").write_text(json.dumps({"history": history}))


def dropout_check(variant: dict, data: dict, out: Path) -> None:
    """What can be compared without shared masks: training-mode scaling and eval-mode outputs."""
    keras.utils.set_random_seed(variant.get("seed", 0))
    ones = np.ones((4096, 16), dtype=np.float32)
    trained = np.asarray(layers.Dropout(variant["dropout"])(ones, training=True))
    model = build(int(data["width"]), variant)
    rows = data["x_val"][: variant["eval_rows"]]
    saved = {f"start/{k}": v for k, v in weights(model).items()}
    np.savez(
        out / "keras_dropout.npz",
        training_on_ones=trained,
        eval_probabilities=np.asarray(model(rows, training=False)),
        **saved,
    )


def main() -> int:
    out = Path(sys.argv[1])
    raw = np.load(out / "data.npz")
    width = int(raw["width"])
    data = {
        "width": width,
        "x_train": multi_hot(raw["train_ids"], raw["train_offsets"], width),
        "train_labels": raw["train_labels"].astype(np.float32),
        "x_val": multi_hot(raw["val_ids"], raw["val_offsets"], width),
        "val_labels": raw["val_labels"].astype(np.float32),
        "orders": raw["orders"],
    }
    variants = json.loads((out / "variants.json").read_text())
    for name, variant in variants.items():
        print(f"keras: {name}", file=sys.stderr, flush=True)
        if name == "dropout":
            dropout_check(variant, data, out)
        else:
            run_variant(name, variant, data, out)
    versions = {
        "keras": keras.__version__,
        "keras backend": keras.backend.backend(),
        "numpy (Keras side)": np.__version__,
    }
    try:
        import tensorflow as tf

        versions["tensorflow"] = tf.__version__
    except ImportError:
        pass
    (out / "keras_versions.json").write_text(json.dumps(versions))
    return 0


if __name__ == "__main__":
    sys.exit(main())

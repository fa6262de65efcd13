#!/usr/bin/env python
"""Our model against the lecture's Keras model, epoch by epoch, from the same weights on the same batches.

    IMDB_LIGHTNING_DATA=../shared/data python scripts/keras_parity.py --keras-python
    /path/to/tf-venv/bin/python \
        [--variants baseline,l2,...] [--epochs 20] [--markdown docs/keras_parity.md]

For each variant the Keras interpreter (TensorFlow/Keras and numpy only: ``keras_parity_worker.py``) builds
the lecture's model, saves its initial weights and trains it; we copy those weights into our model and train
it with our own Trainer, DataModule and optimizer config on the same batches: each epoch's order is our
loader's, sent to Keras, which fits one epoch at a time without shuffling. Data, weights and Histories travel
through ``.npz``/JSON files in a temporary folder. Dropout cannot share masks across frameworks, so it is
compared by its training-mode scaling and the eval-mode outputs of identical weights.

Beside each comparison stands a noise floor: our model against itself on the other batch format (the bag of
ids against multi-hot rows: the same arithmetic summed in another order). Where Keras-vs-ours is of the order
of that floor, the difference is float rounding amplified by training, not a difference in semantics.

Reported per variant: max |Δ| of each History key at epochs 1, 5 and the last, and the largest relative weight
difference (max |ours - Keras| / max |Keras| over the model's tensors) after epoch 1 and the last.
Targets: |Δ loss| and |Δ val_loss| <= 1e-4 after epoch 1; after 20 epochs val_accuracy within 0.005 and
val_loss within 3%. The last line printed is one JSON object of the figures.
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import hydra
import lightning as L
import numpy as np
import torch
from hydra import compose, initialize_config_dir

from imdb_lightning.config.files import CONFIG_DIR
from imdb_lightning.data import IMDBDataModule
from imdb_lightning.running.history import KerasHistory

WORKER = Path(__file__).with_name("keras_parity_worker.py")
HISTORY_KEYS = ("loss", "accuracy", "val_loss", "val_accuracy")
# variant -> (our experiment, the Keras optimizer it is compared with: Keras's defaults, as our configs)
VARIANTS = {
    "baseline": ("baseline", "rmsprop"),
    "l1": ("l1", "rmsprop"),
    "l2": ("l2", "rmsprop"),
    "l1l2": ("l1l2", "rmsprop"),
    "batchnorm": ("batchnorm", "rmsprop"),
    **{
        name: (f"opt_{name}", name)
        for name in (
            "sgd",
            "momentum",
            "nesterov",
            "adagrad",
            "rmsprop",
            "adam",
            "adamw",
            "nadam",
            "adadelta",
            "adamax",
        )
    },
    "dropout": ("dropout", "rmsprop"),
}
# Our parameter or buffer name <- Keras's variable name, per layer kind.
KERAS_NAMES = {
    "kernel": "kernel",
    "bias": "bias",
    "weight": "gamma",
    "running_mean": "moving_mean",
    "running_var": "moving_variance",
}
TARGETS = {
    "epoch1_loss": 1e-4,
    "epoch1_val_loss": 1e-4,
    "final_val_accuracy": 0.005,
    "final_val_loss_rel": 0.03,
}


def composed(experiment: str, overrides: list[str]):
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        return compose(config_name="train", overrides=[f"+experiment={experiment}", *overrides])


def keras_name(ours: str) -> str | None:
    """``net.hidden_1.kernel`` -> ``hidden_1/kernel``; BatchNorm1d's ``weight``/``bias`` ->
    ``gamma``/``beta``."""
    _, layer, name = ours.split(".")
    if name not in KERAS_NAMES:
        return None  # num_batches_tracked: Keras has no such variable
    if layer.startswith("batch_normalization") and name == "bias":
        return f"{layer}/beta"
    return f"{layer}/{KERAS_NAMES[name]}"


def load_keras_weights(model: torch.nn.Module, saved: dict, prefix: str) -> None:
    state = model.net.state_dict()
    for name in state:
        key = keras_name(f"net.{name}")
        if key is not None:
            state[name] = torch.from_numpy(np.ascontiguousarray(saved[f"{prefix}/{key}"])).reshape(
                state[name].shape
            )
    model.net.load_state_dict(state)


def weight_difference(model: torch.nn.Module, saved: dict, prefix: str) -> tuple[float, str]:
    """The largest relative difference over the model's tensors, and the Keras name of that tensor."""
    worst, where = 0.0, ""
    for name, ours in model.net.state_dict().items():
        key = keras_name(f"net.{name}")
        if key is None:
            continue
        theirs = np.asarray(saved[f"{prefix}/{key}"]).reshape(tuple(ours.shape))
        difference = float(np.abs(ours.numpy() - theirs).max() / max(np.abs(theirs).max(), 1e-12))
        if difference > worst:
            worst, where = difference, key
    return worst, where


class Recorder(KerasHistory):
    """The Keras History, plus copies of the weights after the epochs asked for."""

    def __init__(self, folder: Path, snapshot_epochs: set[int]) -> None:
        super().__init__(folder, plots=False)
        self.snapshot_epochs, self.snapshots = snapshot_epochs, {}

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        super().on_train_epoch_end(trainer, pl_module)
        if trainer.current_epoch + 1 in self.snapshot_epochs:
            self.snapshots[trainer.current_epoch + 1] = {
                k: v.clone() for k, v in pl_module.net.state_dict().items()
            }


def train_ours(
    cfg, dm: IMDBDataModule, saved: dict, epochs: int, snapshots: set[int], folder: Path
) -> Recorder:
    L.seed_everything(cfg.seed, verbose=False)
    optimizer = hydra.utils.instantiate(cfg.optimizer, _convert_="all")
    model = hydra.utils.instantiate(cfg.model, input_dim=dm.num_words, optimizer=optimizer, scheduler=None)
    load_keras_weights(model, saved, "start")
    recorder = Recorder(folder, snapshots)
    trainer = hydra.utils.instantiate(
        cfg.trainer,
        max_epochs=epochs,
        callbacks=[recorder],
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        default_root_dir=str(folder),
    )
    trainer.fit(model, datamodule=dm)
    recorder.model = model
    return recorder


def floor_row(ours: Recorder, other: Recorder, epochs: int) -> dict:
    """Our run against our run on the other batch format: what float summation order alone changes."""
    row = {f"floor_epoch1_{k}": abs(ours.history[k][0] - other.history[k][0]) for k in ("loss", "val_loss")}
    row["floor_final_val_accuracy"] = abs(
        ours.history["val_accuracy"][-1] - other.history["val_accuracy"][-1]
    )
    row["floor_final_val_loss_rel"] = (
        abs(ours.history["val_loss"][-1] - other.history["val_loss"][-1]) / other.history["val_loss"][-1]
    )
    for epoch, state in ours.snapshots.items():
        row[f"floor_weights_epoch{epoch}"] = max(
            float(
                (v - other.snapshots[epoch][k]).abs().max()
                / other.snapshots[epoch][k].abs().max().clamp_min(1e-12)
            )
            for k, v in state.items()
            if keras_name(f"net.{k}") is not None
        )
    return row


def compare(name: str, ours: Recorder, keras_history: dict, saved: dict, epochs: int) -> dict:
    row: dict = {"variant": name}
    for epoch in sorted({1, min(5, epochs), epochs}):
        for key in HISTORY_KEYS:
            row[f"epoch{epoch}_{key}"] = abs(ours.history[key][epoch - 1] - keras_history[key][epoch - 1])
    last = epochs
    row["final_val_loss_rel"] = row[f"epoch{last}_val_loss"] / keras_history["val_loss"][last - 1]
    for epoch, state in ours.snapshots.items():
        ours.model.net.load_state_dict(state)
        row[f"weights_epoch{epoch}"], row[f"weights_epoch{epoch}_worst"] = weight_difference(
            ours.model, saved, f"epoch{epoch}"
        )
    row["keras_final_val_accuracy"] = keras_history["val_accuracy"][last - 1]
    row["ours_final_val_accuracy"] = ours.history["val_accuracy"][last - 1]
    row["meets_targets"] = (
        row["epoch1_loss"] <= TARGETS["epoch1_loss"]
        and row["epoch1_val_loss"] <= TARGETS["epoch1_val_loss"]
        and (
            epochs < 20
            or (
                row[f"epoch{last}_val_accuracy"] <= TARGETS["final_val_accuracy"]
                and row["final_val_loss_rel"] <= TARGETS["final_val_loss_rel"]
            )
        )
    )
    return row


def dropout_row(cfg, dm: IMDBDataModule, saved: dict, eval_rows: int) -> dict:
    """Training-mode scaling (kept units are multiplied by 1/(1-rate), the others are 0, in both) and
    eval-mode outputs from the same weights."""
    model = hydra.utils.instantiate(cfg.model, input_dim=dm.num_words, optimizer=None, scheduler=None)
    load_keras_weights(model, saved, "start")
    model.eval()
    val = dm.splits["val"]
    eval_rows = min(eval_rows, len(val))  # as the worker's x_val[:eval_rows]
    x = torch.zeros(eval_rows, dm.num_words)
    for i in range(eval_rows):
        x[i, val.ids[val.offsets[i] : val.offsets[i + 1]]] = 1.0
    with torch.no_grad():
        ours_eval = model.predict_proba(x).numpy()
        ours_train = torch.nn.Dropout(cfg.model.dropout).train()(torch.ones(4096, 16)).numpy()
    theirs_train = saved["training_on_ones"]
    scale = 1 / (1 - cfg.model.dropout)
    return {
        "variant": "dropout",
        "eval_max_abs_diff": float(np.abs(ours_eval - saved["eval_probabilities"].reshape(-1)).max()),
        "train_values_ours": sorted({round(float(v), 6) for v in np.unique(ours_train)}),
        "train_values_keras": sorted({round(float(v), 6) for v in np.unique(theirs_train)}),
        "train_kept_fraction_ours": float((ours_train != 0).mean()),
        "train_kept_fraction_keras": float((theirs_train != 0).mean()),
        "meets_targets": bool(
            np.abs(ours_eval - saved["eval_probabilities"].reshape(-1)).max() <= 1e-5
            and set(np.round(np.unique(theirs_train), 5))
            == set(np.round(np.unique(ours_train), 5))
            == {0.0, round(scale, 5)}
        ),
    }


def run(
    keras_python: str, variants: list[str], epochs: int, overrides: list[str], folder: Path
) -> tuple[list[dict], dict]:
    """Every variant, Keras first (one worker process for all), then ours; the rows and the versions."""
    base = composed("baseline", overrides)
    dm = hydra.utils.instantiate(base.data)
    dm.prepare_data()
    dm.setup("fit")
    loader = dm.train_dataloader()
    orders = []
    for epoch in range(epochs):
        loader.sampler.set_epoch(epoch)
        orders.append(loader.sampler.order().numpy())
    train, val = dm.splits["train"], dm.splits["val"]
    np.savez(
        folder / "data.npz",
        width=dm.num_words,
        train_ids=train.ids,
        train_offsets=train.offsets,
        train_labels=train.labels,
        val_ids=val.ids,
        val_offsets=val.offsets,
        val_labels=val.labels,
        orders=np.stack(orders),
    )
    snapshots = sorted({1, epochs})
    configs = {name: composed(VARIANTS[name][0], overrides) for name in variants}
    spec = {}
    for name, cfg in configs.items():
        model = cfg.model
        spec[name] = {
            "optimizer": VARIANTS[name][1],
            "l1": float(model.l1),
            "l2": float(model.l2),
            "batchnorm": bool(model.batchnorm),
            "dropout": float(model.dropout),
            "epochs": epochs,
            "batch_size": int(cfg.data.batch_size),
            "snapshot_epochs": snapshots,
            "seed": int(cfg.seed),
            "eval_rows": 512,
        }
    (folder / "variants.json").write_text(json.dumps(spec))
    subprocess.run([keras_python, str(WORKER), str(folder)], check=True)
    rows = []
    for name, cfg in configs.items():
        with np.load(folder / f"keras_{name}.npz") as npz:
            saved = dict(npz)
        if name == "dropout":
            rows.append(dropout_row(cfg, dm, saved, spec[name]["eval_rows"]))
            continue
        keras_history = json.loads((folder / f"keras_{name}.json").read_text())["history"]
        ours = train_ours(cfg, dm, saved, epochs, set(snapshots), folder / name)
        default_format = dm.hparams.batch_format
        dm.hparams.batch_format = "dense" if dm.resolved_batch_format() == "bag" else "bag"
        other = train_ours(cfg, dm, saved, epochs, set(snapshots), folder / f"{name}-other-format")
        dm.hparams.batch_format = default_format
        floor = floor_row(ours, other, epochs)
        rows.append({**compare(name, ours, keras_history, saved, epochs), **floor})
        print(f"{name}: {json.dumps(rows[-1])}", file=sys.stderr, flush=True)
    versions = json.loads((folder / "keras_versions.json").read_text())
    versions.update(torch=torch.__version__, lightning=L.__version__, python=platform.python_version())
    return rows, versions


def markdown(rows: list[dict], versions: dict, epochs: int, command: str) -> str:
    last = epochs
    mid = min(5, epochs)
    head = ["variant", "Δ loss e1", "Δ val_loss e1", "Δ acc e1", "Δ val_acc e1"]
    head += [
        f"Δ val_loss e{mid}",
        f"Δ val_acc e{mid}",
        f"Δ loss e{last}",
        f"Δ val_loss e{last} (rel)",
        f"Δ val_acc e{last}",
    ]
    head += ["weights e1", f"weights e{last}", "targets"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        if r["variant"] == "dropout":
            continue
        cells = [
            r["variant"],
            *(f"{r[f'epoch1_{k}']:.1e}" for k in ("loss", "val_loss", "accuracy", "val_accuracy")),
        ]
        cells += [
            f"{r[f'epoch{mid}_val_loss']:.1e}",
            f"{r[f'epoch{mid}_val_accuracy']:.4f}",
            f"{r[f'epoch{last}_loss']:.1e}",
        ]
        cells += [
            f"{r[f'epoch{last}_val_loss']:.1e} ({r['final_val_loss_rel']:.2%})",
            f"{r[f'epoch{last}_val_accuracy']:.4f}",
        ]
        cells += [
            f"{r['weights_epoch1']:.1e} `{r['weights_epoch1_worst']}`",
            f"{r[f'weights_epoch{last}']:.1e} `{r[f'weights_epoch{last}_worst']}`",
        ]
        cells.append("met" if r["meets_targets"] else "**missed**")
        lines.append("| " + " | ".join(cells) + " |")
    floor_head = [
        "variant",
        "Δ loss e1",
        "Δ val_loss e1",
        f"Δ val_loss e{last} (rel)",
        f"Δ val_acc e{last}",
        "weights e1",
        f"weights e{last}",
    ]
    floor = ["| " + " | ".join(floor_head) + " |", "|" + "---|" * len(floor_head)]
    for r in rows:
        if "floor_epoch1_loss" in r:
            cells = [
                r["variant"],
                f"{r['floor_epoch1_loss']:.1e}",
                f"{r['floor_epoch1_val_loss']:.1e}",
                f"{r['floor_final_val_loss_rel']:.2%}",
            ]
            cells += [
                f"{r['floor_final_val_accuracy']:.4f}",
                f"{r['floor_weights_epoch1']:.1e}",
                f"{r[f'floor_weights_epoch{last}']:.1e}",
            ]
            floor.append("| " + " | ".join(cells) + " |")
    text = [
        "# Keras parity, measured",
        "",
        "Our model against the lecture's Keras model from the same initial weights on the same batches in "
        "the same",
        f"order, {epochs} epochs (`scripts/keras_parity.py`; Δ = |ours - Keras| of the History key at that "
        f"epoch;",
        "weights: max |ours - Keras| / max |Keras| over the model's tensors). Produced by:",
        "",
        f"    {command}",
        "",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in sorted(versions.items())) + ".",
        "",
        *lines,
        "",
        "The noise floor: our model against itself on the other batch format (bag of ids vs multi-hot rows, "
        "the same",
        "arithmetic summed in another order), same columns:",
        "",
        *floor,
    ]
    for r in rows:
        if r["variant"] == "dropout":
            text += [
                "",
                f"Dropout (masks cannot be shared across frameworks): eval-mode outputs of the same weights "
                f"differ by at most "
                f"{r['eval_max_abs_diff']:.1e}; in training mode both frameworks output "
                f"{r['train_values_ours']} (ours) and "
                f"{r['train_values_keras']} (Keras) on ones, keeping {r['train_kept_fraction_ours']:.3f} and "
                f"{r['train_kept_fraction_keras']:.3f} of 65,536 units.",
            ]
    return "\n".join(text) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--keras-python", required=True, help="an interpreter with TensorFlow/Keras and numpy"
    )
    parser.add_argument(
        "--variants", default=",".join(VARIANTS), help=f"comma-separated, from: {', '.join(VARIANTS)}"
    )
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--markdown", type=Path, help="write the table there (e.g. docs/keras_parity.md)")
    parser.add_argument(
        "--keep", type=Path, help="exchange through this folder and keep it (Keras's weights and histories)"
    )
    parser.add_argument(
        "overrides", nargs="*", help="config overrides for every variant (e.g. data.data_dir=...)"
    )
    args = parser.parse_args(argv)
    variants = args.variants.split(",")
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        parser.error(f"unknown variant(s) {', '.join(unknown)}; choose from {', '.join(VARIANTS)}")
    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", ".*LeafSpec.*")
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        rows, versions = run(args.keras_python, variants, args.epochs, args.overrides, args.keep)
    else:
        with tempfile.TemporaryDirectory(prefix="keras-parity-") as tmp:
            rows, versions = run(args.keras_python, variants, args.epochs, args.overrides, Path(tmp))
    command = "python scripts/keras_parity.py " + " ".join(sys.argv[1:] if argv is None else argv)
    table = markdown(rows, versions, args.epochs, command)
    print(table)
    if args.markdown:
        args.markdown.write_text(table)
    print(json.dumps({"rows": rows, "versions": versions}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

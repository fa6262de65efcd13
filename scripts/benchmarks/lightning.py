"""Where our fit's time goes beyond a hand-written loop: Lightning's Trainer, our module, our run folder.

The 20-epoch baseline on the bag path (this CPU's default), every row in one process, once per round in
interleaved rounds; the fastest and the median of ``--repeat`` rounds, and each as a ratio to the loop:

``loop``               the fit benchmark's hand-written loop (the ratios' 1);
``lightning-floor``    the same loop body in a ``Trainer`` whose one ``training_step`` an epoch runs all the
                       epoch's batches and whose one validation step runs the whole validation split: what the
                       Trainer costs when it is called twice an epoch;
``module``             our ``IMDBClassifier`` in a bare ``Trainer`` (the fit benchmark's ``lightning-bare``):
                       one Lightning step a batch, with its hooks, closure and our epoch metrics;
``module+run-folder``  the same with the run's own trainer settings, callbacks and TensorBoard logger, as
                       ``python -m imdb_lightning`` builds them (without Hydra's and the process's start);
``steps`` (and ``+run-folder``): our module with ``model.steps_per_execution=32`` (Keras's
                       ``steps_per_execution``, as ``scripts/reproduce_lecture.sh`` runs it): an epoch's 30
                       batches in one Lightning step, the model stepping its optimizer after each batch.

The run's trainer settings turn on deterministic algorithms for the whole process (``deterministic: true``),
so after the warm-up round every row runs with them, as ours does. Machine noise moves single tries by 20 % or
more; read the ratios of a round's rows, not seconds across runs.
"""

from __future__ import annotations

import logging
import time
import warnings
from pathlib import Path

import hydra
import lightning as L
from omegaconf import open_dict

from benchmarks.fit import (
    bare_trainer,
    count_correct,
    threads_as_a_run,
    timed_fit,
    train_epoch,
    worker_loop,
)
from benchmarks.harness import Table, fastest, median, rounds
from imdb_lightning.api import compose_config
from imdb_lightning.data import IMDBDataModule
from imdb_lightning.network.model import DenseStack, IMDBClassifier
from imdb_lightning.network.optimizers import KerasRMSprop
from imdb_lightning.running.naming import register_resolvers
from imdb_lightning.running.train import instantiate_all


class WholeEpoch:
    """A loader whose one item is the list of all the wrapped loader's batches for the epoch."""

    batch_sampler = None

    def __init__(self, loader) -> None:
        self.loader, self.sampler = loader, loader.sampler

    def __len__(self) -> int:
        return 1

    def __iter__(self):
        yield list(self.loader)


class WholeEpochData(IMDBDataModule):
    def train_dataloader(self):
        return WholeEpoch(super().train_dataloader())

    def val_dataloader(self):
        return WholeEpoch(super().val_dataloader())


class Floor(L.LightningModule):
    """The hand-written loop's bodies inside Lightning's two epoch-level calls."""

    def __init__(self, num_words: int) -> None:
        super().__init__()
        self.net = DenseStack(num_words)
        self.opt = KerasRMSprop(self.net.parameters())
        self.automatic_optimization = False

    def configure_optimizers(self):
        return None

    def training_step(self, batches, batch_idx: int) -> None:
        train_epoch(self.net, self.opt, batches)

    def validation_step(self, batches, batch_idx: int) -> None:
        self.correct = count_correct(self.net, batches)


def run_folder_trainer(folder: Path) -> L.Trainer:
    """The Trainer, callbacks and logger of ``python -m imdb_lightning +experiment=baseline``, writing into
    ``folder``."""
    cfg = compose_config(["+experiment=baseline", "trainer.enable_progress_bar=false"])
    with open_dict(cfg):
        cfg.paths.output_dir, cfg.paths.tensorboard_dir, cfg.paths.run_name = (
            str(folder),
            str(folder / "tb"),
            "",
        )
    return hydra.utils.instantiate(
        cfg.trainer, callbacks=instantiate_all(cfg, "callbacks"), logger=instantiate_all(cfg, "logger")
    )


ROWS = {
    "loop": "hand-written loop (bags)",
    "lightning-floor": "the loop's body in a `Trainer`, one `training_step` and one validation step an epoch",
    "module": "our module in a bare `Trainer` (one Lightning step a batch)",
    "module+run-folder": "the same with the run's trainer settings, callbacks and TensorBoard",
    "steps": "our module, `model.steps_per_execution=32`: an epoch's batches in one Lightning step",
    "steps+run-folder": "the same with the run's trainer settings, callbacks and TensorBoard",
}


def lightning(tmp: Path, repeat: int) -> tuple[dict, dict[str, Table]]:
    """Every row in this process, once a round after a warm-up round; fastest and median, and each as a ratio
    to the loop's."""
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    logging.getLogger("imdb_lightning").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=".*(configure_optimizers|log_every_n_steps|LeafSpec).*")
    register_resolvers()
    threads_as_a_run()
    data, whole = IMDBDataModule(batch_format="bag"), WholeEpochData(batch_format="bag")
    for dm in (data, whole):
        dm.prepare_data()
        dm.setup()
    measures = {
        "loop": lambda: worker_loop("bag", data)["fit_seconds"],
        "lightning-floor": lambda: timed_fit(Floor(whole.num_words), whole, bare_trainer()),
        "module": lambda: timed_fit(IMDBClassifier(input_dim=data.num_words), data, bare_trainer()),
        "module+run-folder": lambda: timed_fit(
            IMDBClassifier(input_dim=data.num_words),
            data,
            run_folder_trainer(tmp / f"m{time.monotonic_ns()}"),
        ),
        "steps": lambda: timed_fit(
            IMDBClassifier(input_dim=data.num_words, steps_per_execution=32), data, bare_trainer()
        ),
        "steps+run-folder": lambda: timed_fit(
            IMDBClassifier(input_dim=data.num_words, steps_per_execution=32),
            data,
            run_folder_trainer(tmp / f"s{time.monotonic_ns()}"),
        ),
    }
    tries = rounds(measures, repeat, warm_up=True)
    best_loop, median_loop = fastest(tries["loop"]), median(tries["loop"])
    table = Table(
        ["row", "fastest s", "median s", "fastest / loop", "median / loop"], note=f"{repeat} rounds"
    )
    for name, t in tries.items():
        table.add(
            ROWS[name],
            f"{fastest(t):.3f}",
            f"{median(t):.3f}",
            f"{fastest(t) / best_loop:.2f}",
            f"{median(t) / median_loop:.2f}",
        )
    return {"lightning": {name: [round(x, 3) for x in t] for name, t in tries.items()}}, {"lightning": table}

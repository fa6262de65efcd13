"""What a run prints: Keras-numbered progress, one line per epoch where no terminal can redraw a bar, and none
of the libraries' advertising or deprecation chatter."""

from __future__ import annotations

import logging
import warnings

import lightning as L
from lightning.pytorch.callbacks import TQDMProgressBar
from lightning.pytorch.callbacks.progress.tqdm_progress import convert_inf

from imdb_lightning.utils import terminal

# Lightning's advertisements for its cloud products ("💡 Tip: ..."), logged at INFO by every fit.
_ADVERTS = "💡 Tip"
# Deprecations inside the libraries themselves, not in anything a user of this package calls; and Lightning's
# advice to log more often than an epoch has batches, which does not apply: every metric here is an epoch's.
_LIBRARY_WARNINGS = (
    r".*isinstance\(treespec, LeafSpec\)` is deprecated.*",
    r"The number of training batches \(\d+\) is smaller than the logging interval.*",
    # A folder holds one run (RunFolder.claim): its checkpoints are there when it goes on there.
    r"Checkpoint directory .* exists and is not empty.*",
)


class _DropAdverts(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(_ADVERTS)


def quiet_libraries() -> None:
    """Install the filters once (they attach to the loggers Lightning reports through), and print each of
    Lightning's notes once."""
    for name in ("lightning.fabric.utilities.rank_zero", "lightning.pytorch.utilities.rank_zero"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, _DropAdverts) for f in logger.filters):
            logger.addFilter(_DropAdverts())
    for pattern in _LIBRARY_WARNINGS:
        warnings.filterwarnings("ignore", message=pattern)
    # The `lightning` package gives its logger a console of its own ("INFO: GPU available: ..."); where the
    # root logger has one too (Hydra's, on the command line), each note would print twice: keep the root's.
    if logging.getLogger().handlers:
        lightning_logger = logging.getLogger("lightning")
        for handler in list(lightning_logger.handlers):
            if type(handler) is logging.StreamHandler:
                lightning_logger.removeHandler(handler)


class KerasProgressBar(TQDMProgressBar):
    """Lightning's TQDM bar with Keras's epoch numbers ("Epoch 3/20"), whichever extras are installed
    (Lightning picks a Rich bar when ``rich`` is present). Outside a terminal it stays off: the epoch lines of
    :class:`~imdb_lightning.running.history.KerasHistory` are then the progress, one line an epoch, as
    Keras's ``verbose=2``."""

    def __init__(self) -> None:
        super().__init__()
        if not terminal.interactive():
            self.disable()

    def on_train_epoch_start(self, trainer: L.Trainer, *args) -> None:
        # Lightning's own, with the description set once: set twice, the bar would show "Epoch 0" first.
        if self._leave:
            self.train_progress_bar = self.init_train_tqdm()
        self.train_progress_bar.reset(total=convert_inf(self.total_train_batches))
        self.train_progress_bar.initial = 0
        self.train_progress_bar.set_description(f"Epoch {trainer.current_epoch + 1}/{trainer.max_epochs}")

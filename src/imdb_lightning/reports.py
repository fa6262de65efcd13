"""Figures and tables made from a run's history (the Keras ``History.history`` dict)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: runs happen on machines without a screen
import matplotlib.pyplot as plt  # noqa: E402

HISTORY_KEYS = ("loss", "accuracy", "val_loss", "val_accuracy")


def plot_history(history: dict[str, list[float]], folder: Path) -> list[Path]:
    """``loss.png`` and ``accuracy.png``: training vs validation per epoch, drawn as the lecture draws them."""
    written = []
    for metric, title in (("loss", "Training and validation loss"), ("accuracy", "Training and validation accuracy")):
        train, val = history.get(metric, []), history.get(f"val_{metric}", [])
        if not train and not val:
            continue
        fig, ax = plt.subplots(figsize=(6.4, 4.2))
        if train:
            ax.plot(range(1, len(train) + 1), train, "b-o", label=f"Training {metric}")
        if val:
            ax.plot(range(1, len(val) + 1), val, "r-o", label=f"Validation {metric}")
        ax.set(title=title, xlabel="Epochs", ylabel=metric.capitalize())
        ax.legend()
        fig.tight_layout()
        path = folder / f"{metric}.png"
        fig.savefig(path, dpi=100)
        plt.close(fig)
        written.append(path)
    return written

"""Learning curves: one run's loss and accuracy as the lecture draws them, and several runs side by side.

Drawn on matplotlib ``Figure`` objects rather than pyplot's: no backend is chosen or switched (a notebook
keeps its inline display, a headless run needs no screen) and nothing stays registered once a figure is saved.
"""

from __future__ import annotations

import functools
import io
import math
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # matplotlib is imported when a figure is drawn: a run imports this module before fit
    from matplotlib.figure import Figure

#: The keys of Keras's ``History.history`` that a run records, one value per epoch.
HISTORY_KEYS = ("loss", "accuracy", "val_loss", "val_accuracy")

History = Mapping[str, Sequence[float | None]]


def history_figure(
    history: History, metrics: Sequence[str] = ("loss", "accuracy"), title: str = ""
) -> Figure | None:
    """Training and validation curves per epoch as the lecture plots them, one panel per metric (``loss``,
    ``accuracy``), under ``title`` (the run's configuration); None when the history has none of them."""
    metrics = [m for m in metrics if history.get(m) or history.get(f"val_{m}")]
    if not metrics:
        return None
    from matplotlib.ticker import MaxNLocator

    fig = _figure_class()(figsize=(6.4 * len(metrics), 4.2))
    # Fixed margins: a run draws its figures after every fit, and computing a tight layout doubled that cost.
    top = 0.86 if title else 0.92
    fig.subplots_adjust(left=0.12 / len(metrics), right=0.97, bottom=0.12, top=top, wspace=0.25)
    for ax, metric in zip(fig.subplots(1, len(metrics), squeeze=False)[0], metrics, strict=True):
        for key, style, name in ((metric, "b-o", "Training"), (f"val_{metric}", "r-o", "Validation")):
            values = history.get(key, [])
            if values:
                ax.plot(range(1, len(values) + 1), as_floats(values), style, label=f"{name} {metric}")
        heading = f"Training and validation {metric}" + (f"\n{title}" if title else "")
        # At the top, where matplotlib's automatic place puts it here, without measuring every artist for it
        # at each draw (a tenth of a draw; the same pixels).
        ax.set_title(heading, y=1.0)
        ax.set(xlabel="Epochs", ylabel=metric.capitalize())
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.legend()
    return fig


#: One marker per configuration, so that curves that coincide (``init_zeros`` and ``init_too_small`` both stay
#: at 0.4947) still show each of them.
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "<", ">")

#: A loss panel whose curves span more than this factor is drawn on a log scale: ``init_too_large``'s ~25
#: would flatten everyone else's 0.3-0.7 into one line.
LOG_SCALE_SPAN = 20.0


def compare_figure(
    histories: Mapping[str, Sequence[History]],
    keys: Sequence[str] = ("val_loss", "val_accuracy"),
    title: str = "",
    training: bool = False,
) -> Figure:
    """One panel per history key, one curve per label: the mean over that label's runs (seeds), with a band
    of ±1 standard deviation when there are several; with ``training``, each validation key's training curve
    beside it, dashed, in the label's colour. A label whose curves are another's is named as such in the
    legend; a loss spanning more than :data:`LOG_SCALE_SPAN` is drawn on a log scale, and says so. The legend
    sits beside the panels, off the curves."""
    from matplotlib.ticker import MaxNLocator

    fig = _figure_class()(figsize=(5.2 * len(keys) + 2.4, 4.5), layout="constrained")
    axes = fig.subplots(1, len(keys), squeeze=False)[0]
    drawn: dict[str, list[np.ndarray]] = {}  # each label's mean curves, to find labels that coincide
    for number, (label, runs) in enumerate(histories.items()):
        runs = [run for run in runs if run.get(keys[0])]
        if not runs:
            continue
        means = [_mean_and_std(runs, key) for key in keys]
        curves = [mean for mean, _ in means]
        same = next((other for other, theirs in drawn.items() if _same_curves(theirs, curves)), None)
        drawn[label] = curves
        name = f"{label} (n={len(runs)})" if len(runs) > 1 else label
        name += f" (the same curves as {same})" if same else ""
        marker, color = MARKERS[number % len(MARKERS)], None
        for ax, key, (mean, std) in zip(axes, keys, means, strict=True):
            if mean.size == 0:
                continue
            epochs = np.arange(1, mean.size + 1)
            (line,) = ax.plot(epochs, mean, "-", marker=marker, markersize=4, color=color, label=name)
            color = line.get_color()  # one colour per label across the panels
            if len(runs) > 1:
                ax.fill_between(epochs, mean - std, mean + std, color=color, alpha=0.2)
            train_key = key.removeprefix("val_")
            if training and train_key != key:
                train_mean, _ = _mean_and_std(runs, train_key)
                if train_mean.size:
                    ax.plot(np.arange(1, train_mean.size + 1), train_mean, "--", color=color, alpha=0.7)
    for ax, key in zip(axes, keys, strict=True):
        name = key.replace("val_", "validation ").replace("_", " ")
        ax.set(title=name.capitalize(), xlabel="Epochs")
        ylabel = key.rsplit("_", 1)[-1].capitalize()
        if key.endswith("loss") and _span(ax) > LOG_SCALE_SPAN:
            ax.set_yscale("log")
            ylabel += " (log scale)"
        ax.set_ylabel(ylabel)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    if training:
        title += ("; " if title else "") + "training curves dashed"
    if title:
        fig.suptitle(title)
    handles, labels = axes[0].get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="outside right upper", fontsize=8)
    return fig


def _mean_and_std(runs: Sequence[History], key: str) -> tuple[np.ndarray, np.ndarray]:
    """The mean and std over ``runs`` of ``key``'s values, epoch by epoch, as long as the shortest run's."""
    length = min(len(run.get(key, [])) for run in runs)
    if length == 0:
        return np.array([]), np.array([])
    stack = np.stack([as_floats(run[key][:length]) for run in runs])
    with warnings.catch_warnings():  # an epoch every run diverged in is NaN (a gap), not a warning
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(stack, axis=0), np.nanstd(stack, axis=0)


def _same_curves(a: Sequence[np.ndarray], b: Sequence[np.ndarray]) -> bool:
    return all(x.shape == y.shape and np.allclose(x, y, equal_nan=True) for x, y in zip(a, b, strict=True))


def _span(ax) -> float:
    """How many times its smallest positive value a panel's largest is (1 for a panel without two)."""
    values = np.concatenate(
        [np.asarray(line.get_ydata(), dtype=float) for line in ax.lines] or [np.array([])]
    )
    values = values[np.isfinite(values) & (values > 0)]
    return float(values.max() / values.min()) if values.size > 1 else 1.0


def save_figure(fig: Figure, path: Path, dpi: int) -> Path:
    fig.savefig(path, dpi=dpi)
    return path


def figure_pixels(fig: Figure, dpi: int = 100) -> np.ndarray:
    """The figure as an RGB ``[height, width, 3]`` uint8 array (TensorBoard's Images tab), drawn in memory."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    fig.set_dpi(dpi)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()


def as_floats(values: Sequence[float | None]) -> np.ndarray:
    """A history's values as floats: a diverged epoch is stored as None (strict JSON has no NaN), read as NaN
    (a gap in a curve)."""
    return np.array([math.nan if v is None else v for v in values], dtype=float)


def png_bytes(pixels: np.ndarray) -> bytes:
    """An image drawn by :func:`figure_pixels`, encoded as a PNG once: for the run folder's file and for
    TensorBoard alike. Light compression: encoding time counts in every sweep job, a few KB do not."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


@functools.cache
def _figure_class() -> type[Figure]:
    """matplotlib's ``Figure``, shown by Jupyter as a picture whether or not pyplot set up its inline
    backend (without pyplot, a bare ``Figure`` shows as ``<Figure size ...>``)."""
    from matplotlib.figure import Figure

    class NotebookFigure(Figure):
        def _repr_png_(self) -> bytes:
            buffer = io.BytesIO()
            self.savefig(buffer, format="png", dpi=90)
            return buffer.getvalue()

    return NotebookFigure

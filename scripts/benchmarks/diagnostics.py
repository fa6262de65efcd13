"""What the initializer experiments' diagnostics (``callbacks=diagnostics``: TensorBoard histograms and
gradient norms) cost: one histogram of the first layer's kernel, by the package's ``add_histogram`` and by
``torch.histc`` (how it was computed before), and the seconds the callback's hooks take inside a 20-epoch
``init_glorot_uniform`` fit beside that fit's own seconds. One process, interleaved rounds, the fastest.
"""

from __future__ import annotations

import functools
import json
import time
from pathlib import Path

import torch
from torch.utils.tensorboard import SummaryWriter

from benchmarks.harness import Table, fastest, rounds
from imdb_lightning.running.diagnostics import LayerDiagnostics, add_histogram

HOOKS = ("on_before_optimizer_step", "on_train_batch_end", "on_train_epoch_end")


def histc_histogram(writer: SummaryWriter, tag: str, values: torch.Tensor, step: int, bins: int = 64) -> None:
    """The histogram as ``add_histogram`` wrote it with ``torch.histc`` (the same record and buckets)."""
    values = values.detach().flatten().double()
    lo, hi = float(values.min()), float(values.max())
    counts = torch.histc(values, bins=bins, min=lo, max=hi).tolist()
    limits = torch.linspace(lo, hi, bins + 1)[1:].tolist()
    sums = float(values.sum()), float(values.square().sum())
    writer.add_histogram_raw(tag, lo, hi, len(values), *sums, limits, counts, global_step=step)


def timed_hooks(spent: list[float]) -> None:
    """Add the time of every hook of the callback to ``spent[0]``."""
    for hook in HOOKS:
        original = LayerDiagnostics.__dict__[hook]

        @functools.wraps(original)
        def timed(*args, _original=original, **kwargs):
            started = time.perf_counter()
            try:
                return _original(*args, **kwargs)
            finally:
                spent[0] += time.perf_counter() - started

        setattr(LayerDiagnostics, hook, timed)


def diagnostics(tmp: Path, repeat: int) -> tuple[dict, dict[str, Table]]:
    import imdb_lightning as il

    kernel = torch.randn(10_000, 16, generator=torch.Generator().manual_seed(0)) * 0.02
    writer = SummaryWriter(str(tmp / "histograms"))
    per_histogram = rounds(
        {
            "add_histogram (bucket offsets and a count)": lambda: _ms(add_histogram, writer, kernel),
            "torch.histc": lambda: _ms(histc_histogram, writer, kernel),
        },
        repeat,
        warm_up=True,
    )
    writer.close()
    spent = [0.0]
    timed_hooks(spent)
    run = ["+experiment=init_glorot_uniform", "test=false", "callbacks.keras_history.plots=false"]
    il.run(*run, "trainer.max_epochs=2", quiet=True)  # loads the data and the libraries

    def fit() -> tuple[float, float]:
        spent[0] = 0.0
        result = il.run(*run, quiet=True)
        return spent[0], json.loads((result.run_dir / "metrics.json").read_text())["fit_seconds"]

    fits = [fit() for _ in range(repeat)]
    hooks, fit_s = min(fits, key=lambda f: f[1])
    table = Table(["diagnostics", "figure"])
    for name, tries in per_histogram.items():
        table.add(f"one histogram of the 160,000 first-layer weights, {name}, ms", f"{fastest(tries):.2f}")
    table.add("the callback's hooks in a 20-epoch `init_glorot_uniform` fit, s", f"{hooks:.3f}")
    table.add("that fit, s", f"{fit_s:.2f}")
    figures = {
        "histogram_ms": {name: fastest(tries) for name, tries in per_histogram.items()},
        "diagnostics_s": hooks,
        "fit_s": fit_s,
    }
    return figures, {"diagnostics": table}


def _ms(fn, writer: SummaryWriter, values: torch.Tensor, times: int = 20) -> float:
    started = time.perf_counter()
    for step in range(times):
        fn(writer, "w", values, step)
    return 1000 * (time.perf_counter() - started) / times

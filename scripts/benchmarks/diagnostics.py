"""What the initializer experiments' diagnostics (``callbacks=diagnostics``: TensorBoard histograms and
gradient norms) cost: the seconds the callback's hooks take inside a 20-epoch ``init_glorot_uniform`` fit,
beside that fit's own seconds. One process; the fastest fit of ``--repeat``, after a warm-up run.
"""

from __future__ import annotations

import functools
import time
from pathlib import Path

from benchmarks.harness import Table
from imdb_lightning.running.diagnostics import LayerDiagnostics

HOOKS = (
    "on_train_batch_start",
    "on_before_optimizer_step",
    "on_train_batch_end",
    "on_train_epoch_end",
)


def timed_hooks(spent: list[float]) -> None:
    """Add the time of every hook of the callback to ``spent[0]``."""
    for hook in HOOKS:
        original = LayerDiagnostics.__dict__.get(hook)
        if original is None:  # an earlier version of the callback, measured the same way
            continue

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

    spent = [0.0]
    timed_hooks(spent)
    run = ["+experiment=init_glorot_uniform", "test=false", "callbacks.keras_history.plots=false"]
    il.run(*run, "trainer.max_epochs=2", quiet=True)  # loads the data and the libraries

    def fit() -> tuple[float, float]:
        spent[0] = 0.0
        result = il.run(*run, quiet=True)
        return spent[0], result.metrics["fit_seconds"]

    fits = [fit() for _ in range(repeat)]
    hooks, fit_s = min(fits, key=lambda f: f[1])
    table = Table(["a 20-epoch `init_glorot_uniform` fit", "s"])
    table.add("the diagnostics callback's hooks", f"{hooks:.3f}")
    table.add("the whole fit", f"{fit_s:.2f}")
    table.note = f"the fastest of {repeat} fits"
    return {"diagnostics_s": hooks, "fit_s": fit_s, "all": fits}, {"diagnostics": table}

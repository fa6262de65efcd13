"""The 20-epoch baseline fit: ours against Lightning's bare ``Trainer``, hand-written PyTorch loops and the
lecture's Keras model, quiet and beside busy processes; and how it scales (vocabulary, training reviews,
threads, the lecture's grid, a sweep's memory).

Every measurement runs in its own process (``python scripts/bench.py worker NAME``, or the app itself), so its
peak resident memory is its own: ``ours`` is ``python -m imdb_lightning +experiment=baseline`` (its default
path; its fit from ``metrics.json``), ``lightning-bare`` the same LightningModule and DataModule in a Trainer
without callbacks, logger or checkpoints, ``loop-dense`` / ``loop-sparse`` a minimal PyTorch loop on the same
data and model (multi-hot rows or the bag, validating every epoch as Keras's ``fit`` does), ``keras`` the
lecture's code (in ``--keras-python``, an interpreter with TensorFlow; skipped with a message without one).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from benchmarks.harness import REPO, Table, competing, fastest, measured, rounds

EPOCHS = 20
ACCELERATORS = {"cpu": "cpu", "cuda": "gpu"}  # --device -> trainer.accelerator


def device() -> str:
    """Where the workers run: ``--device``, passed to them in the environment."""
    return os.environ.get("IMDB_BENCH_DEVICE", "cpu")


def gpu_peak_mb() -> dict:
    """The process's peak GPU memory, where it used CUDA."""
    import torch

    return {"gpu_peak_mb": torch.cuda.max_memory_allocated() / 2**20} if device() == "cuda" else {}


# ------------------------------------------------------------------------------------------ workers


def threads_as_a_run() -> None:
    """Torch's threads as a run of the app sets them by default (its composed ``torch_threads``), so that
    every row computes alike."""
    import torch

    from imdb_lightning.api import compose_config
    from imdb_lightning.config.runtime import torch_threads

    configured = compose_config([]).get("torch_threads")
    torch.set_num_threads(torch_threads(configured, None, os.cpu_count() or 1))


def _data(batch_format: str, num_words: int = 10000):
    from imdb_lightning.data import IMDBDataModule

    dm = IMDBDataModule(num_words=num_words, batch_format=batch_format)
    dm.prepare_data()
    dm.setup()
    return dm


def worker_loop(batch_format: str, dm=None) -> dict:
    """The shortest honest PyTorch loop: same data pipeline, model, optimizer and per-epoch validation
    (on ``dm``, a set-up data module, when given)."""
    import torch

    from imdb_lightning.data import BatchLoader
    from imdb_lightning.network.model import DenseStack
    from imdb_lightning.network.optimizers import KerasRMSprop
    from imdb_lightning.running.train import freeze_library_heap

    torch.manual_seed(0)
    threads_as_a_run()
    dm = dm or _data(batch_format)
    dev = device()
    served = {"batch_format": batch_format, "width": dm.num_words, "device": dev}
    train = BatchLoader(dm.bags["train"], dm.hparams.batch_size, shuffle=True, seed=dm.hparams.seed, **served)
    val = BatchLoader(dm.bags["val"], dm.hparams.eval_batch_size or dm.hparams.batch_size, **served)
    net = DenseStack(dm.num_words).to(dev)
    opt = KerasRMSprop(net.parameters())
    freeze_library_heap()  # as ours: no full garbage collection of the imported libraries inside the timing
    return {**_fit(dm, net, opt, train, val), **gpu_peak_mb()}


def train_epoch(net, opt, batches) -> None:
    """The loop's training body: one optimizer step for each ``(x, y)`` of ``batches``."""
    import torch.nn.functional as F

    for x, y in batches:
        loss = F.binary_cross_entropy_with_logits(net(x).squeeze(-1), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()


def count_correct(net, batches):
    """The loop's validation body: how many of ``batches``' reviews the model labels right (a tensor)."""
    import torch

    correct = None
    for x, y in batches:
        correct = torch.zeros((), device=y.device) if correct is None else correct
        correct += ((net(x).squeeze(-1) > 0).float() == y).sum()
    return correct


def _fit(dm, net, opt, train, val) -> dict:
    import torch

    start = time.perf_counter()
    for epoch in range(EPOCHS):
        train.sampler.set_epoch(epoch)
        net.train()
        train_epoch(net, opt, train)
        net.eval()
        with torch.no_grad():
            correct = count_correct(net, val)
    if correct.device.type == "cuda":
        torch.cuda.synchronize()  # the timing ends when the GPU's work does
    fit = time.perf_counter() - start
    return {"fit_seconds": fit, "val_acc": float(correct) / len(dm.splits["val"])}


def worker_lightning_bare() -> dict:
    """Our LightningModule and DataModule in a bare ``Trainer`` (no callbacks, logger, checkpoints or progress
    bar): what Lightning's own training loop costs over the hand-written one, apart from our run folder."""
    import logging

    import torch

    from imdb_lightning.network.model import IMDBClassifier

    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)
    torch.manual_seed(0)
    threads_as_a_run()
    dm = _data("auto")
    trainer = bare_trainer()
    fit = timed_fit(IMDBClassifier(input_dim=dm.num_words), dm, trainer)
    return {"fit_seconds": fit, "val_acc": float(trainer.callback_metrics["val/acc"]), **gpu_peak_mb()}


def bare_trainer():
    """A ``Trainer`` for 20 epochs on ``device()`` without callbacks, logger, checkpoints, progress bar or
    sanity check."""
    import lightning as L

    return L.Trainer(
        max_epochs=EPOCHS,
        accelerator=ACCELERATORS[device()],
        devices=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
    )


def timed_fit(model, dm, trainer) -> float:
    """Seconds ``trainer.fit`` takes, with the import-time heap frozen as ``train()`` freezes it."""
    import torch

    from imdb_lightning.running.train import freeze_library_heap

    freeze_library_heap()
    start = time.perf_counter()
    trainer.fit(model, datamodule=dm)
    if device() == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def worker_keras() -> dict:
    """The lecture's own script up to its fit: ``imdb.load_data(num_words=10000)`` (ours: the same arrays,
    read from the encoded cache instead of Keras's download; no torch or Lightning in this process), its
    ``vectorize_sequences`` of the training and test reviews into dense float matrices, ``x_train[:10000]``
    for validation, and its Keras Sequential model."""
    try:
        import numpy as np
        from tensorflow import keras  # noqa: F401
    except ImportError:
        return {
            "skipped": "TensorFlow is not installed (pip install tensorflow to include the Keras baseline)"
        }
    from tensorflow.keras import layers, models

    from imdb_lightning.data.imdb import load_data

    (train_data, train_labels), (test_data, test_labels) = load_data(num_words=10000)

    def vectorize_sequences(sequences, dimension=10000):
        results = np.zeros((len(sequences), dimension))
        for i, sequence in enumerate(sequences):
            results[i, sequence] = 1.0
        return results

    x_train = vectorize_sequences(train_data)
    x_test = vectorize_sequences(test_data)  # noqa: F841 -- the lecture's, for its evaluation after the fit
    y_train = np.asarray(train_labels).astype("float32")
    y_test = np.asarray(test_labels).astype("float32")  # noqa: F841
    x_val, partial_x_train = x_train[:10000], x_train[10000:]
    y_val, partial_y_train = y_train[:10000], y_train[10000:]
    model = models.Sequential(
        [
            layers.Input((10000,)),
            layers.Dense(16, activation="relu"),
            layers.Dense(16, activation="relu"),
            layers.Dense(1, activation="sigmoid"),
        ]
    )
    model.compile(optimizer="rmsprop", loss="binary_crossentropy", metrics=["accuracy"])
    start = time.perf_counter()
    history = model.fit(
        partial_x_train,
        partial_y_train,
        epochs=EPOCHS,
        batch_size=512,
        validation_data=(x_val, y_val),
        verbose=0,
    )
    return {"fit_seconds": time.perf_counter() - start, "val_acc": float(history.history["val_accuracy"][-1])}


WORKERS = {
    "loop-dense": lambda: worker_loop("dense"),
    "loop-sparse": lambda: worker_loop("bag"),
    "lightning-bare": worker_lightning_bare,
    "keras": worker_keras,
}


# ------------------------------------------------------------------------------------------ the driver's side


def run_ours(
    overrides: list[str], folder: Path, env: dict | None = None, python: str = sys.executable
) -> dict:
    """``python -m imdb_lightning +experiment=baseline test=false`` on ``device()``: its fit (from
    ``metrics.json``), its whole process from start to exit (``wall_seconds``) and its peak memory; ``env``:
    added to the environment; ``python``: the interpreter (another install of the package)."""
    cmd = [python, "-m", "imdb_lightning", "+experiment=baseline", "test=false"]
    cmd += ["trainer.enable_progress_bar=false", f"trainer.accelerator={ACCELERATORS[device()]}"]
    cmd += [f"hydra.run.dir={folder}", *overrides]
    code, output, rss, wall = measured(cmd, {**os.environ, **(env or {})})
    if code != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{output[-3000:]}")
    metrics = json.loads((folder / "metrics.json").read_text())
    gpu = {"gpu_peak_mb": metrics["gpu_peak_mb"]} if "gpu_peak_mb" in metrics else {}
    return {
        "fit_seconds": metrics["fit_seconds"],
        "wall_seconds": wall,
        "val_acc": metrics["val/acc"],
        "peak_rss_mb": rss,
        **gpu,
    }


def run_worker(name: str, python: str = sys.executable) -> dict:
    """A worker in its own process: its figures, its peak memory and its whole process's wall time (for the
    Keras worker, the lecture's script end to end: imports, data, model, fit)."""
    code, output, rss, wall = measured([python, str(REPO / "scripts" / "bench.py"), "worker", name])
    if code != 0:
        raise SystemExit(f"worker {name} failed:\n{output[-3000:]}")
    result = json.loads(output.strip().splitlines()[-1])
    if "skipped" not in result:
        result.update(peak_rss_mb=rss, wall_seconds=wall)
    return result


def sweep_peak_mb(overrides: list[str]) -> float:
    """``python -m imdb_lightning -m OVERRIDES`` on ``device()``: its peak resident memory (MB)."""
    cmd = [sys.executable, "-m", "imdb_lightning", "-m", *overrides, "trainer.enable_progress_bar=false"]
    code, output, rss, _ = measured([*cmd, f"trainer.accelerator={ACCELERATORS[device()]}"])
    if code != 0:
        raise SystemExit(output[-3000:])
    return rss


def _folder(tmp: Path, name: str) -> Path:
    return tmp / f"{name}-{time.monotonic_ns()}"


#: The fit table's rows: measure name -> how the table names it.
FIT_ROWS = {
    "ours": "ours (`python -m imdb_lightning +experiment=baseline`)",
    "ours-steps": "ours, an epoch's batches in one Lightning step (`model.steps_per_execution=32`)",
    "ours-bag": "ours, the bag of ids (`data.batch_format=bag`)",
    "ours-readme": "ours, installed as the README's first command does (`pip install .`, no extras)",
    "lightning-bare": "our LightningModule in a bare `Trainer` (no callbacks, logger, checkpoints)",
    "loop-dense": "hand-written PyTorch loop, multi-hot rows",
    "loop-sparse": "hand-written PyTorch loop, bags",
    "keras": "the lecture's Keras model",
}


def fit(
    tmp: Path, repeat: int, keras_python: str, readme_python: str | None = None
) -> tuple[dict, dict[str, Table]]:
    """The fit table, then ours and Keras beside one CPU-bound process. ``readme_python``: an interpreter
    with the package as the README installs it, for a row of ours as a newcomer runs it."""
    measures = {
        "ours": lambda: run_ours([], _folder(tmp, "ours")),
        "ours-steps": lambda: run_ours(["model.steps_per_execution=32"], _folder(tmp, "ours-steps")),
    }
    if readme_python:
        measures["ours-readme"] = lambda: run_ours([], _folder(tmp, "ours-readme"), python=readme_python)
    if device() != "cpu":  # ours defaults to multi-hot rows on an accelerator; the bag beside it
        measures["ours-bag"] = lambda: run_ours(["data.batch_format=bag"], _folder(tmp, "ours-bag"))
    for name in ("lightning-bare", "loop-dense", "loop-sparse"):
        measures[name] = lambda name=name: run_worker(name)
    results = {name: fastest(t, "fit_seconds") for name, t in rounds(measures, repeat).items()}
    on_cpu = device() == "cpu"
    results["keras"] = run_worker("keras", keras_python) if on_cpu else {"skipped": "Keras runs on the CPU"}
    with competing(1):  # users' machines are rarely idle: a second job, a browser
        busy = {"ours": fastest(rounds({"ours": measures["ours"]}, repeat)["ours"], "fit_seconds")}
        if "skipped" not in results["keras"]:
            busy["keras"] = run_worker("keras", keras_python)
    gpu = device() == "cuda"
    table = Table(
        ["run", "fit s", "ms / epoch", "peak RSS MB", *(["peak GPU MB"] if gpu else []), "final val acc"]
    )
    for name, r in results.items():
        if "skipped" in r:
            table.add(FIT_ROWS[name], f"skipped: {r['skipped']}", *[""] * (len(table.header) - 2))
            continue
        gpu_cell = [f"{r['gpu_peak_mb']:.0f}" if "gpu_peak_mb" in r else ""] if gpu else []
        cells = [
            f"{r['fit_seconds']:.2f}",
            f"{1000 * r['fit_seconds'] / EPOCHS:.0f}",
            f"{r['peak_rss_mb']:,.0f}",
        ]
        table.add(FIT_ROWS[name], *cells, *gpu_cell, f"{r['val_acc']:.4f}")
    quiet = results["ours"]
    best_loop = min(results["loop-dense"]["fit_seconds"], results["loop-sparse"]["fit_seconds"])
    readme = results.get("ours-readme")  # only with --readme-python
    steps = results["ours-steps"]
    ratios = {
        "ours / best loop": quiet["fit_seconds"] / best_loop,
        "bare Trainer / best loop": results["lightning-bare"]["fit_seconds"] / best_loop,
        "ours beside a busy process / quiet": busy["ours"]["fit_seconds"] / quiet["fit_seconds"],
        "one run end to end (process start to exit), s": quiet["wall_seconds"],
    }
    if readme:
        ratios["the same from the README's install, s"] = readme["wall_seconds"]
    ratios["ours with `model.steps_per_execution=32` / ours, fit"] = (
        steps["fit_seconds"] / quiet["fit_seconds"]
    )
    if "skipped" not in results["keras"]:
        keras = results["keras"]
        ratios["Keras / ours, fit"] = keras["fit_seconds"] / quiet["fit_seconds"]
        ratios["Keras / ours, fit beside a busy process"] = (
            busy["keras"]["fit_seconds"] / busy["ours"]["fit_seconds"]
        )
        ratios["Keras's script / ours, end to end"] = keras["wall_seconds"] / quiet["wall_seconds"]
        if readme:
            ratios["Keras's script / ours from the README's install, end to end"] = (
                keras["wall_seconds"] / readme["wall_seconds"]
            )
        ratios["Keras / ours with `model.steps_per_execution=32`, fit"] = (
            keras["fit_seconds"] / steps["fit_seconds"]
        )
        ratios["Keras's script / ours with `model.steps_per_execution=32`, end to end"] = (
            keras["wall_seconds"] / steps["wall_seconds"]
        )
    summary = Table(["figure", "value"])
    for name, value in ratios.items():
        summary.add(name, f"{value:.1f}" if name.endswith(", s") else f"{value:.2f}×")
    return {"fit": results, "fit_beside_a_busy_process": busy, "ratios": ratios}, {
        "fit": table,
        "fit-ratios": summary,
    }


#: Thread settings ``threads`` measures: (overrides, environment) each. ``GOMP_SPINCOUNT``: how long an idle
#: OpenMP thread spins before it sleeps (libgomp's default is 300,000 spins).
THREAD_SETTINGS = {
    "`torch_threads=1` (the default)": ([], {}),
    "`torch_threads=null` (all cores)": (["torch_threads=null"], {}),
    "`torch_threads=null`, `GOMP_SPINCOUNT=1000`": (["torch_threads=null"], {"GOMP_SPINCOUNT": "1000"}),
    "`torch_threads=null`, `OMP_WAIT_POLICY=PASSIVE`": (
        ["torch_threads=null"],
        {"OMP_WAIT_POLICY": "PASSIVE"},
    ),
}


def threads(tmp: Path, repeat: int) -> tuple[dict, dict[str, Table]]:
    """Our fit under each thread setting, alone and beside one and two CPU-bound processes."""
    figures: dict = {}
    for load in (0, 1, 2):
        with competing(load):
            measures = {
                name: (lambda o=overrides, e=env: run_ours(o, _folder(tmp, "threads"), e))
                for name, (overrides, env) in THREAD_SETTINGS.items()
            }
            figures[load] = {name: fastest(t, "fit_seconds") for name, t in rounds(measures, repeat).items()}
    table = Table(["threads", "quiet fit s", "beside 1 busy process", "beside 2"])
    for name in THREAD_SETTINGS:
        table.add(name, *(f"{figures[load][name]['fit_seconds']:.2f}" for load in (0, 1, 2)))
    return {"threads": figures}, {"threads": table}


def scaling(tmp: Path, repeat: int) -> tuple[dict, dict[str, Table]]:
    """Our fit at 10k/20k/50k/all words and at 5k-20k training reviews."""
    words = {
        w: (lambda w=w: run_ours([f"data.num_words={w}"], _folder(tmp, "words")))
        for w in ("10000", "20000", "50000", "null")
    }
    sizes = {
        25000 - v: (lambda v=v: run_ours([f"data.val_size={v}"], _folder(tmp, "size")))
        for v in (20000, 15000, 10000, 5000)
    }
    vocab = {w: fastest(t, "fit_seconds") for w, t in rounds(words, repeat).items()}
    reviews = {n: fastest(t, "fit_seconds") for n, t in rounds(sizes, repeat).items()}
    table = Table(["num_words", "fit s", "peak RSS MB", "", "training reviews", "fit s", "peak RSS MB"])
    for (w, a), (n, b) in zip(vocab.items(), reviews.items(), strict=True):
        shown = "all (Keras's `num_words=None`)" if w == "null" else f"{int(w):,}"
        table.add(
            shown,
            f"{a['fit_seconds']:.2f}",
            f"{a['peak_rss_mb']:.0f}",
            "",
            f"{n:,}",
            f"{b['fit_seconds']:.2f}",
            f"{b['peak_rss_mb']:.0f}",
        )
    return {"scaling": {"num_words": vocab, "train_reviews": reviews}}, {"scaling": table}


#: The grid's launchers: the basic one (one job after another) and joblib's two processes.
LAUNCHERS = {"basic": [], "joblib, 2 jobs": ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"]}


def grid(tmp: Path, repeat: int) -> tuple[dict, dict[str, Table]]:
    """The whole lecture grid (every experiment, one seed, with test) under each launcher."""
    figures = {}
    for name, chosen in LAUNCHERS.items():
        folder = _folder(tmp, "grid")
        started = time.perf_counter()
        sweep_peak_mb(["+experiment=glob(*)", f"hydra.sweep.dir={folder}", *chosen])
        wall = time.perf_counter() - started
        fits = [json.loads(m.read_text())["fit_seconds"] for m in folder.glob("*/metrics.json")]
        figures[name] = {"seconds": wall, "fit_seconds": sum(fits), "jobs": len(fits)}
    table = Table(["launcher", "jobs", "wall s", "the jobs' fits, s", "wall / basic launcher's"])
    basic = figures["basic"]["seconds"]
    for name, f in figures.items():
        table.add(
            name, f["jobs"], f"{f['seconds']:.0f}", f"{f['fit_seconds']:.0f}", f"{f['seconds'] / basic:.2f}"
        )
    return {"grid": figures}, {"grid": table}


def sweep_memory(tmp: Path, jobs: int) -> tuple[dict, dict[str, Table]]:
    """The peak memory of a one-epoch ``jobs``-job sweep."""
    rss = sweep_peak_mb(
        [f"seed=range(0,{jobs})", "trainer.max_epochs=1", f"hydra.sweep.dir={_folder(tmp, 'memory')}"]
    )
    table = Table(["sweep", "peak RSS MB"])
    table.add(f"{jobs} one-epoch jobs", f"{rss:.0f}")
    return {"sweep_memory": {"jobs": jobs, "peak_rss_mb": rss}}, {"sweep-memory": table}

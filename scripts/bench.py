#!/usr/bin/env python
"""Benchmark the 20-epoch baseline fit: our app vs hand-written PyTorch loops vs the lecture's Keras model.

Every measurement runs in its own process (so peak resident memory is that run's alone), one after the
other on the same machine, in interleaved rounds, and the fastest of ``--repeat`` tries is kept: this
machine is shared and noisy, so read the ratios rather than the seconds.

    IMDB_LIGHTNING_DATA=../shared/data python scripts/bench.py [--repeat 2] [--scaling] [--grid]

(a) ``ours``: ``python -m imdb_lightning +experiment=baseline`` (its default path; fit time from its
    ``metrics.json``), and ``lightning-bare``: the same LightningModule and DataModule in a ``Trainer``
    without callbacks, logger or checkpoints (Lightning's own cost, apart from our run folder);
(b) ``loop-dense`` / ``loop-sparse``: a minimal PyTorch loop on the same data and model, multi-hot rows
    or the bag, validating every epoch as Keras's ``fit`` does;
(c) ``keras``: the lecture's code when TensorFlow is installed (skipped with a message otherwise).
``--scaling`` adds our fit at num_words 10k/20k/50k/full and at 5k/10k/15k/20k training reviews;
The fit table also runs ours and Keras beside one CPU-bound process (``competing``); ``--threads`` runs our
fit under each of ``THREAD_SETTINGS``, alone and beside one and two such processes.
``--grid`` times every experiment with one seed (wall time, total fit, the rest per job); ``--sweep-memory N``
measures a one-epoch N-job sweep's peak memory. ``--device cuda`` runs ours, the bare Trainer and the loops
on the GPU, ours in both batch formats (multi-hot rows, the default there, and the bag), and adds each
run's peak GPU memory; Keras stays on the CPU and is left out there. ``--json PATH`` also writes the figures
to a file. The last line is one JSON object of all figures.
``scripts/bench_lightning.py`` breaks the gap between (a) and (b) down.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

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
    """The lecture's own code: dense multi-hot float matrices and a Keras Sequential model."""
    try:
        import numpy as np
        from tensorflow import keras  # noqa: F401
    except ImportError:
        return {
            "skipped": "TensorFlow is not installed (pip install tensorflow to include the Keras baseline)"
        }
    from tensorflow.keras import layers, models

    dm = _data("dense")

    def vectorize(split):
        out = np.zeros((len(split), 10000))
        for i in range(len(split)):
            out[i, split.ids[split.offsets[i] : split.offsets[i + 1]]] = 1.0
        return out

    x_train, x_val = vectorize(dm.splits["train"]), vectorize(dm.splits["val"])
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
        x_train,
        dm.splits["train"].labels,
        epochs=EPOCHS,
        batch_size=512,
        validation_data=(x_val, dm.splits["val"].labels),
        verbose=0,
    )
    return {"fit_seconds": time.perf_counter() - start, "val_acc": float(history.history["val_accuracy"][-1])}


WORKERS = {
    "loop-dense": lambda: worker_loop("dense"),
    "loop-sparse": lambda: worker_loop("bag"),
    "lightning-bare": worker_lightning_bare,
    "keras": worker_keras,
}


# ------------------------------------------------------------------------------------------ driver


def measured(cmd: list[str], env: dict | None = None) -> tuple[int, str, float]:
    """Run ``cmd``; return its exit code, its output and its own peak resident memory (MB)."""
    with tempfile.TemporaryFile("w+") as out:
        proc = subprocess.Popen(
            cmd, stdout=out, stderr=subprocess.STDOUT, env=env or os.environ.copy(), text=True
        )
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        return proc.returncode, out.read(), usage.ru_maxrss / 1024


def sweep(overrides: list[str], on: str) -> float:
    """``python -m imdb_lightning -m OVERRIDES`` on device ``on``; its peak resident memory (MB). The driver
    imports no torch, so a child's ``ru_maxrss`` is its own: the sweep's whole peak."""
    cmd = [sys.executable, "-m", "imdb_lightning", "-m", *overrides, "trainer.enable_progress_bar=false"]
    code, output, rss = measured([*cmd, f"trainer.accelerator={ACCELERATORS[on]}"])
    if code != 0:
        raise SystemExit(output[-3000:])
    return rss


def run_ours(overrides: list[str], folder: Path, env: dict | None = None) -> dict:
    """``python -m imdb_lightning +experiment=baseline`` on ``device()``: its fit (from ``metrics.json``), its
    whole process from start to exit (``wall_seconds``) and its peak memory; ``env``: added to the
    environment."""
    cmd = [
        sys.executable,
        "-m",
        "imdb_lightning",
        "+experiment=baseline",
        "test=false",
        "trainer.enable_progress_bar=false",
    ]
    cmd += [f"trainer.accelerator={ACCELERATORS[device()]}", f"hydra.run.dir={folder}", *overrides]
    start = time.perf_counter()
    code, output, rss = measured(cmd, {**os.environ, **(env or {})})
    wall = time.perf_counter() - start
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
    start = time.perf_counter()
    code, output, rss = measured([python, __file__, "--worker", name])
    wall = time.perf_counter() - start
    if code != 0:
        raise SystemExit(f"worker {name} failed:\n{output[-3000:]}")
    result = json.loads(output.strip().splitlines()[-1])
    if "skipped" not in result:
        result.update(peak_rss_mb=rss, wall_seconds=wall)
    return result


@contextlib.contextmanager
def competing(processes: int) -> Iterator[None]:
    """``processes`` CPU-bound competitors (a busy loop each, as a second job or another program would be)
    for the block's duration, then stopped."""
    busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(processes)]
    try:
        time.sleep(0.5 if busy else 0)  # scheduled before the measure starts
        yield
    finally:
        for proc in busy:
            proc.kill()
            proc.wait()


#: Thread settings measured by ``--threads``: (overrides, environment) each. ``GOMP_SPINCOUNT``: how long
#: an idle OpenMP thread spins before it sleeps (libgomp's default is 300,000 spins).
THREAD_SETTINGS = {
    "torch_threads=1 (default)": ([], {}),
    "torch_threads=null (all cores)": (["torch_threads=null"], {}),
    "torch_threads=null, GOMP_SPINCOUNT=1000": (["torch_threads=null"], {"GOMP_SPINCOUNT": "1000"}),
    "torch_threads=null, OMP_WAIT_POLICY=PASSIVE": (["torch_threads=null"], {"OMP_WAIT_POLICY": "PASSIVE"}),
}


def best_of(tries: list[dict]) -> dict:
    if "skipped" in tries[0]:
        return tries[0]
    best = min(tries, key=lambda r: r["fit_seconds"])
    return {**best, "tries_fit_seconds": [round(t["fit_seconds"], 3) for t in tries]}


def interleaved(measures: dict, repeat: int) -> dict[str, dict]:
    """Run every measure once per round, ``repeat`` rounds, and keep each one's fastest: a burst of load
    from the machine's neighbours then slows one try of each rather than all tries of one."""
    tries: dict[str, list[dict]] = {name: [] for name in measures}
    for _ in range(repeat):
        for name, measure in measures.items():
            if not tries[name] or "skipped" not in tries[name][0]:
                tries[name].append(measure())
    return {name: best_of(t) for name, t in tries.items()}


def row(name: str, r: dict) -> str:
    if "skipped" in r:
        return f"| {name} | skipped: {r['skipped']} | | | |" + (" |" if device() == "cuda" else "")
    cells = [
        name,
        f"{r['fit_seconds']:.2f}",
        f"{1000 * r['fit_seconds'] / EPOCHS:.0f}",
        f"{r['peak_rss_mb']:.0f}",
    ]
    if device() == "cuda":
        cells.append(f"{r['gpu_peak_mb']:.0f}" if "gpu_peak_mb" in r else "")
    return "| " + " | ".join([*cells, f"{r['val_acc']:.4f}"]) + " |"


def fit_table(args: argparse.Namespace, tmp: Path, figures: dict) -> None:
    """The 20-epoch baseline fit: ours, the bare Trainer, the hand-written loops and Keras."""
    measures = {"ours": lambda: run_ours([], tmp / f"ours-{time.monotonic_ns()}")}
    if args.device != "cpu":  # ours defaults to multi-hot rows on an accelerator; the bag beside it
        measures["ours-bag"] = lambda: run_ours(
            ["data.batch_format=bag"], tmp / f"ours-bag-{time.monotonic_ns()}"
        )
    measures.update(
        {
            "lightning-bare": lambda: run_worker("lightning-bare"),
            "loop-dense": lambda: run_worker("loop-dense"),
            "loop-sparse": lambda: run_worker("loop-sparse"),
        }
    )
    results = interleaved(measures, args.repeat)
    if args.device == "cpu":
        results["keras"] = best_of([run_worker("keras", args.keras_python)])
    else:
        results["keras"] = {"skipped": "TensorFlow runs on the CPU here; see the CPU table"}
    figures["fit"] = results
    # Users' machines are rarely idle: the same fits beside one CPU-bound process (a second job, a browser).
    with competing(1):
        busy = interleaved({"ours": measures["ours"]}, args.repeat)
        if "skipped" not in results["keras"]:
            busy["keras"] = best_of([run_worker("keras", args.keras_python)])
    figures["fit_beside_a_busy_process"] = busy
    best_loop = min(results["loop-dense"]["fit_seconds"], results["loop-sparse"]["fit_seconds"])
    figures["ours_vs_best_loop"] = results["ours"]["fit_seconds"] / best_loop
    figures["lightning_bare_vs_best_loop"] = results["lightning-bare"]["fit_seconds"] / best_loop
    if "skipped" not in results["keras"]:
        figures["keras_vs_ours"] = results["keras"]["fit_seconds"] / results["ours"]["fit_seconds"]

    print(f"\n20-epoch baseline fit ({figures['machine']}; fastest of {args.repeat}):\n")
    gpu_column = " peak GPU MB |" if args.device == "cuda" else ""
    print(
        f"| run | fit s | ms / epoch | peak RSS MB |{gpu_column} final val acc "
        f"|\n|---|---|---|---|{'---|' if gpu_column else ''}---|"
    )
    for name, r in results.items():
        print(row(name, r))
    print(
        f"\none run end to end (python -m imdb_lightning +experiment=baseline test=false): "
        f"{results['ours']['wall_seconds']:.1f} s"
    )
    print(f"\nours / best hand-written loop: {figures['ours_vs_best_loop']:.2f}x")
    print(
        f"bare Lightning (our module, no run folder) / best hand-written loop: "
        f"{figures['lightning_bare_vs_best_loop']:.2f}x"
    )
    quiet, contended = results["ours"]["fit_seconds"], busy["ours"]["fit_seconds"]
    print(f"beside one CPU-bound process: ours {contended:.2f} s ({contended / quiet:.2f}x its quiet fit)")
    if "keras" in busy:
        figures["keras_vs_ours_beside_a_busy_process"] = busy["keras"]["fit_seconds"] / contended
        print(
            f"  Keras {busy['keras']['fit_seconds']:.2f} s: "
            f"{figures['keras_vs_ours_beside_a_busy_process']:.1f}x ours"
        )
    if "keras_vs_ours" in figures:
        keras_wall, ours_wall = results["keras"]["wall_seconds"], results["ours"]["wall_seconds"]
        figures["keras_vs_ours_end_to_end"] = keras_wall / ours_wall
        print(f"Keras / ours: {figures['keras_vs_ours']:.1f}x faster (fit)")
        print(
            f"end to end, process start to exit: Keras's script {keras_wall:.1f} s, ours {ours_wall:.1f} s "
            f"({figures['keras_vs_ours_end_to_end']:.1f}x)"
        )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    parser.add_argument("--repeat", type=int, default=2, help="tries per measurement; the fastest is kept")
    parser.add_argument(
        "--scaling", action="store_true", help="also vary num_words and the training-set size"
    )
    parser.add_argument(
        "--grid", action="store_true", help="also time every experiment with one seed (a multirun)"
    )
    parser.add_argument(
        "--keras-python",
        default=sys.executable,
        help="interpreter with TensorFlow (and this package) for the Keras run; keep TensorFlow out of ours, "
        "where TensorBoard would import it and slow our start and fit",
    )
    parser.add_argument(
        "--device",
        choices=sorted(ACCELERATORS),
        default="cpu",
        help="where ours, the bare Trainer and the loops run",
    )
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument(
        "--threads",
        action="store_true",
        help="also our fit under each thread setting, alone and beside 1 and 2 CPU-bound processes",
    )
    parser.add_argument(
        "--no-fit-table", action="store_true", help="skip the fit table (with --threads, --grid, ...)"
    )
    parser.add_argument(
        "--sweep-memory", type=int, default=0, metavar="JOBS", help="also the peak memory of a JOBS-job sweep"
    )
    args = parser.parse_args()
    os.environ["IMDB_BENCH_DEVICE"] = args.device  # the workers and ours read it
    if args.worker:
        print(json.dumps(WORKERS[args.worker]()))
        return 0
    if not os.environ.get("IMDB_LIGHTNING_DATA"):
        print("note: IMDB_LIGHTNING_DATA is not set; the data comes from the download cache", file=sys.stderr)

    # No torch here: a child's peak RSS (ru_maxrss) starts from this process's RSS when it is forked.
    torch_version = importlib.metadata.version("torch")
    machine = f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch_version}"
    if args.device == "cuda":
        gpu = subprocess.run(
            ["nvidia-smi", "--query-gpu=name,driver_version", "--format=csv,noheader"],
            capture_output=True,
            text=True,
        )
        machine += f", GPU {gpu.stdout.strip() or 'unknown (no nvidia-smi)'}"
    figures: dict = {"machine": machine, "device": args.device, "epochs": EPOCHS}
    tmp = Path(tempfile.mkdtemp(prefix="imdb-bench-"))
    print("warming the data cache ...", file=sys.stderr)
    run_worker("loop-sparse")
    if not args.no_fit_table:
        fit_table(args, tmp, figures)

    if args.scaling:
        vocab = interleaved(
            {
                w: (lambda w=w: run_ours([f"data.num_words={w}"], tmp / f"words-{w}-{time.monotonic_ns()}"))
                for w in ("10000", "20000", "50000", "null")
            },
            args.repeat,
        )
        sizes = interleaved(
            {
                25000 - v: (
                    lambda v=v: run_ours([f"data.val_size={v}"], tmp / f"size-{v}-{time.monotonic_ns()}")
                )
                for v in (20000, 15000, 10000, 5000)
            },
            args.repeat,
        )
        figures["scaling"] = {"num_words": vocab, "train_reviews": sizes}
        print("\n| num_words | fit s | peak RSS MB |\n|---|---|---|")
        for words, r in vocab.items():
            print(
                f"| {'all' if words == 'null' else words} | {r['fit_seconds']:.2f} | {r['peak_rss_mb']:.0f} |"
            )
        print("\n| training reviews | fit s | peak RSS MB |\n|---|---|---|")
        for n, r in sizes.items():
            print(f"| {n:,} | {r['fit_seconds']:.2f} | {r['peak_rss_mb']:.0f} |")

    if args.grid:
        # The basic launcher (one job after another) and joblib's two processes, side by side in time.
        launchers = {"basic": [], "joblib, 2 jobs": ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"]}
        figures["grid"] = {}
        for i, (name, chosen) in enumerate(launchers.items()):
            start = time.perf_counter()
            sweep(["+experiment=glob(*)", f"hydra.sweep.dir={tmp / f'grid-{i}'}", *chosen], args.device)
            wall = time.perf_counter() - start
            fits = [
                json.loads(m.read_text())["fit_seconds"] for m in (tmp / f"grid-{i}").glob("*/metrics.json")
            ]
            figures["grid"][name] = {"seconds": wall, "fit_seconds": sum(fits), "jobs": len(fits)}
            print(
                f"\nwhole lecture grid (every experiment, one seed, with test), {name} launcher: "
                f"{wall:.0f} s; the jobs' fits {sum(fits):.0f} s in all, "
                f"{(wall - sum(fits)) / len(fits):.2f} s a job besides"
            )
        basic, joblib = (figures["grid"][name]["seconds"] for name in launchers)
        print(f"joblib / basic wall time: {joblib / basic:.2f}")

    if args.threads:
        figures["threads"] = {}
        print("\n| threads | quiet fit s | beside 1 busy process | beside 2 |\n|---|---|---|---|")
        for load in (0, 1, 2):
            with competing(load):
                figures["threads"][load] = interleaved(
                    {
                        name: (
                            lambda o=overrides, e=env, i=i: run_ours(
                                o, tmp / f"threads-{i}-{time.monotonic_ns()}", e
                            )
                        )
                        for i, (name, (overrides, env)) in enumerate(THREAD_SETTINGS.items())
                    },
                    args.repeat,
                )
        for name in THREAD_SETTINGS:
            cells = [f"{figures['threads'][load][name]['fit_seconds']:.2f}" for load in (0, 1, 2)]
            print(f"| {name} | {' | '.join(cells)} |")

    if args.sweep_memory:
        rss = sweep(
            [
                f"seed=range(0,{args.sweep_memory})",
                "trainer.max_epochs=1",
                f"hydra.sweep.dir={tmp / 'memory'}",
            ],
            args.device,
        )
        figures["sweep_memory"] = {"jobs": args.sweep_memory, "peak_rss_mb": rss}
        print(f"peak resident memory of a {args.sweep_memory}-job one-epoch sweep: {rss:.0f} MB")

    if args.json:
        args.json.write_text(json.dumps(figures, indent=1))
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())

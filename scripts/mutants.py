#!/usr/bin/env python
"""Plant one-line bugs, one at a time, and check that the tests catch each (a mutation run; not part of CI).

Each mutant is a change a real edit could make to a module that holds the lecture's semantics. The run
copies the checkout once (``src``, ``conf``, ``tests``, ``docs``, ``pyproject.toml``), then for each mutant
changes one line of the copy, runs the mutant's tests against it (``PYTHONPATH`` points at the copy, so
subprocesses see the mutant too) and puts the line back. A mutant is *caught* when a test fails, a
*survivor* when all pass.

    IMDB_LIGHTNING_DATA=../shared/data python scripts/mutants.py [--only NAME ...] [--markdown PATH]

Each mutant runs its own tests: the mirrored test folder of its module and the scenario files that exercise
it (``-x``: it stops at the first failure), so the whole run takes minutes, not a suite per mutant.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
COPIED = ("src", "conf", "tests", "docs", "pyproject.toml")


@dataclass(frozen=True)
class Mutant:
    name: str
    module: str  # under src/imdb_lightning
    old: str
    new: str
    tests: tuple[str, ...]  # under tests/


NET = ("network",)
RUN = ("running", "scenarios/test_run_life.py")
MUTANTS = [
    # ---------------------------------------------------------------------------------- optimizers
    Mutant(
        "rmsprop default eps 1e-8",
        "network/optimizers.py",
        "rho: float = 0.9, eps: float = 1e-7) -> None:",
        "rho: float = 0.9, eps: float = 1e-8) -> None:",
        NET,
    ),
    Mutant(
        "rmsprop velocity weight rho for 1-rho",
        "network/kernels.py",
        "v = rho * velocity[i] + one_minus_rho * (g * g)",
        "v = rho * velocity[i] + rho * (g * g)",
        NET,
    ),
    Mutant(
        "rmsprop eps outside the root",
        "network/kernels.py",
        "param[i] = param[i] - (lr * g) / np.sqrt(v + eps)",
        "param[i] = param[i] - (lr * g) / (np.sqrt(v) + eps)",
        NET,
    ),
    Mutant(
        "rmsprop squared gradient reassociated",
        "network/kernels.py",
        "one_minus_rho * (g * g)",
        "(one_minus_rho * g) * g",
        NET,
    ),
    Mutant(
        "rmsprop by ops: velocity weight rho for 1-rho",
        "network/optimizers.py",
        "torch._foreach_mul_(squares, 1 - rho)",
        "torch._foreach_mul_(squares, rho)",
        NET,
    ),
    Mutant(
        "histogram edge value one bucket down",
        "network/kernels.py",
        "        if v < edges[k]:",
        "        if v <= edges[k]:",
        NET,
    ),
    Mutant(
        "adagrad default accumulator 0",
        "network/optimizers.py",
        "initial_accumulator_value: float = 0.1, eps",
        "initial_accumulator_value: float = 0.0, eps",
        NET,
    ),
    Mutant(
        "adam without first-moment bias correction",
        "network/optimizers.py",
        "math.sqrt(1 - beta2**t) / (1 - beta1**t) for t in steps",
        "math.sqrt(1 - beta2**t) for t in steps",
        NET,
    ),
    Mutant(
        "adamw default decay 0",
        "network/optimizers.py",
        "weight_decay: float = 0.004,",
        "weight_decay: float = 0.0,",
        NET,
    ),
    Mutant(
        "decoupled decay without lr",
        "network/optimizers.py",
        'torch._foreach_mul_(params, 1 - group["lr"] * group["weight_decay"])',
        'torch._foreach_mul_(params, 1 - group["weight_decay"])',
        NET,
    ),
    Mutant(
        "nadam schedule one step early",
        "network/optimizers.py",
        "mu, mu_next = beta1 * (1 - 0.5 * 0.96**t),",
        "mu, mu_next = beta1 * (1 - 0.5 * 0.96 ** (t - 1)),",
        NET,
    ),
    Mutant(
        "adamax without abs",
        "network/optimizers.py",
        "torch._foreach_maximum_(u, torch._foreach_abs(grads))",
        "torch._foreach_maximum_(u, grads)",
        NET,
    ),
    Mutant(
        "step count from 2",
        "network/optimizers.py",
        'state["step"] = state.get("step", 0) + 1',
        'state["step"] = state.get("step", 1) + 1',
        NET,
    ),
    # ---------------------------------------------------------------------------------- layers, model
    Mutant(
        "batchnorm momentum not converted",
        "network/layers.py",
        "super().__init__(num_features, eps=eps, momentum=1.0 - momentum)",
        "super().__init__(num_features, eps=eps, momentum=momentum)",
        NET,
    ),
    Mutant(
        "batchnorm default eps 1e-5",
        "network/layers.py",
        "momentum: float = 0.99, eps: float = 1e-3",
        "momentum: float = 0.99, eps: float = 1e-5",
        NET,
    ),
    Mutant(
        "batchnorm unbiased moving variance",
        "network/layers.py",
        "torch.var_mean(x, dim=0, correction=0)",
        "torch.var_mean(x, dim=0, correction=1)",
        NET,
    ),
    Mutant(
        "bag forward without bias",
        "network/layers.py",
        "return BagSum.apply(x.ids.long(), x.offsets.long(), self.kernel) + self.bias",
        "return BagSum.apply(x.ids.long(), x.offsets.long(), self.kernel)",
        NET,
    ),
    Mutant(
        "rmsprop keeps the arrays of replaced tensors",
        "network/optimizers.py",
        "key = tuple((t.data_ptr(), t.is_contiguous()) for t in tensors)",
        "key = tuple((0, t.is_contiguous()) for t in tensors)",
        NET,
    ),
    Mutant(
        "an execution skips Lightning's optimizer step though a hook listens",
        "network/model.py",
        "return _backward_is_hooks_only(trainer) and not listening and not trainer.gradient_clip_val",
        "return _backward_is_hooks_only(trainer) and not trainer.gradient_clip_val",
        NET,
    ),
    Mutant(
        "dropout keeps its rate",
        "network/model.py",
        'layers[f"dropout_{i}"] = nn.Dropout(dropout)',
        'layers[f"dropout_{i}"] = nn.Dropout(1 - dropout)',
        NET,
    ),
    Mutant(
        "l1 penalty squared",
        "network/model.py",
        "total = total + l1 * w.abs().sum()",
        "total = total + l1 * w.square().sum()",
        NET,
    ),
    Mutant(
        "l2 penalty halved (PyTorch's weight decay)",
        "network/model.py",
        "total = total + l2 * w.square().sum()",
        "total = total + l2 * w.square().sum() / 2",
        NET,
    ),
    Mutant(
        "loss without the penalty",
        "network/model.py",
        "            loss = loss + penalty",
        "            loss = loss",
        NET,
    ),
    Mutant(
        "accuracy thresholds logits at 0.5",
        "network/model.py",
        "self.total.add_(((logits > 0) == (target > 0.5)).sum())",
        "self.total.add_(((logits > 0.5) == (target > 0.5)).sum())",
        NET,
    ),
    Mutant(
        "predict_proba returns logits",
        "network/model.py",
        "return torch.sigmoid(self(x))",
        "return self(x)",
        (*NET, "results"),
    ),
    Mutant(
        "best val acc forgotten on resume",
        "network/model.py",
        "self.val_acc_best.persistent(True)",
        "self.val_acc_best.persistent(False)",
        (*NET, *RUN),
    ),
    # ---------------------------------------------------------------------------------- initializers
    Mutant(
        "he normal scale 1",
        "network/initializers.py",
        '"he_normal": _variance_scaling(2.0, "fan_in")',
        '"he_normal": _variance_scaling(1.0, "fan_in")',
        NET,
    ),
    Mutant(
        "glorot normal over fan_in",
        "network/initializers.py",
        '"glorot_normal": _variance_scaling(1.0, "fan_avg")',
        '"glorot_normal": _variance_scaling(1.0, "fan_in")',
        NET,
    ),
    Mutant(
        "glorot uniform limit sqrt(3/..)",
        "network/initializers.py",
        "limit = math.sqrt(6.0 / (fan_in + fan_out))",
        "limit = math.sqrt(3.0 / (fan_in + fan_out))",
        NET,
    ),
    Mutant(
        "random normal stddev 0.5",
        "network/initializers.py",
        '"random_normal": 0.05,',
        '"random_normal": 0.5,',
        NET,
    ),
    # ---------------------------------------------------------------------------------- data
    Mutant(
        "skip_top keeps the top word",
        "data/tokenizer.py",
        "keep = ids >= skip_top",
        "keep = ids > skip_top",
        ("data",),
    ),
    Mutant(
        "index_from default 2",
        "data/tokenizer.py",
        "    index_from: int = 3\n\n",
        "    index_from: int = 2\n\n",
        ("data",),
    ),
    Mutant(
        "validation from the end",
        "data/datamodule.py",
        '"val": train.take(np.arange(val_size)),',
        '"val": train.take(np.arange(len(train) - val_size, len(train))),',
        ("data",),
    ),
    Mutant(
        "memo key without val_size",
        "data/datamodule.py",
        "return (json.dumps(located[2], sort_keys=True), hp.cache, self.encoding, hp.val_size)",
        "return (json.dumps(located[2], sort_keys=True), hp.cache, self.encoding)",
        ("data",),
    ),
    # ---------------------------------------------------------------------------------- train, callbacks
    Mutant(
        "test_ckpt ignored",
        "running/train.py",
        'ckpt = "best" if cfg.test_ckpt == "best" else None',
        "ckpt = None",
        RUN,
    ),
    Mutant(
        "seed ignored for the weights",
        "running/train.py",
        "L.seed_everything(cfg.seed, workers=True, verbose=False)",
        "L.seed_everything(0, workers=True, verbose=False)",
        RUN,
    ),
    Mutant(
        "a diverged run recorded completed",
        "running/train.py",
        'status = Status.DIVERGED if recorded.get("status") == Status.DIVERGED.value else Status.COMPLETED',
        "status = Status.COMPLETED",
        RUN,
    ),
    Mutant(
        "epochs counted one more",
        "running/train.py",
        "epochs=trainer.current_epoch,",
        "epochs=trainer.current_epoch + 1,",
        RUN,
    ),
    Mutant(
        "threads not set",
        "running/train.py",
        "    torch.set_num_threads(threads)\n",
        "    pass\n",
        (*RUN, "scenarios/test_scale_out.py"),
    ),
    Mutant(
        "a run's figure title above matplotlib's place",
        "running/plots.py",
        "ax.set_title(heading, y=1.0)",
        "ax.set_title(heading, y=1.02)",
        ("running/test_plots.py",),
    ),
    Mutant(
        "history val keys swapped",
        "running/history.py",
        '"val_loss": "val/loss", "val_accuracy": "val/acc"',
        '"val_loss": "val/acc", "val_accuracy": "val/loss"',
        RUN,
    ),
    Mutant(
        "divergence factor 1000",
        "running/divergence.py",
        "def __init__(self, factor: float = 100.0, folder",
        "def __init__(self, factor: float = 1000.0, folder",
        RUN,
    ),
    Mutant(
        "divergence compares with the last batch",
        "running/divergence.py",
        "        if self.first_loss is None:\n            self.first_loss = float(losses[0])",
        "        if True:\n            self.first_loss = float(losses[0])",
        RUN,
    ),
    Mutant(
        "interrupted checkpoint counts the new epoch ready",
        "running/checkpoints.py",
        "        as_epoch_end(state)",
        "        pass",
        RUN,
    ),
    Mutant(
        "a dead run's mark read as running",
        "running/folder.py",
        "if status is Status.RUNNING and not RunFolder._owner_alive(metrics):",
        "if False and status is Status.RUNNING:",
        (*RUN, "results"),
    ),
    Mutant(
        "a refused run's record holds its folder",
        "running/folder.py",
        'return metrics is not None and not metrics.get("refused")',
        "return metrics is not None",
        RUN,
    ),
    Mutant(
        "hparams: diverged shown as success",
        "running/hparams.py",
        'Status.DIVERGED: "STATUS_FAILURE",',
        'Status.DIVERGED: "STATUS_SUCCESS",',
        ("running",),
    ),
    Mutant(
        "hparams: a run that raises ends as completed",
        "running/hparams.py",
        'outcome = {"status": Status.FAILED}',
        'outcome = {"status": Status.COMPLETED}',
        ("running",),
    ),
    # ---------------------------------------------------------------------------------- report, predict
    Mutant(
        "report means over every run",
        "results/report.py",
        "done = [r for r in members if r.status is Status.COMPLETED]",
        "done = list(members)",
        ("results",),
    ),
    Mutant(
        "best epoch counted from 0",
        "results/report.py",
        '"best_epoch": float(best + 1) if best >= 0 else math.nan,',
        '"best_epoch": float(best) if best >= 0 else math.nan,',
        ("results",),
    ),
    Mutant(
        "sample std",
        "results/report.py",
        "float(np.nanstd(v)) if",
        "float(np.nanstd(v, ddof=1)) if",
        ("results",),
    ),
    Mutant(
        "departures by the run-naming rule",
        "results/runs.py",
        "return [o for o in overrides if departs_from_lecture(split_override(o)[0])]",
        "return [o for o in overrides if names_the_run(split_override(o)[0])]",
        ("results",),
    ),
    Mutant(
        "predict labels at 0",
        "results/predict.py",
        'label = "positive" if p > 0.5 else "negative"',
        'label = "positive" if p > 0 else "negative"',
        ("results",),
    ),
    Mutant(
        "predict without the start id",
        "results/predict.py",
        'encoding = KerasEncoding(**state["encoding"])',
        'encoding = KerasEncoding(**{**state["encoding"], "start_char": None})',
        ("results",),
    ),
    # ---------------------------------------------------------------------------------- config
    Mutant(
        "incidental keys name runs",
        "config/overrides.py",
        "return not hydras_own(key) and key not in incidental_keys()",
        "return not hydras_own(key)",
        ("config", "results"),
    ),
    Mutant(
        "torch_threads shares cores wrongly",
        "config/runtime.py",
        "return max(1, cores // parallel_jobs)",
        "return max(1, cores)",
        ("config", "scenarios/test_scale_out.py"),
    ),
]


def copy_checkout(into: Path) -> None:
    for name in COPIED:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, into / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            shutil.copy2(source, into / name)


def run_mutant(mutant: Mutant, root: Path, timeout: int) -> tuple[str, float, str]:
    """The mutant's result (caught, survived, timeout) and seconds, and the first failing test."""
    path = root / "src" / "imdb_lightning" / mutant.module
    original = path.read_text()
    if original.count(mutant.old) != 1:
        raise SystemExit(f"{mutant.name}: the line to change is not once in {mutant.module}")
    path.write_text(original.replace(mutant.old, mutant.new))
    env = {**os.environ, "PYTHONPATH": str(root / "src"), "PYTHONDONTWRITEBYTECODE": "1"}
    if env.get("IMDB_LIGHTNING_DATA"):  # the tests run in the copy: a relative path is the caller's
        env["IMDB_LIGHTNING_DATA"] = os.path.abspath(env["IMDB_LIGHTNING_DATA"])
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-x",
        "-q",
        "-p",
        "no:cacheprovider",
        "-m",
        "not gpu and not keras",
    ]
    command += [f"tests/{t}" for t in mutant.tests]
    started = time.perf_counter()
    try:
        done = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True, timeout=timeout)
        failed = next(
            (line.split(" ")[1] for line in done.stdout.splitlines() if line.startswith("FAILED")), ""
        )
        if failed:  # pytest-xdist's -x ends as "interrupted" (exit 2) after the first failure
            result = "caught"
        elif done.returncode == 0:
            result = "survived"
        else:  # an error of collection or of pytest itself is no catch
            result, failed = "error", done.stdout[-300:]
    except subprocess.TimeoutExpired:
        result, failed = "timeout", ""
    finally:
        path.write_text(original)
    return result, time.perf_counter() - started, failed


def page(rows: list[tuple[Mutant, str, float, str]], summary: str) -> str:
    """The run as docs/mutants.md shows it: what was planted where, and the test that caught it."""
    command = " ".join(["python scripts/mutants.py", *sys.argv[1:]])
    lines = [
        "# Mutants",
        "",
        "One-line bugs of the kind a real change makes, planted one at a time by `scripts/mutants.py` in",
        "the modules that hold the lecture's semantics, each run against its module's tests and the",
        f"scenarios that use it (`{command}`, {time.strftime('%Y-%m-%d')}). How the suite is organised:",
        "[testing.md](testing.md).",
        "",
        "| module | mutant | result | first failing test |",
        "| --- | --- | --- | --- |",
    ]
    lines += [f"| `{m.module}` | {m.name} | {r} | `{f.removeprefix('tests/')}` |" for m, r, _, f in rows]
    return "\n".join([*lines, "", summary + ".", ""])


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", nargs="*", help="mutants whose name contains one of these")
    parser.add_argument("--timeout", type=int, default=900, help="seconds a mutant's tests may take")
    parser.add_argument("--markdown", type=Path, help="also write the results table to this file")
    args = parser.parse_args()
    chosen = [m for m in MUTANTS if not args.only or any(o in m.name for o in args.only)]
    rows = []
    with tempfile.TemporaryDirectory(prefix="imdb-mutants-") as tmp:
        root = Path(tmp)
        copy_checkout(root)
        for i, mutant in enumerate(chosen, 1):
            result, seconds, failed = run_mutant(mutant, root, args.timeout)
            rows.append((mutant, result, seconds, failed))
            print(
                f"[{i}/{len(chosen)}] {result:8} {seconds:6.1f} s  {mutant.module}: {mutant.name}  {failed}",
                flush=True,
            )
    caught = sum(result == "caught" for _, result, _, _ in rows)
    summary = f"{caught} of {len(rows)} mutants caught"
    print(summary)
    if args.markdown:
        args.markdown.write_text(page(rows, summary))
    return 0 if caught == len(rows) else 1


if __name__ == "__main__":
    sys.exit(main())

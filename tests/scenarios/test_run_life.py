"""A run's life, told truthfully by its folder: claimed, running, then completed, diverged, failed or
interrupted (Ctrl-C or SIGTERM) and resumable; a folder holds one run; a sweep's jobs are their folders."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import runs
import yaml

from imdb_lightning.results.runs import collect_runs
from imdb_lightning.running.folder import RunFolder, Status
from imdb_lightning.running.train import train
from imdb_lightning.utils.errors import ConfigError, Terminated

SMALL = runs.SMALL


def compose_run(data_dir: Path, out: Path, overrides: list[str]):
    return runs.compose_run(out, [f"data.data_dir={data_dir}", *SMALL, *overrides])


def stop_at(epoch: int, batch: int, how: str) -> list[str]:
    return [
        "+callbacks.stop._target_=runs.InterruptAt",
        f"+callbacks.stop.epoch={epoch}",
        f"+callbacks.stop.batch={batch}",
        f"+callbacks.stop.signal={how}",
    ]


# ------------------------------------------------------------------------------ stopped, and resumed exactly


@pytest.mark.parametrize("how", ["SIGTERM", "SIGINT"])
def test_a_run_stopped_mid_epoch_resumes_to_the_uninterrupted_runs_history_and_metrics(
    how, data_dir, tmp_path
):
    # Dropout 0.2 and a seed the resuming command changes: only a restored generator, optimizer and batch
    # order give the same numbers.
    common = ["model.dropout=0.2", "trainer.max_epochs=4", "trainer.accelerator=cpu"]
    whole = train(compose_run(data_dir, tmp_path / "whole", [*common, "seed=3"]))

    cut = tmp_path / "cut"
    raised = Terminated if how == "SIGTERM" else KeyboardInterrupt
    with pytest.raises(raised):
        train(compose_run(data_dir, cut, [*common, "seed=3", *stop_at(3, 2, how)]))
    metrics = json.loads((cut / "metrics.json").read_text())
    ckpt = cut / "checkpoints" / "interrupted.ckpt"
    assert metrics == {"status": "interrupted", "signal": how, "resume_from": str(ckpt)}
    assert RunFolder(cut).status() is Status.INTERRUPTED
    assert len(json.loads((cut / "history.json").read_text())["loss"]) == 2  # the completed epochs

    resumed = train(compose_run(data_dir, tmp_path / "resumed", [*common, "seed=99", f"ckpt_path={ckpt}"]))
    for key in ("loss", "val/loss", "val/acc", "val/acc_best", "test/loss", "test/acc"):
        if key in whole:
            assert resumed[key] == pytest.approx(whole[key], abs=1e-6), key
    whole_history = json.loads((tmp_path / "whole" / "history.json").read_text())
    resumed_history = json.loads((tmp_path / "resumed" / "history.json").read_text())
    assert resumed_history.keys() == whole_history.keys()
    for key, values in whole_history.items():
        assert resumed_history[key] == pytest.approx(values, abs=1e-6), key


def test_a_stopped_run_continues_in_its_own_folder_and_no_other_run_may(data_dir, tmp_path):
    run = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        train(compose_run(data_dir, run, ["trainer.max_epochs=3", *stop_at(2, 1, "SIGINT")]))
    # Another run into the stopped run's folder is refused, naming how to continue that one instead.
    with pytest.raises(ConfigError, match=r"holds another run \(interrupted\).*ckpt_path=.*interrupted.ckpt"):
        train(compose_run(data_dir, run, ["trainer.max_epochs=3"]))
    assert RunFolder(run).status() is Status.INTERRUPTED  # the refused run wrote nothing there
    # The run itself, continued from its own checkpoint, may.
    ckpt = run / "checkpoints" / "interrupted.ckpt"
    metrics = train(compose_run(data_dir, run, ["trainer.max_epochs=3", f"ckpt_path={ckpt}"]))
    assert metrics["status"] == "completed" and metrics["epochs"] == 3
    assert len(json.loads((run / "history.json").read_text())["loss"]) == 3
    # The finished run's folder offers no stale checkpoint to continue from: last.ckpt is its end.
    assert not ckpt.exists() and (run / "checkpoints" / "last.ckpt").is_file()
    with pytest.raises(ConfigError, match=r"holds another run \(completed\).*ckpt_path=.*last.ckpt"):
        train(compose_run(data_dir, run, ["trainer.max_epochs=3"]))


def test_a_stop_in_the_first_epoch_leaves_no_checkpoint_to_resume_from(data_dir, tmp_path):
    with pytest.raises(KeyboardInterrupt):
        train(compose_run(data_dir, tmp_path / "run", ["trainer.max_epochs=3", *stop_at(1, 2, "SIGINT")]))
    assert json.loads((tmp_path / "run" / "metrics.json").read_text()) == {
        "status": "interrupted",
        "signal": "SIGINT",
        "resume_from": None,
    }
    assert not (tmp_path / "run" / "checkpoints" / "interrupted.ckpt").exists()


def _start(args: list[str], cwd: Path) -> subprocess.Popen:
    """The command line in a child printing into ``cwd/output.txt`` (a pipe that nobody reads while it trains
    could fill up and stop it)."""
    with open(cwd / "output.txt", "w") as output:
        # Ctrl-C's default disposition in the child: a shell that started the tests may ignore it.
        return subprocess.Popen(
            [sys.executable, "-m", "imdb_lightning", *args],
            cwd=cwd,
            stdout=output,
            stderr=subprocess.STDOUT,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )


def _wait_for_epochs(
    pattern: str, cwd: Path, epochs: int, proc: subprocess.Popen, limit: float = 120
) -> None:
    """Until a history file matching ``pattern`` under ``cwd`` has ``epochs`` epochs."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline and proc.poll() is None:
        for history in cwd.glob(pattern):
            try:
                if len(json.loads(history.read_text())["loss"]) >= epochs:
                    return
            except (OSError, ValueError, KeyError):
                pass
        time.sleep(0.1)
    raise AssertionError(f"no {epochs} epochs in {pattern} (exit status {proc.poll()})")


def _stop(proc: subprocess.Popen, how: str, cwd: Path) -> str:
    """Send the signal; the child's output once it ends (within a minute)."""
    proc.send_signal(getattr(signal, how))
    proc.wait(timeout=60)
    return (cwd / "output.txt").read_text()


@pytest.mark.slow
@pytest.mark.parametrize(
    ("how", "code", "last_line"),
    [("SIGTERM", 143, "terminated by SIGTERM: stopped"), ("SIGINT", 130, "interrupted (Ctrl-C)")],
)
def test_a_stopped_command_line_run_keeps_what_it_measured_says_how_to_go_on_and_exits_128_plus_the_signal(
    how, code, last_line, data_dir, tmp_path
):
    run = tmp_path / "run"
    args = [*SMALL, "trainer.max_epochs=100000", f"data.data_dir={data_dir}", f"hydra.run.dir={run}"]
    with runs.reaped([_start(args, tmp_path)]) as (proc,):
        _wait_for_epochs("run/history.json", tmp_path, 2, proc)
        assert RunFolder(run).status() is Status.RUNNING
        out = _stop(proc, how, tmp_path)
    assert proc.returncode == code, out[-2000:]
    assert "Traceback" not in out and out.strip().splitlines()[-1] == last_line
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["status"] == "interrupted" and metrics["signal"] == how
    assert Path(metrics["resume_from"]).is_file() and f"ckpt_path={metrics['resume_from']}" in out
    assert RunFolder(run).status() is Status.INTERRUPTED
    assert len(json.loads((run / "history.json").read_text())["loss"]) >= 2
    assert (run / "loss.png").is_file() and (run / "accuracy.png").is_file()


@pytest.mark.slow
def test_a_terminated_sweep_exits_143_and_its_report_shows_the_stopped_and_the_unrun_jobs(data_dir, tmp_path):
    sweep = tmp_path / "sweep"
    args = [
        "-m",
        *SMALL,
        "trainer.max_epochs=100000",
        f"data.data_dir={data_dir}",
        f"hydra.sweep.dir={sweep}",
    ]
    with runs.reaped([_start([*args, "seed=0,1,2"], tmp_path)]) as (proc,):
        _wait_for_epochs("sweep/0-*/history.json", tmp_path, 1, proc)
        out = _stop(proc, "SIGTERM", tmp_path)
    assert proc.returncode == 143, out[-2000:]
    statuses = [(run.job, run.status) for run in collect_runs(sweep)]
    assert statuses == [(0, Status.INTERRUPTED), (1, Status.MISSING), (2, Status.MISSING)]


# ----------------------------------------------------------------------------- one folder, one run


def test_a_second_run_into_a_finished_runs_folder_is_refused_and_leaves_it_as_it_was(data_dir, tmp_path):
    run = tmp_path / "run"
    train(compose_run(data_dir, run, ["trainer.max_epochs=1"]))
    before = {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()}
    with pytest.raises(ConfigError, match=r"holds another run \(completed\)"):
        train(compose_run(data_dir, run, ["trainer.max_epochs=1", "model.hidden_sizes=[8]"]))
    assert {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()} == before


@pytest.mark.slow
def test_on_the_command_line_a_taken_folder_is_refused_before_hydra_writes_into_it(data_dir, tmp_path):
    run = tmp_path / "run"
    args = [*SMALL, f"data.data_dir={data_dir}", f"hydra.run.dir={run}", "trainer.max_epochs=1"]
    subprocess.run(
        [sys.executable, "-m", "imdb_lightning", *args], cwd=tmp_path, check=True, capture_output=True
    )
    overrides = (run / ".hydra" / "overrides.yaml").read_text()
    second = subprocess.run(
        [sys.executable, "-m", "imdb_lightning", *args, "model.hidden_sizes=[8]"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert second.returncode == 2
    assert second.stderr.strip().startswith("error: the run folder") and "holds another run" in second.stderr
    assert len(second.stderr.strip().splitlines()) == 1
    assert (run / ".hydra" / "overrides.yaml").read_text() == overrides  # the first run's record


def test_of_processes_claiming_one_folder_at_once_exactly_one_gets_it(tmp_path):
    folder = tmp_path / "run"
    claim = textwrap.dedent(
        f"""
        import sys, time
        from imdb_lightning.utils.errors import ConfigError
        from imdb_lightning.running.folder import RunFolder
        while time.time() < {time.time() + 1.5}:
            pass
        try:
            RunFolder({str(folder)!r}).claim()
        except ConfigError:
            sys.exit(3)
        time.sleep(1)  # alive while the others try
        """
    )
    with runs.reaped([subprocess.Popen([sys.executable, "-c", claim]) for _ in range(6)]) as procs:
        codes = sorted(p.wait(timeout=60) for p in procs)
    assert codes == [0, 3, 3, 3, 3, 3]


def test_a_running_mark_reads_as_running_while_its_process_lives_and_crashed_after(tmp_path):
    folder = RunFolder(tmp_path / "run")
    folder.claim()
    assert folder.status() is Status.RUNNING and folder.owned_here()
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    folder.write_metrics({**folder.running_mark(), "pid": int(dead.stdout)})
    assert folder.status() is Status.CRASHED and not folder.owned_here()
    folder.write_metrics({**folder.running_mark(), "host": "another-host"})
    assert folder.status() is Status.RUNNING  # another machine's process cannot be looked at: trusted
    with pytest.raises(ConfigError, match="still running"):
        RunFolder(folder.path).claim()


def test_the_run_folders_file_names_are_the_configs():
    """The callbacks config names the checkpoint folder and best.ckpt: the same names RunFolder reads."""
    conf = Path(__file__).parents[2] / "conf" / "callbacks"
    best = yaml.safe_load((conf / "model_checkpoint.yaml").read_text())["model_checkpoint"]
    last = yaml.safe_load((conf / "last_checkpoint.yaml").read_text())["last_checkpoint"]
    assert best["dirpath"] == last["dirpath"] == f"${{paths.output_dir}}/{RunFolder.CHECKPOINTS}"
    assert f"{best['filename']}.ckpt" == RunFolder.BEST
    hydra_conf = yaml.safe_load((conf.parent / "hydra" / "default.yaml").read_text())
    assert f"{hydra_conf['job']['name']}.log" == RunFolder.LOG


# ------------------------------------------------------------------------------ a sweep's jobs are folders


def _job(sweep: Path, name: str, overrides: list[str], metrics: dict | None) -> Path:
    folder = sweep / name
    (folder / ".hydra").mkdir(parents=True)
    (folder / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(overrides))
    if metrics is not None:
        (folder / "metrics.json").write_text(json.dumps(metrics))
    return folder


def test_two_sweeps_into_one_folder_are_every_job_of_both(tmp_path):
    sweep = tmp_path / "sweep"
    for name, seed in (("0-seed=0", 0), ("1-seed=1", 1), ("0-seed=2", 2), ("1-seed=3", 3)):
        _job(sweep, name, [f"seed={seed}"], {"status": "completed"})
    # The second sweep's plan (Hydra rewrites multirun.yaml): seeds 2 and 3, both there.
    (sweep / "multirun.yaml").write_text(yaml.safe_dump({"hydra": {"overrides": {"task": ["seed=2,3"]}}}))
    found = collect_runs(sweep)
    assert sorted(r.folder.name for r in found) == ["0-seed=0", "0-seed=2", "1-seed=1", "1-seed=3"]
    assert {r.status for r in found} == {Status.COMPLETED}


def test_a_planned_job_is_missing_only_when_no_folder_ran_its_overrides(tmp_path):
    sweep = tmp_path / "sweep"
    _job(sweep, "0-seed=0", ["seed=0"], {"status": "completed"})
    _job(sweep, "2-seed=2", ["seed=2"], {"status": "failed", "error": "RuntimeError: boom"})
    (sweep / "multirun.yaml").write_text(yaml.safe_dump({"hydra": {"overrides": {"task": ["seed=0,1,2"]}}}))
    statuses = {r.folder.name: r.status for r in collect_runs(sweep)}
    assert statuses == {"0-seed=0": Status.COMPLETED, "1-?": Status.MISSING, "2-seed=2": Status.FAILED}


def test_a_live_job_is_running_and_a_dead_one_crashed(tmp_path):
    sweep = tmp_path / "sweep"
    alive = RunFolder(_job(sweep, "0-seed=0", ["seed=0"], None))
    alive.claim()
    dead = _job(sweep, "1-seed=1", ["seed=1"], {**alive.running_mark(), "pid": 2**22 + 12345})
    _job(sweep, "2-seed=2", ["seed=2"], None)  # killed before it wrote anything
    statuses = {r.folder.name: r.status for r in collect_runs(sweep)}
    assert statuses == {"0-seed=0": Status.RUNNING, dead.name: Status.CRASHED, "2-seed=2": Status.CRASHED}


def test_one_odd_job_folder_never_stops_the_report(tmp_path):
    from imdb_lightning.results.report import write_report

    sweep = tmp_path / "sweep"
    good = _job(sweep, "0-seed=0", ["seed=0"], {"status": "completed", "test/acc": 0.8})
    (good / "history.json").write_text(json.dumps({"loss": [0.5, 0.4], "val_accuracy": [0.7, 0.8]}))
    odd = _job(sweep, "1-seed=1.5", ["seed=1.5"], {"status": "failed", "error": "ConfigError: seed must be"})
    (odd / "history.json").write_text(json.dumps({"loss": "not a list"}))  # valid JSON, wrong shape
    _job(sweep, "2-seed=2", ["seed=2"], {"status": "completed"})
    (sweep / "2-seed=2" / "history.json").write_text(json.dumps([1, 2, 3]))
    report = write_report(sweep).read_text()
    assert "`1-seed=1.5` (seed=1.5, seed 1.5): failed" in report or "1-seed=1.5" in report
    assert "unreadable: history.json" in report
    by_name = {r.folder.name: r for r in collect_runs(sweep)}
    assert by_name["1-seed=1.5"].seed == "1.5" and by_name["1-seed=1.5"].history == {}
    assert by_name["0-seed=0"].history["loss"] == [0.5, 0.4]


def test_sigterm_before_fit_while_the_data_loads_is_an_interruption_too(data_dir, tmp_path, monkeypatch):
    """Lightning's handler covers fit only: Python's default would end the process, leaving 'running'."""
    from imdb_lightning.data import cache as cache_module  # load_corpus finds read_corpus there

    def terminated(*args):
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(1)

    monkeypatch.setattr(cache_module, "read_corpus", terminated)
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(Terminated):
        train(compose_run(data_dir, tmp_path / "run", ["trainer.max_epochs=2"]))
    assert RunFolder(tmp_path / "run").read_metrics() == {
        "status": "interrupted",
        "signal": "SIGTERM",
        "resume_from": None,
    }
    assert signal.getsignal(signal.SIGTERM) == before  # given back to whoever had it


def test_a_failure_inside_a_constructor_hydra_calls_is_named_by_its_cause():
    """Hydra wraps it ("Error in call to target ...:", the cause on the next line): a model too large for
    memory said only that."""
    import hydra
    from hydra.errors import InstantiationException

    from imdb_lightning.utils.errors import in_one_line

    with pytest.raises(InstantiationException) as info:
        hydra.utils.instantiate({"_target_": "builtins.bytearray", "_args_": [-1]})
    assert in_one_line(info.value) == "ValueError: negative count"


def test_a_second_sigterm_while_the_first_is_handled_is_ignored():
    from imdb_lightning.utils.errors import sigterm_interrupts

    with pytest.raises(Terminated), sigterm_interrupts():
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(1)
        except Terminated:
            os.kill(os.getpid(), signal.SIGTERM)  # the checkpoint is being written: not again
            time.sleep(0.1)
            raise


def test_a_full_disk_while_last_ckpt_is_written_leaves_the_earlier_one_whole(data_dir, tmp_path, monkeypatch):
    import errno

    import lightning as L
    import torch

    run = tmp_path / "run"
    train(compose_run(data_dir, run, ["trainer.max_epochs=2", "test=false"]))
    last = run / "checkpoints" / "last.ckpt"
    before = last.read_bytes()

    def disk_full(self, path, *args, **kwargs):
        Path(path).write_bytes(before[:100])  # what a full disk leaves: the start of the file
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(L.Trainer, "save_checkpoint", disk_full)
    with pytest.raises(OSError, match="No space left"):
        train(compose_run(data_dir, run, ["trainer.max_epochs=3", "test=false", f"ckpt_path={last}"]))
    assert last.read_bytes() == before  # still the run's epoch-2 state, which resumes
    assert torch.load(last, map_location="cpu", weights_only=True)["epoch"] == 2
    assert RunFolder(run).read_metrics()["error"] == "OSError: [Errno 28] No space left on device"


def test_a_run_refused_for_its_config_leaves_its_folder_to_the_corrected_command(data_dir, tmp_path):
    run = tmp_path / "run"
    with pytest.raises(ConfigError, match="model.dropout"):
        train(compose_run(data_dir, run, ["trainer.max_epochs=1", "model.dropout=1.5"]))
    assert RunFolder(run).read_metrics()["status"] == "failed"  # said where the run was to be
    metrics = train(compose_run(data_dir, run, ["trainer.max_epochs=1", "model.dropout=0.2"]))
    assert metrics["status"] == "completed" and RunFolder(run).status() is Status.COMPLETED


def test_a_refused_continuation_of_a_stopped_run_leaves_it_as_it_was(data_dir, tmp_path):
    run = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        train(compose_run(data_dir, run, ["trainer.max_epochs=3", *stop_at(2, 1, "SIGINT")]))
    stopped = RunFolder(run).read_metrics()
    ckpt = run / "checkpoints" / "interrupted.ckpt"
    with pytest.raises(ConfigError, match="model.activation=relu"):
        overrides = ["trainer.max_epochs=3", f"ckpt_path={ckpt}", "model.activation=tanh"]
        train(compose_run(data_dir, run, overrides))
    assert RunFolder(run).read_metrics() == stopped  # still interrupted, still resumable

"""Bad input gets a clear answer: every case here is tried, checked, and written to a table.

The table lands in the test's temporary folder; ``IMDB_LIGHTNING_WRITE_DOCS=1 pytest
tests/scenarios/test_bad_inputs.py`` rewrites ``docs/bad_inputs.md`` from it (the committed copy must list
every case, which a test checks).
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import read_only
from runs import SMALL, compose_run, composed, train_small_run
from synthetic import make_data_dir

from imdb_lightning.config.validate import validate
from imdb_lightning.data import IMDBDataModule, load_corpus
from imdb_lightning.data.sources import Download, cache_dir, fetch
from imdb_lightning.running.train import train
from imdb_lightning.utils.errors import ConfigError, DataError

DOC = Path(__file__).parents[2] / "docs" / "bad_inputs.md"
WRITE_DOCS = bool(os.environ.get("IMDB_LIGHTNING_WRITE_DOCS"))


class Rows(dict):
    """The table's rows, ``{input: (kind, answer)}``. Each case checks, as it records its row, that the
    committed docs/bad_inputs.md lists it, whichever tests run (``-k``, in parallel, in any order); the whole
    module run with ``IMDB_LIGHTNING_WRITE_DOCS=1`` rewrites the page when it ends
    (:func:`table_of_bad_inputs`)."""

    def __setitem__(self, name: str, row: tuple[str, str]) -> None:
        super().__setitem__(name, row)
        if not WRITE_DOCS:
            assert name in DOC.read_text(), (
                f"docs/bad_inputs.md does not list {name} (rerun the module with IMDB_LIGHTNING_WRITE_DOCS=1)"
            )


ROWS = Rows()


def first_line(text: str, tmp: Path) -> str:
    line = str(text).strip().splitlines()[0]
    return re.sub(re.escape(str(tmp)) + r"[^\s'`]*", "<tmp>", line)


CONFIG_CASES = {
    "model.dropout=1.5": ConfigError,
    "model.dropout=-0.1": ConfigError,
    "optimizer.lr=0": ConfigError,
    "data.batch_size=0": ConfigError,
    "data.num_words=3": ConfigError,
    "data.val_size=0": ConfigError,
    "model.hidden_sizes=[]": ConfigError,
    "model.hidden_sizes=[16,-4]": ConfigError,
    "model.init=xavier": ConfigError,
    "model.activation=swish2": ConfigError,
    "data.word_index=glove": ConfigError,
    "optimizer.lr=fast": ConfigError,
    "trainer.max_epochs=3.5": ConfigError,
    "data.batch_size=true": ConfigError,
    "data.cache=yes": ConfigError,
    "+model.dropuot=0.5": ConfigError,
    # the run gives the model its input width (the data's): the setting was ignored without a word
    "+model.input_dim=3": ConfigError,
    "+optimizer.nosuch=1": ConfigError,
    "optimizer=adam optimizer.betas=[2,0.9]": ConfigError,
    "optimizer=adam optimizer.betas=0.9": ConfigError,
    "optimizer=adamw optimizer.weight_decay=-1": ConfigError,
    "optimizer.rho=1": ConfigError,
    "scheduler=step scheduler.step_size=0": ConfigError,
    "seed=-5": ConfigError,
    "data.seed=-1": ConfigError,
    "scheduler=cosine scheduler.T_max=0": ConfigError,
    "scheduler=exponential scheduler.gamma=-0.5": ConfigError,
    # Lightning takes these and fails inside fit (division by zero), or ignores them
    "+trainer.check_val_every_n_epoch=0": ConfigError,
    "+trainer.val_check_interval=0": ConfigError,
    "+trainer.accumulate_grad_batches=0": ConfigError,
    "trainer.num_sanity_val_steps=-5": ConfigError,
    "+trainer.gradient_clip_val=-1": ConfigError,
    "trainer.deterministic=maybe": ConfigError,
    # Lightning's refusal came at the end of the first epoch
    "callbacks.model_checkpoint.monitor=nope": ConfigError,
    # ignored by this initializer: the run was the same as without it
    "model.init=he_normal model.init_scale=0.5": ConfigError,
    # Hydra's advice for a key of an unchosen group: a bare dict, which failed inside fit ("not callable")
    "+experiment=baseline +scheduler.step_size=2": ConfigError,
}


@pytest.mark.parametrize("override", sorted(CONFIG_CASES))
def test_bad_config_value_names_its_key(override, tmp_path):
    with pytest.raises(CONFIG_CASES[override]) as info:
        validate(composed(*override.split()))
    key = override.split()[-1].split("=")[0].lstrip("+")
    assert key in str(info.value)
    ROWS[f"`{override}`"] = (
        "unknown key" if "is not a setting" in str(info.value) else "config value",
        first_line(info.value, tmp_path),
    )


# The command line with PyTorch and Lightning made unimportable: what it answers without them, it answers
# before they load (they take seconds).
WITHOUT_TORCH = (
    "import runpy, sys; sys.modules.update(torch=None, lightning=None); "
    "sys.argv[0] = 'imdb_lightning'; runpy.run_module('imdb_lightning', run_name='__main__')"
)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("model.dropout=1.5", "model.dropout must be in [0, 1), got 1.5"),
        ("model.l2=-0.2", "model.l2 must be a number >= 0, got -0.2"),
        ("data.batch_size=0", "data.batch_size must be a positive integer, got 0"),
        ("trainer.max_epochs=0", "trainer.max_epochs must be a positive integer, got 0"),
    ],
)
def test_a_refused_value_is_answered_before_pytorch_loads_and_recorded_in_its_folder(
    override, message, tmp_path
):
    run = tmp_path / "run"
    done = subprocess.run(
        [sys.executable, "-c", WITHOUT_TORCH, override, f"hydra.run.dir={run}"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert (done.returncode, done.stdout.strip()) == (2, f"error: {message}"), done.stderr[-2000:]
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics == {"status": "failed", "error": f"ConfigError: {message}", "refused": True}


@pytest.mark.parametrize(
    "overrides",
    [
        "trainer.devices=0",
        "trainer.accelerator=gpu",
        "trainer=gpu",
        "optimizer=momentum optimizer.momentum=-1",
        "optimizer=sgd optimizer.nesterov=true",
        "optimizer=torch_adam optimizer.betas=[2,0.9]",
        "optimizer=torch_adam optimizer.betas=[0.9]",  # an IndexError inside fit
        "callbacks.model_checkpoint.mode=sideways",
        "+trainer.max_time=abc",
        "+trainer.gradient_clip_algorithm=foo",
    ],
)
def test_settings_a_library_refuses_are_named_before_the_data_loads(
    overrides, data_dir, tmp_path, monkeypatch
):
    """Lightning's Trainer and PyTorch's optimizers check some settings only when made: that happens before
    the data loads, and their refusal names the keys the command gave."""
    import torch

    import imdb_lightning as il
    from imdb_lightning.data import cache as cache_module  # load_corpus finds read_corpus there

    if overrides.endswith("gpu") and torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    monkeypatch.setenv("IMDB_LIGHTNING_LOGS", str(tmp_path / "logs"))
    monkeypatch.setattr(cache_module, "read_corpus", lambda *a: pytest.fail("the data was read first"))
    with pytest.raises(ConfigError) as info:
        il.run(f"data.data_dir={data_dir}", *SMALL, "trainer.max_epochs=1", *overrides.split(), quiet=True)
    assert str(info.value).startswith(f"{', '.join(overrides.split())} cannot work: ")
    ROWS[f"`{overrides}`" + (" on a machine without one" if overrides.endswith("gpu") else "")] = (
        "refused by Lightning / PyTorch",
        first_line(info.value, tmp_path),
    )


@pytest.mark.parametrize("override", ["scheduler.step_size=2", "+scheduler.step_size=2"])
def test_a_key_of_an_unchosen_group_says_which_to_choose(override, tmp_path):
    """Hydra answers ``scheduler.step_size=2`` (no scheduler chosen) with "use +scheduler.step_size=2", which
    made a bare dict that failed inside fit."""
    import imdb_lightning as il

    done = subprocess.run(
        [sys.executable, "-m", "imdb_lightning", override], capture_output=True, text=True, cwd=tmp_path
    )
    expected = (
        f"{override} sets a scheduler key, but no scheduler is chosen: add scheduler=cosine|exponential|step"
    )
    assert done.returncode == 2 and done.stderr.strip() == f"error: {expected}"
    with pytest.raises(ConfigError, match="no scheduler is chosen"):
        il.run(override)
    ROWS[f"`{override}`"] = ("config name / key", expected)


@pytest.mark.parametrize("flags", [["-m", "--cfg", "job"], ["--cfg=job", "--info"]])
def test_two_of_hydras_modes_are_one_line_not_hydras_traceback(flags, tmp_path):
    from imdb_lightning.__main__ import modes_hint

    done = subprocess.run(
        [sys.executable, "-m", "imdb_lightning", *flags], capture_output=True, text=True, cwd=tmp_path
    )
    assert done.returncode == 2 and done.stderr.strip().endswith("which runs one at a time: keep one of them")
    assert modes_hint(["--cfg", "job"]) is None and modes_hint(["-m", "seed=1,2"]) is None
    ROWS[f"`{' '.join(flags)}`"] = ("config name / key", done.stderr.strip().removeprefix("error: "))


def test_a_search_without_multirun_says_to_add_it(tmp_path):
    """Hydra runs one default job for ``hparams_search=optuna`` without ``-m`` (20 epochs, no search)."""
    done = subprocess.run(
        [sys.executable, "-m", "imdb_lightning", "hparams_search=optuna"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert done.returncode == 2 and done.stderr.strip().startswith(
        "error: hparams_search=optuna acts on a sweep"
    )
    ROWS["`hparams_search=optuna` without `-m`"] = (
        "config name / key",
        done.stderr.strip().removeprefix("error: "),
    )


@pytest.mark.parametrize("case", ["a missing folder", "a text file", "not a URL"])
def test_an_optuna_storage_that_cannot_hold_the_study_is_one_line_before_any_trial(case, tmp_path):
    (tmp_path / "notes.txt").write_text("my notes")
    url = {
        "a missing folder": f"sqlite:///{tmp_path}/nowhere/optuna.db",
        "a text file": f"sqlite:///{tmp_path}/notes.txt",
        "not a URL": "optuna.db",
    }[case]
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "imdb_lightning",
            "-m",
            "hparams_search=optuna",
            f"hydra.sweeper.storage={url}",
            f"hydra.sweep.dir={tmp_path / 'sweep'}",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert done.returncode == 2, done.stderr[-2000:]
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith(f"error: hydra.sweeper.storage={url} cannot hold the study: ")
    assert (tmp_path / "notes.txt").read_text() == "my notes"
    assert not (tmp_path / "sweep").exists()  # no trial ran, and a refused sweep leaves no folder behind
    ROWS[f"`hydra.sweeper.storage=` {case}"] = (
        "config value",
        first_line(line.removeprefix("error: "), tmp_path),
    )


def test_a_joblib_sweep_of_no_jobs_at_once_is_one_line_before_any_job(tmp_path):
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "imdb_lightning",
            "-m",
            "seed=0,1",
            "hydra/launcher=joblib",
            "hydra.launcher.n_jobs=0",
            f"hydra.sweep.dir={tmp_path / 'sweep'}",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert done.returncode != 0 and "Traceback" not in done.stderr, done.stderr[-2000:]
    first, *rest = done.stderr.strip().splitlines()
    assert first == "error: hydra.launcher.n_jobs must not be 0 (N: N jobs at once; -1: one a core), got 0"
    assert all("HYDRA_FULL_ERROR" in line for line in rest if line)
    assert not list((tmp_path / "sweep").glob("0-*"))  # no job ran
    ROWS["`-m seed=0,1 hydra/launcher=joblib hydra.launcher.n_jobs=0`"] = (
        "config value",
        first.removeprefix("error: "),
    )


@pytest.mark.parametrize("override", ["logger=null", "scheduler=null"])
def test_a_config_group_set_to_null_gets_the_way_to_drop_it(override, tmp_path):
    """Hydra answers ``group=null`` with a traceback from inside its defaults list."""
    import imdb_lightning as il

    done = subprocess.run(
        [sys.executable, "-m", "imdb_lightning", override], capture_output=True, text=True, cwd=tmp_path
    )
    group = override.split("=")[0]
    expected = f"error: {override}: a config group is dropped with ~{group} (Hydra has no =null for it)"
    assert done.returncode == 2 and done.stderr.strip() == expected
    with pytest.raises(ConfigError, match=f"dropped with ~{group}"):
        il.run(override)
    ROWS[f"`{override}`"] = ("config name / key", expected.removeprefix("error: "))


SETUP_CASES = {
    "callbacks.keras_history.plots=maybe": "callbacks.keras_history.plots must be true or false, got 'maybe'",
    # "best" would silently have been the last epoch
    "~callbacks.model_checkpoint test_ckpt=best": "test_ckpt=best needs a checkpoint of the best epoch",
    # Lightning's own refusals came at the test, after the fit
    "+trainer.limit_val_batches=0 test_ckpt=best": "test_ckpt=best needs validation to choose the best "
    "epoch: trainer.limit_val_batches=0 turns it off",
    "+trainer.check_val_every_n_epoch=3 test_ckpt=best": "test_ckpt=best needs validation to choose the best "
    "epoch: trainer.check_val_every_n_epoch=3 is more than trainer.max_epochs=2",
    "+trainer.limit_test_batches=0": "trainer.limit_test_batches=0 leaves the test no batch: add test=false",
    # PyTorch's SyncBatchNorm fails at the first step on CPUs
    "trainer=ddp trainer.accelerator=cpu +experiment=batchnorm": "trainer.sync_batchnorm=true needs GPUs",
    # Lightning refuses either under manual optimization, when fit starts
    "model.steps_per_execution=8 +trainer.gradient_clip_val=0.5": "model.steps_per_execution=8 steps the "
    "optimizer inside the model, where Lightning cannot apply trainer.gradient_clip_val=0.5: leave one of "
    "them out",
    "model.steps_per_execution=2 +trainer.accumulate_grad_batches=3": "model.steps_per_execution=2 steps the "
    "optimizer inside the model, where Lightning cannot apply trainer.accumulate_grad_batches=3",
}


@pytest.mark.parametrize("overrides", sorted(SETUP_CASES))
def test_callback_and_trainer_settings_are_checked_before_the_data_loads(
    overrides, data_dir, tmp_path, monkeypatch
):
    import imdb_lightning as il
    from imdb_lightning.data import cache as cache_module  # load_corpus finds read_corpus there

    monkeypatch.setenv("IMDB_LIGHTNING_LOGS", str(tmp_path / "logs"))
    monkeypatch.setattr(cache_module, "read_corpus", lambda *a: pytest.fail("the data was read first"))
    with pytest.raises(ConfigError) as info:
        il.run(f"data.data_dir={data_dir}", *SMALL, "trainer.max_epochs=2", *overrides.split(), quiet=True)
    assert str(info.value).startswith(SETUP_CASES[overrides])
    kind = "config vs machine" if "sync_batchnorm" in str(info.value) else "config value"
    ROWS[f"`{overrides}`"] = (kind, str(info.value))


MISSPELT = {
    "+experiment=dropuot": "experiment has no option dropuot; did you mean dropout?",
    "optimizer=Adam": "optimizer has no option Adam; did you mean adam?",
    "data=nope": "data has no option nope; its options: imdb",
    "experiment=dropout": "an experiment is added to the defaults, with a +: +experiment=dropout",
    "model.droput=0.5": "droput is not a key of model; did you mean model.dropout?",
    "trainer.max_epoch=3": "max_epoch is not a key of trainer; did you mean trainer.max_epochs?",
    "data.cahce=false": "cahce is not a key of data; did you mean data.cache?",
    "sed=1": "sed is not a key of the config; did you mean seed?",
}


@pytest.mark.parametrize("override", MISSPELT)
def test_a_misspelt_name_or_key_gets_one_line_with_the_close_one(override, tmp_path):
    """Hydra answers these with a page of options, or with advice to add the key with + (which our own
    check then refuses): a second error."""
    import imdb_lightning as il

    done = subprocess.run(
        [sys.executable, "-m", "imdb_lightning", override], capture_output=True, text=True, cwd=tmp_path
    )
    expected = f"{override}: {MISSPELT[override]}"
    assert done.returncode == 2 and done.stderr.strip() == f"error: {expected}"
    with pytest.raises(ConfigError) as info:
        il.run(override)
    assert str(info.value) == expected
    ROWS[f"`{override}`"] = ("config name / key", expected)


@pytest.mark.parametrize("override", ["nonsense.key=1", "model.nosuch=1"])
def test_a_key_like_no_other_is_left_to_hydra(override, tmp_path):
    with pytest.raises(Exception) as info:
        composed(override)
    message = str(info.value)
    assert message.startswith(f"Could not override '{override.split('=')[0]}'")
    ROWS[f"`{override}`"] = ("config name / key", " ".join(message.strip().splitlines()[:2]))


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ("data.num_words=100", "data.num_words"),
        ("data.val_size=40", "data.val_size"),
        ("data.maxlen=5", "data.maxlen"),
    ],
)
def test_values_beyond_the_data_name_their_key(override, key, data_dir, tmp_path):
    name, value = override.split("=")
    dm = IMDBDataModule(data_dir, **{"num_words": 30, name.split(".")[1]: int(value)})
    with pytest.raises(ConfigError) as info:
        dm.setup()
    assert key in str(info.value)
    ROWS[f"`{override}` (30-word index, 40 training reviews)"] = (
        "config vs data",
        first_line(info.value, tmp_path),
    )


def data_fault(
    name: str,
    kind: str,
    action: Callable[[], object],
    tmp_path: Path,
    expect: type[BaseException] = DataError,
) -> str:
    with pytest.raises(expect) as info:
        action()
    ROWS[name] = (kind, first_line(info.value, tmp_path))
    return str(info.value)


def test_missing_data(tmp_path):
    message = data_fault(
        "no data anywhere, downloads off", "data", lambda: load_corpus(download=False), tmp_path
    )
    assert "IMDB_LIGHTNING_DATA" in message and "data.data_dir" in message and "aclImdb_v1.tar.gz" in message


def test_data_folder_that_does_not_exist_or_is_a_file(tmp_path):
    message = data_fault(
        "`data.data_dir=/nonexistent`", "data", lambda: load_corpus(tmp_path / "nonexistent"), tmp_path
    )
    assert "does not exist" in message and "data.data_dir" in message
    (tmp_path / "a_file").write_text("x")
    message = data_fault(
        "`data.data_dir` naming a file", "data", lambda: load_corpus(tmp_path / "a_file"), tmp_path
    )
    assert "is not a folder" in message


def test_a_missing_label_folder_stops_with_what_is_missing(tmp_path):
    import shutil

    folder = make_data_dir(tmp_path / "d")
    shutil.rmtree(folder / "aclImdb" / "test" / "neg")
    message = data_fault(
        "extracted `aclImdb/` without `test/neg`", "data", lambda: load_corpus(folder), tmp_path
    )
    assert "holds no reviews in test/neg:" in message  # and nothing else is missing


def test_a_custom_data_set_gets_its_counts_in_a_warning(data_dir, caplog, tmp_path):
    with caplog.at_level(logging.WARNING):
        load_corpus(data_dir)
    assert "train: 20 positive, 20 negative" in caplog.text and "12,500" in caplog.text
    warning = next(r.getMessage() for r in caplog.records if "official" in r.getMessage())
    ROWS["a data set other than the official 12,500 reviews per folder"] = (
        "data",
        "warning: " + first_line(warning, tmp_path) + "; the run goes on",
    )


INTERRUPT_DURING_ENCODING = """
import sys
import imdb_lightning.data.cache as cache_module

def interrupted(*args):
    raise KeyboardInterrupt

cache_module.read_corpus = interrupted
from {module} import main
sys.argv = ["prog", *sys.argv[1:]]
main()
"""


@pytest.mark.parametrize(
    ("entry", "module"),
    [
        ("python -m imdb_lightning", "imdb_lightning.__main__"),
        ("imdb-lightning-prepare", "imdb_lightning.data.prepare"),
    ],
)
def test_ctrl_c_while_the_data_is_first_encoded_ends_with_one_line_and_status_130(
    entry, module, data_dir, tmp_path
):
    import subprocess
    import sys

    script = INTERRUPT_DURING_ENCODING.format(module=module)
    argv = (
        ["--data-dir", str(data_dir)]
        if "prepare" in entry
        else [f"data.data_dir={data_dir}", f"hydra.run.dir={tmp_path / 'run'}"]
    )
    done = subprocess.run(
        [sys.executable, "-c", script, *argv], capture_output=True, text=True, cwd=tmp_path, timeout=120
    )
    assert done.returncode == 130, done.stderr[-2000:]
    assert "Traceback" not in done.stderr and done.stderr.strip().splitlines()[-1] == "interrupted (Ctrl-C)"
    ROWS[f"Ctrl-C while the data is first encoded (`{entry}`)"] = (
        "interrupt",
        "interrupted (Ctrl-C); exit status 130",
    )


def test_a_temporary_file_left_by_a_killed_cache_write_is_cleared_on_the_next_start(data_dir, tmp_path):
    from imdb_lightning.utils.atomic import _host

    folder = cache_dir() / "encoded"
    folder.mkdir(parents=True)
    stale = folder / f".imdb-ranks-x.npz.{_host()}.999999999.abc.part"  # no such process
    stale.write_bytes(b"half a cache")
    load_corpus(data_dir)
    assert not stale.exists()
    ROWS["a hard kill while the cache is written (a `.part` file is left)"] = (
        "cache",
        "the next start deletes it (never one whose writer is alive)",
    )


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A real last.ckpt of the small baseline (30-word rows, 2 epochs)."""
    run, _ = train_small_run(tmp_path_factory.mktemp("ckpt"), "trainer.max_epochs=2", "test=false")
    return run / "checkpoints" / "last.ckpt"


def bad_checkpoints(checkpoint: Path, folder: Path) -> dict[str, Path]:
    folder.mkdir(exist_ok=True)
    truncated, empty, text = folder / "truncated.ckpt", folder / "empty.ckpt", folder / "notes.ckpt"
    truncated.write_bytes(checkpoint.read_bytes()[: checkpoint.stat().st_size // 2])
    empty.write_bytes(b"")
    text.write_text("not a checkpoint")
    # Bytes that torch's unpickler reads as opcodes until it fails with an IndexError, not an UnpicklingError.
    passwd = folder / "passwd"
    passwd.write_text("root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n")
    return {
        "a missing file": folder / "nope.ckpt",
        "a truncated file": truncated,
        "an empty file": empty,
        "a text file": text,
        "a system file": passwd,
    }


BAD_CHECKPOINTS = ["a missing file", "a truncated file", "an empty file", "a text file", "a system file"]


# Resumed under other settings (the checkpoint's run: 2 epochs of the baseline, 30-word rows, val_size 10).
# Lightning restores the optimizer's settings over the config's (a new lr was silently ignored), another
# optimizer failed inside fit with a KeyError, another split validated on reviews the run had trained on.
RESUMED_OTHERWISE = {
    "another model's": (["model.hidden_sizes=[8]"], "model.hidden_sizes=[16, 16] (this config has [8])"),
    # A model of the same shape: the weights fit, the run would go on as another model.
    "another activation and dropout": (
        ["model.activation=tanh", "model.dropout=0.2"],
        "model.activation=relu (this config has tanh), model.dropout=0.0 (this config has 0.2)",
    ),
    "more epochs than max_epochs": (
        ["trainer.max_epochs=1"],
        "has run 2 epochs already: trainer.max_epochs=1 is the run's total",
    ),
    "another optimizer": (
        ["optimizer=adam"],
        "was trained with another optimizer than this config's KerasAdam",
    ),
    "another learning rate": (
        ["optimizer.lr=0.01"],
        "was trained with optimizer.lr=0.001 (this config has 0.01)",
    ),
    "another validation split": (
        ["data.val_size=12"],
        "was trained with data.val_size=10 (this config has 12)",
    ),
    "weights only": ([], "holds the weights only (no optimizer state) and cannot be resumed"),
}


@pytest.mark.parametrize("case", [*BAD_CHECKPOINTS, *RESUMED_OTHERWISE])
def test_a_bad_ckpt_path_is_refused_before_the_data_loads(case, checkpoint, data_dir, tmp_path, monkeypatch):
    import torch

    from imdb_lightning.data import cache as cache_module  # load_corpus finds read_corpus there

    monkeypatch.setattr(
        cache_module,
        "read_corpus",
        lambda *a: pytest.fail("the data was read before the checkpoint was checked"),
    )
    paths = bad_checkpoints(checkpoint, tmp_path / "bad")
    path = paths.get(case, checkpoint)
    if case == "weights only":  # as ModelCheckpoint(save_weights_only=True) saves it
        saved = torch.load(checkpoint, weights_only=True)
        path = tmp_path / "weights.ckpt"
        torch.save({k: v for k, v in saved.items() if k not in ("optimizer_states", "lr_schedulers")}, path)
    extra, expected = RESUMED_OTHERWISE.get(case, ([], ""))
    with pytest.raises(ConfigError) as info:
        train(
            compose_run(tmp_path / "run", [f"data.data_dir={data_dir}", *SMALL, f"ckpt_path={path}", *extra])
        )
    assert "ckpt_path=" in str(info.value) and expected in str(info.value)
    answer = first_line(str(info.value).replace(str(checkpoint), "<run>/checkpoints/last.ckpt"), tmp_path)
    ROWS[f"`ckpt_path=` {case}" + (f" (`{extra[0]}`)" if extra else "")] = ("checkpoint", answer)


@pytest.mark.parametrize("case", [*BAD_CHECKPOINTS, "--file that does not exist"])
def test_predict_on_a_bad_checkpoint_or_file_says_so_in_one_line(case, checkpoint, tmp_path, capsys):
    from imdb_lightning.results.predict import main as predict

    paths = bad_checkpoints(checkpoint, tmp_path / "bad")
    argv = (
        [str(checkpoint), "--file", str(tmp_path / "nope.txt")]
        if case.startswith("--file")
        else [str(paths[case]), "great film"]
    )
    assert predict(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    ROWS[f"`python -m imdb_lightning.predict` with {case}"] = ("checkpoint", first_line(err, tmp_path))


def test_a_setting_lightning_refuses_only_inside_fit_is_one_line_with_the_traceback_in_the_log(
    data_dir, tmp_path
):
    """Lightning checks ``val_check_interval`` against the epoch's batches when fit starts; a run that fails
    while training says so in one line, and where the traceback is."""
    import subprocess
    import sys

    run = tmp_path / "run"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "imdb_lightning",
            *SMALL,
            "+trainer.val_check_interval=1000",
            f"hydra.run.dir={run}",
        ],
        env={**os.environ, "IMDB_LIGHTNING_DATA": str(data_dir)},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1 and "Traceback" not in done.stdout + done.stderr
    line = done.stdout.strip().splitlines()[-1]
    assert line.startswith("error: the run failed: ValueError: `val_check_interval` (1000) must be less than")
    assert line.endswith(f"(traceback: {run / 'imdb_lightning.log'})")
    ROWS["`+trainer.val_check_interval=1000` (more than an epoch's batches)"] = (
        "refused by Lightning inside fit",
        first_line(line.replace(str(run), "<run>"), tmp_path),
    )


@pytest.mark.parametrize(
    "case",
    [
        "hydra.run.dir naming a file",
        "a run folder under a file",
        "a logs folder that cannot be written",
        "a sweep folder under a file",
    ],
)
def test_an_unwritable_run_folder_is_one_line_naming_the_setting(case, data_dir, tmp_path):
    import subprocess
    import sys

    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    env = {**os.environ, "IMDB_LIGHTNING_DATA": str(data_dir)}
    args = {
        "hydra.run.dir naming a file": [f"hydra.run.dir={a_file}"],
        "a run folder under a file": [f"hydra.run.dir={a_file / 'run'}"],
        "a logs folder that cannot be written": [],  # /proc refuses new folders, even to root
        "a sweep folder under a file": ["-m", "seed=1,2", f"hydra.sweep.dir={a_file / 'sweep'}"],
    }[case]
    if not args:
        env["IMDB_LIGHTNING_LOGS"] = "/proc/imdb_lightning_logs"
    done = subprocess.run(
        [sys.executable, "-m", "imdb_lightning", *args, *SMALL],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    out = done.stderr + done.stdout
    assert done.returncode == 2 and "Traceback" not in out, out[-2000:]
    line = done.stderr.strip().splitlines()[-1]
    assert (
        line.startswith("error: cannot write the run folder")
        and ("hydra.sweep.dir=PATH" if "sweep" in case else "hydra.run.dir=PATH") in line
    )
    ROWS[case] = (
        "output",
        re.sub(r"\d{4}-\d{2}-\d{2}_\d{2}-\d{2}-\d{2}", "<date>", first_line(line, tmp_path)),
    )


def test_a_full_disk_while_the_cache_is_written_leaves_no_partial_file_and_the_run_goes_on(
    data_dir, tmp_path, caplog, monkeypatch
):
    import errno

    import numpy as np

    def disk_full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(np, "savez", disk_full)
    with caplog.at_level(logging.WARNING):
        corpus = load_corpus(data_dir)
    assert len(corpus.splits["train"]) == 40
    folder = cache_dir() / "encoded"
    assert not folder.exists() or list(folder.iterdir()) == []  # no half-written cache, no temporary left
    warning = next(r.getMessage() for r in caplog.records if "could not write" in r.getMessage())
    ROWS["a full disk while the encoded-data cache is written"] = (
        "cache",
        "warning: " + first_line(warning, tmp_path) + "; the run goes on",
    )


def test_truncated_tarball(tmp_path):
    folder = make_data_dir(tmp_path / "t", form="tarball")
    tarball = folder / "aclImdb_v1.tar.gz"
    tarball.write_bytes(tarball.read_bytes()[:300])
    data_fault("truncated `aclImdb_v1.tar.gz`", "data", lambda: load_corpus(folder), tmp_path)


def test_word_index_that_is_not_json(tmp_path):
    folder = make_data_dir(tmp_path / "d")
    (folder / "imdb_word_index.json").write_text("{oops")
    data_fault("`imdb_word_index.json` that is not JSON", "data", lambda: load_corpus(folder), tmp_path)


def test_word_index_rank_too_large_names_the_file_and_the_word(tmp_path):
    folder = make_data_dir(tmp_path / "d")
    index = json.loads((folder / "imdb_word_index.json").read_text())
    (folder / "imdb_word_index.json").write_text(json.dumps({**index, "zyzzyva": 2**31}))
    message = data_fault(
        "a word-index rank of 2**31 (beyond 32-bit ids)", "data", lambda: load_corpus(folder), tmp_path
    )
    assert "imdb_word_index.json" in message and "'zyzzyva': 2147483648" in message


@pytest.mark.parametrize("case", ["a file", "a read-only folder"])
def test_an_unusable_cache_folder_is_named_before_any_download(case, tmp_path):
    cache = tmp_path / "cache"
    fetched = []
    source = Download("https://example.invalid/aclImdb_v1.tar.gz", hashlib.md5(b"right").hexdigest())
    if case == "a file":
        cache.write_text("not a folder")
        action = lambda: fetch(source, cache, opener=lambda u: fetched.append(u))  # noqa: E731
    else:
        cache.mkdir()

        def action():
            with read_only(cache):
                fetch(source, cache, opener=lambda u: fetched.append(u))

    message = data_fault(f"`IMDB_LIGHTNING_CACHE` naming {case}", "download", action, tmp_path)
    assert "cannot download into the cache folder" in message and "IMDB_LIGHTNING_CACHE" in message
    assert "retry" not in message and fetched == []


class Response(io.BytesIO):
    def __init__(self, payload: bytes, length: int) -> None:
        super().__init__(payload)
        self.headers = {"Content-Length": str(length)}


def test_checksum_mismatch_and_interrupted_download(tmp_path):
    source = Download("https://example.invalid/aclImdb_v1.tar.gz", hashlib.md5(b"right").hexdigest())
    data_fault(
        "download with the wrong md5 (twice)",
        "download",
        lambda: fetch(source, tmp_path / "c", opener=lambda u: Response(b"wrong", 5)),
        tmp_path,
    )
    data_fault(
        "download cut off halfway",
        "download",
        lambda: fetch(source, tmp_path / "c", opener=lambda u: Response(b"ri", 5)),
        tmp_path,
    )
    assert list((tmp_path / "c").iterdir()) == []


def test_corrupt_cache_is_rebuilt(data_dir, caplog, tmp_path):
    load_corpus(data_dir)
    (cached,) = (cache_dir() / "encoded").iterdir()
    cached.write_bytes(b"garbage")
    with caplog.at_level(logging.WARNING):
        load_corpus(data_dir)
    assert "rebuilding" in caplog.text
    warning = next(r.getMessage() for r in caplog.records if "rebuilding" in r.getMessage())
    ROWS["corrupt encoded-data cache"] = (
        "cache",
        "warning: " + first_line(warning, tmp_path) + "; the run goes on",
    )


def test_invalid_utf8_review_is_counted(data_dir, caplog, tmp_path):
    (data_dir / "aclImdb" / "train" / "pos" / "77_9.txt").write_bytes(b"great \xff film")
    with caplog.at_level(logging.WARNING):
        corpus = load_corpus(data_dir)
    assert corpus.invalid_utf8 == 1
    warning = next(r.getMessage() for r in caplog.records if "UTF-8" in r.getMessage())
    ROWS["a review that is not valid UTF-8"] = (
        "data",
        "warning: " + first_line(warning, tmp_path) + " (as Keras reads text)",
    )


def test_read_only_data_folder(data_dir, tmp_path, caplog):
    before = sorted(data_dir.rglob("*"))
    with read_only(data_dir), caplog.at_level(logging.WARNING):
        corpus = load_corpus(data_dir)
    assert sorted(data_dir.rglob("*")) == before and len(corpus.splits["train"]) == 40
    assert "could not write" not in caplog.text
    ROWS["read-only data folder"] = (
        "data",
        "works; nothing is written there (the cache goes to `IMDB_LIGHTNING_CACHE`)",
    )


def test_diverging_training(data_dir, tmp_path, capsys):
    overrides = [
        f"data.data_dir={data_dir}",
        *SMALL,
        "trainer.max_epochs=5",
        "optimizer=sgd",
        "optimizer.lr=1e12",
        "model.init=too_large",
        "model.init_scale=100",
    ]
    metrics = train(compose_run(tmp_path / "run", overrides))
    assert metrics["status"] == "diverged"
    line = next(line for line in capsys.readouterr().out.splitlines() if "diverged" in line)
    ROWS["`optimizer.lr=1e12` with `model.init=too_large` (loss becomes NaN)"] = (
        "training",
        line + "; `metrics.json` says `diverged`",
    )


@pytest.mark.parametrize("optimizer", ["rmsprop", "adam"])
def test_divergence_that_stays_finite_is_marked_too(optimizer, data_dir, tmp_path, capsys):
    out = tmp_path / optimizer
    metrics = train(
        compose_run(
            out,
            [
                f"data.data_dir={data_dir}",
                *SMALL,
                "trainer.max_epochs=5",
                f"optimizer={optimizer}",
                "optimizer.lr=1e6",
            ],
        )
    )
    assert metrics["status"] == "diverged"
    history = json.loads((out / "history.json").read_text())
    assert history["loss"] and all(v is not None for v in history["loss"])  # finite, and kept
    line = next(line for line in capsys.readouterr().out.splitlines() if "diverged" in line)
    assert "times the first batch's" in line
    ROWS[f"`optimizer={optimizer} optimizer.lr=1e6` (the loss grows huge but stays finite)"] = (
        "training",
        line + "; `metrics.json` says `diverged`",
    )


@pytest.fixture(scope="module", autouse=True)
def table_of_bad_inputs():
    """After the module's tests: with ``IMDB_LIGHTNING_WRITE_DOCS=1``, docs/bad_inputs.md rewritten from every
    row they recorded (the whole module: a partial run would write a partial page, and says so)."""
    yield
    if not WRITE_DOCS:
        return
    committed = DOC.read_text().splitlines() if DOC.is_file() else []
    listed = sum(
        1 for line in committed if line.startswith("| ") and not line.startswith(("| input |", "| --- |"))
    )
    if len(ROWS) < listed:
        pytest.fail(
            f"only {len(ROWS)} of the page's {listed} cases ran: run the whole module to rewrite "
            "docs/bad_inputs.md (delete it first to drop a case)"
        )
    lines = [
        "# Bad inputs and what they get",
        "",
        "Produced by `tests/scenarios/test_bad_inputs.py` (`IMDB_LIGHTNING_WRITE_DOCS=1 pytest "
        "tests/scenarios/test_bad_inputs.py`).",
        "",
        "| input | kind | what the user gets |",
        "| --- | --- | --- |",
    ]
    lines += [f"| {name} | {kind} | {answer.replace('|', '/')} |" for name, (kind, answer) in ROWS.items()]
    lines += [
        "",
        "Also tested elsewhere: a run's life (Ctrl-C and SIGTERM, resuming, a folder that holds another run, "
        "sweeps",
        "stopped or rerun into one folder: [run_life.md](run_life.md), "
        "`tests/scenarios/test_run_life.py`); an unknown experiment on",
        "the command line exits with the list of experiments (`tests/config/test_config.py`).",
        "",
    ]
    DOC.write_text("\n".join(lines))

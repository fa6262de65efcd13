"""Bad config gets one clear line naming the key before any training starts."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import runs
from runs import composed

from imdb_lightning.config.files import CONFIG_DIR
from imdb_lightning.config.validate import validate
from imdb_lightning.utils.errors import ConfigError


def test_defaults_are_the_lectures_baseline():
    cfg = composed()
    validate(cfg)
    assert list(cfg.model.hidden_sizes) == [16, 16] and cfg.model.init == "glorot_uniform"
    assert cfg.optimizer._target_.endswith("KerasRMSprop") and cfg.optimizer.lr == 0.001
    assert (cfg.trainer.max_epochs, cfg.data.batch_size, cfg.data.num_words, cfg.data.val_size) == (
        20,
        512,
        10000,
        10000,
    )
    assert cfg.trainer.accelerator == "auto"
    assert "experiment" not in cfg


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("model.dropout=1.0", r"model.dropout must be in \[0, 1\)"),
        ("model.dropout=-0.1", r"model.dropout must be in \[0, 1\)"),
        ("optimizer.lr=0", "optimizer.lr must be a positive number, got 0"),
        ("data.batch_size=0", "data.batch_size must be a positive integer"),
        ("data.num_words=3", "data.num_words must be an integer >= 4"),
        ("data.val_size=0", "data.val_size must be a positive integer"),
        ("model.hidden_sizes=[]", "model.hidden_sizes must be a non-empty list"),
        ("model.hidden_sizes=[16,0]", "model.hidden_sizes must be a non-empty list"),
        ("model.init=xavier", "model.init must be one of zeros, random_normal"),
        ("model.activation=swish2", "model.activation must be one of relu"),
        ("model.l2=-1", "model.l2 must be a number >= 0, got -1"),
        ("data.word_index=glove", "data.word_index must be one of keras, corpus, got 'glove'"),
        ("test_ckpt=worst", "test_ckpt must be one of final, best"),
        # wrong types: a string, a float, a boolean where an integer or a number belongs
        ("optimizer.lr=fast", "optimizer.lr must be a positive number, got 'fast'"),
        ("trainer.max_epochs=3.5", "trainer.max_epochs must be a positive integer, got 3.5"),
        ("data.batch_size=true", "data.batch_size must be a positive integer, got True"),
        ("model.batchnorm=yes", "model.batchnorm must be true or false, got 'yes'"),
        ("data.maxlen=0", r"data.maxlen must be a positive integer \(or null\), got 0"),
        ("model.hidden_sizes=16", "model.hidden_sizes must be a non-empty list of positive integers, got 16"),
        ("seed=abc", r"seed must be an integer in \[0, 2\*\*32\), got 'abc'"),
    ],
)
def test_out_of_range_values_name_their_key(override, message):
    with pytest.raises(ConfigError, match=message):
        validate(composed(override))


@pytest.mark.parametrize(
    ("override", "message"),
    [
        (
            "+model.dropuot=0.5",
            "model.dropuot is not a setting of IMDBClassifier; it takes hidden_sizes, activation, dropout",
        ),
        ("+optimizer.nosuch=1", "optimizer.nosuch is not a setting of KerasRMSprop; it takes lr, rho, eps"),
        (
            "+data.batchsize=3",
            "data.batchsize is not a setting of IMDBDataModule; it takes data_dir, num_words",
        ),
    ],
)
def test_unknown_keys_added_with_plus_name_the_key_and_the_valid_ones(override, message):
    with pytest.raises(ConfigError, match=message):
        validate(composed(override))


@pytest.mark.parametrize("optimizer", sorted(p.stem for p in (CONFIG_DIR / "optimizer").glob("*.yaml")))
def test_every_optimizer_config_is_valid(optimizer):
    validate(composed(f"optimizer={optimizer}"))


def cli(*args: str, tmp_path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "imdb_lightning", *args, f"hydra.run.dir={tmp_path / 'run'}"],
        cwd=tmp_path,
        env=os.environ.copy(),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cli_reports_a_bad_value_in_one_line_and_exits_2(tmp_path):
    result = cli("model.dropout=1.5", tmp_path=tmp_path)
    assert result.returncode == 2
    assert "error: model.dropout must be in [0, 1), got 1.5" in result.stderr + result.stdout
    assert "Traceback" not in result.stderr + result.stdout
    assert not (tmp_path / "run" / "history.json").exists()


def test_a_sweep_whose_later_job_cannot_be_composed_is_refused_before_its_first_job_runs(tmp_path):
    # sgd has no rho: only the second of the two jobs fails to compose; the sweeper checks each swept value's
    # config before launching (not every job's, as Hydra's basic sweeper would), so it is found first.
    sweep = tmp_path / "sweep"
    result = cli(
        "-m", "optimizer=rmsprop,sgd", "optimizer.rho=0.8", f"hydra.sweep.dir={sweep}", tmp_path=tmp_path
    )
    assert result.returncode != 0
    assert "Could not override 'optimizer.rho'" in result.stderr + result.stdout
    assert [p.name for p in sweep.iterdir()] == ["multirun.yaml"]  # no job ran


class _Recorded:
    """What the sweeper asked of the workers it started: how often it started them, and each finish."""

    def __init__(self) -> None:
        self.starts, self.finishes = 0, []

    def start(self, launcher, task, jobs):
        self.starts += 1
        return self.finishes.append


@pytest.mark.parametrize("refused", [False, True])
def test_the_sweeper_starts_the_launchers_workers_while_it_checks_and_kills_them_if_it_refuses(
    monkeypatch, refused
):
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
    from hydra.errors import ConfigCompositionException

    from hydra_plugins.imdb_lightning_sweeper import each_value
    from imdb_lightning.utils import private

    recorded, checked = _Recorded(), []

    def check(self, batch):
        checked.append(len(batch))
        if refused:
            raise ConfigCompositionException("no such value")

    monkeypatch.setattr(private, "start_joblib_workers", recorded.start)
    monkeypatch.setattr(BasicSweeper, "validate_batch_is_legal", check)
    sweeper = each_value.EachValueSweeper(max_batch_size=None)
    sweeper.launcher = object()
    batch = [[f"seed={seed}", f"optimizer={name}"] for seed in (0, 1) for name in ("sgd", "adam")]
    if refused:
        with pytest.raises(ConfigCompositionException):
            sweeper.validate_batch_is_legal(batch)
        assert recorded.finishes == [False]  # killed, not waited for
        return
    sweeper.validate_batch_is_legal(batch)
    assert checked == [2] and recorded.finishes == [True]  # two jobs hold the four's values
    sweeper.validate_batch_is_legal(batch)  # a later batch: the workers are running already
    assert recorded.starts == 1 and recorded.finishes == [True]


def test_a_sweep_with_a_batch_size_below_one_is_refused_in_one_line(tmp_path):
    result = cli("-m", "seed=0,1", "hydra.sweeper.max_batch_size=0", tmp_path=tmp_path)
    assert result.returncode != 0
    first, *rest = result.stderr.strip().splitlines()
    assert first == "error: hydra.sweeper.max_batch_size must be a positive integer or null, got 0"
    assert "Traceback" not in result.stderr and all("HYDRA_FULL_ERROR" in line for line in rest if line)


def test_cli_lists_the_experiments_when_a_name_is_like_none_of_them(tmp_path):
    result = cli("+experiment=regularized", tmp_path=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("error: +experiment=regularized: experiment has no option regularized;")
    assert "batchnorm, dropout, init_glorot_normal" in result.stderr


def test_cli_without_data_says_how_to_get_it(tmp_path):
    result = cli("data.download=false", tmp_path=tmp_path)
    assert result.returncode == 2
    out = result.stderr + result.stdout
    assert "IMDB_LIGHTNING_DATA" in out and "data.data_dir" in out and "aclImdb_v1.tar.gz" in out
    assert "Traceback" not in out


def test_run_folders_are_unique_even_when_started_in_the_same_second(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    from imdb_lightning.running.naming import unique_folder

    base = str(tmp_path / "runs" / "2026-01-01_00-00-00")
    with ThreadPoolExecutor(8) as pool:
        folders = list(pool.map(lambda _: unique_folder(base), range(8)))
    assert len(set(folders)) == 8 and base in folders and f"{base}-2" in folders
    assert all(os.path.isdir(f) for f in folders)


def test_two_runs_started_at_once_get_their_own_folders(tmp_path, data_dir):
    env = {**os.environ, "IMDB_LIGHTNING_LOGS": str(tmp_path / "logs"), "IMDB_LIGHTNING_DATA": str(data_dir)}
    args = [
        "data.val_size=10",
        "data.num_words=30",
        "data.batch_size=8",
        "trainer.max_epochs=1",
        "trainer.enable_progress_bar=false",
    ]
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "imdb_lightning", *args],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(2)
    ]
    with runs.reaped(procs):
        outputs = [p.communicate(timeout=300)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs), outputs
    folders = sorted((tmp_path / "logs" / "runs").iterdir())
    assert len(folders) == 2 and all(
        (f / "metrics.json").is_file() and (f / "config.yaml").is_file() for f in folders
    )


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ("ckpt_path=/some/dir/last.ckpt,seed=1", "ckpt_path=_some_dir_last.ckpt,seed=1"),
        ("model.hidden_sizes=[16,16]", "model.hidden_sizes=[16,16]"),
        # an Optuna trial's values, to four significant digits; short ones as given
        (
            "model.dropout=0.30000000000000004,optimizer.lr=0.0012345678901,seed=3",
            "model.dropout=0.3,optimizer.lr=0.001235,seed=3",
        ),
        ("optimizer.lr=1e-05,model.l2=0.001", "optimizer.lr=1e-05,model.l2=0.001"),
    ],
)
def test_job_folder_names_are_one_level_for_any_value(overrides, expected):
    from imdb_lightning.running.naming import folder_name

    assert folder_name(overrides) == expected
    long = folder_name("x=" + "a" * 300)
    assert len(long) == 120 and "/" not in long and long != folder_name("x=" + "a" * 299 + "b")


def test_train_gives_the_model_and_the_trainer_what_the_checks_leave_out(data_dir, tmp_path, monkeypatch):
    """``GIVEN_BY_TRAIN`` is not advertised as a setting (``+model.input_dim=3`` is refused): it must be what
    train() really gives each constructor."""
    import hydra

    from imdb_lightning.config.validate import GIVEN_BY_TRAIN
    from imdb_lightning.running.train import train

    given: dict[str, set[str]] = {}
    instantiate = hydra.utils.instantiate

    def recording(config, *args, **kwargs):
        target = str(config.get("_target_", "")) if hasattr(config, "get") else ""
        given.setdefault(target.rsplit(".", 1)[-1], set()).update(kwargs)
        return instantiate(config, *args, **kwargs)

    monkeypatch.setattr(hydra.utils, "instantiate", recording)
    overrides = [f"data.data_dir={data_dir}", *runs.SMALL, "+trainer.fast_dev_run=true"]
    train(runs.compose_run(tmp_path / "run", overrides))
    assert given["IMDBClassifier"] == set(GIVEN_BY_TRAIN["model"])
    assert given["Trainer"] - {"enable_checkpointing"} == set(GIVEN_BY_TRAIN["trainer"])
    with pytest.raises(ConfigError, match="model.input_dim is not a setting"):
        validate(composed("+model.input_dim=3"))

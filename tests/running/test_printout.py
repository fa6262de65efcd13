"""What a run prints: Keras's epoch numbers, one line an epoch outside a terminal, no library chatter."""

from __future__ import annotations

import subprocess
import sys

from runs import bare_trainer
from screen import run_in_pty, screen_lines

from imdb_lightning.data import IMDBDataModule
from imdb_lightning.network.model import IMDBClassifier
from imdb_lightning.running.printout import KerasProgressBar
from imdb_lightning.utils import terminal

SMALL = ["data.val_size=10", "data.num_words=30", "data.batch_size=8", "trainer.max_epochs=3"]


def test_a_logged_run_prints_one_line_an_epoch_and_no_library_chatter(data_dir, tmp_path):
    # Output into pipes, as in CI, a log file or a SLURM job: no terminal to redraw a bar in.
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "imdb_lightning",
            *SMALL,
            f"data.data_dir={data_dir}",
            f"hydra.run.dir={tmp_path}",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    out = done.stdout + done.stderr
    assert "\r" not in out  # no progress-bar redraws
    epochs = [line for line in out.splitlines() if "Epoch " in line]
    # Keras's verbose=2 lines, the message alone (the run's log file keeps time and logger)
    assert [e.split(" - ")[0] for e in epochs] == ["Epoch 1/3", "Epoch 2/3", "Epoch 3/3"]
    assert "Epoch 3/3 - loss: " in (tmp_path / "imdb_lightning.log").read_text()
    for chatter in ("Tip", "litlogger", "weights_only", "deprecated", "logging interval", "Warning"):
        assert chatter not in out, chatter
    # Lightning's notes, once each (its own console handler and Hydra's would print them twice)
    assert out.count("GPU available: False") == 1
    assert out.count("`max_epochs=3` reached") == 1


def test_on_a_terminal_the_bar_and_the_epoch_lines_never_share_a_line(data_dir, tmp_path):
    # A real pseudo-terminal 80 columns wide, as a newcomer's: the bar redraws itself, the log lines go
    # between its redraws, and what is left on the screen is read as a person would read it.
    status, output = run_in_pty(
        [sys.executable, "-m", "imdb_lightning", *SMALL[:-1], "trainer.max_epochs=4"]
        + [f"data.data_dir={data_dir}", f"hydra.run.dir={tmp_path}"],
        columns=80,
    )
    assert status == 0, output[-2000:]
    lines = screen_lines(output, columns=80)
    epoch_lines = [line for line in lines if " - loss: " in line]
    assert [line.split(" - ")[0] for line in epoch_lines] == [f"Epoch {n}/4" for n in (1, 2, 3, 4)]
    assert "%|" in output  # the bar was drawn, on this terminal
    for line in epoch_lines + [line for line in lines if "`Trainer.fit` stopped" in line]:
        assert "%|" not in line and "it/s" not in line, line
        assert line.startswith(("Epoch", "`Trainer.fit`")), line


def test_the_progress_bar_counts_epochs_as_keras_does(data_dir, monkeypatch, capsys):
    monkeypatch.setattr(terminal, "interactive", lambda: True)
    bar = KerasProgressBar()
    trainer = bare_trainer(max_epochs=2, callbacks=[bar], enable_progress_bar=True)
    dm = IMDBDataModule(data_dir, val_size=10, batch_size=8, num_words=30)
    trainer.fit(IMDBClassifier(input_dim=30), datamodule=dm)
    shown = capsys.readouterr().out  # Lightning's bar writes to stdout
    assert "Epoch 1/2" in shown and "Epoch 2/2" in shown and "Epoch 0" not in shown


def test_outside_a_terminal_the_bar_stays_off(monkeypatch):
    monkeypatch.setattr(terminal, "interactive", lambda: False)
    assert KerasProgressBar().is_disabled
    monkeypatch.setattr(terminal, "interactive", lambda: True)
    assert not KerasProgressBar().is_disabled


def test_progress_lines_are_redrawn_only_on_a_terminal(monkeypatch, capsys):
    for on_terminal, expected in (
        (True, "\rreading: 1\rreading: 2 done\n"),
        (False, "reading: 1\nreading: 2 done\n"),
    ):
        monkeypatch.setattr(terminal, "interactive", lambda on_terminal=on_terminal: on_terminal)
        terminal.progress("reading: 1")
        terminal.progress("reading: 2 done", done=True)
        assert capsys.readouterr().err == expected


def test_help_says_what_the_app_does_the_data_variable_experiments_and_keys():
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "imdb_lightning", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    imported = {
        line.split("|")[-1].strip() for line in done.stderr.splitlines() if line.startswith("import time")
    }
    assert "hydra" in imported and not {"torch", "lightning"} & imported  # help in a second, not five
    assert done.returncode == 0, done.stderr[-2000:]
    text = done.stdout
    assert text.startswith("imdb_lightning: the Keras IMDB lecture")
    assert "$IMDB_LIGHTNING_DATA" in text and "data.data_dir=PATH" in text
    assert "== Keys you will type ==" in text and "model.dropout" in text
    experiments = next(line for line in text.splitlines() if line.startswith("experiment: "))
    assert "baseline" in experiments and "opt_adam" in experiments
    assert text.index("Keys you will type") < text.index(
        "experiment: "
    )  # the app first, Hydra's groups after


def test_console_lines_are_the_message_with_warnings_and_errors_marked():
    import logging

    from imdb_lightning.utils.terminal import ConsoleFormatter

    def shown(level: int, message: str) -> str:
        return ConsoleFormatter().format(logging.LogRecord("x", level, __file__, 1, message, None, None))

    assert shown(logging.INFO, "Epoch 1/20 - loss: 0.5") == "Epoch 1/20 - loss: 0.5"
    assert shown(logging.WARNING, "training diverged") == "warning: training diverged"
    assert shown(logging.ERROR, "error: data.batch_size must be ...") == "error: data.batch_size must be ..."
    assert shown(logging.ERROR, "boom") == "error: boom"


def test_a_progress_bar_from_the_callbacks_config_replaces_ours(data_dir, tmp_path):
    from runs import compose_run

    from imdb_lightning.running.train import train

    cfg = compose_run(
        tmp_path / "run",
        [*SMALL, f"data.data_dir={data_dir}", "trainer.enable_progress_bar=true"]
        + ["+callbacks.bar._target_=lightning.pytorch.callbacks.TQDMProgressBar"],
    )
    assert train(cfg)["status"] == "completed"  # Lightning refuses two progress bars

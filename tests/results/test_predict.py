"""Predicting with a trained checkpoint: the same encoding as training, from arguments, a file or stdin."""

from __future__ import annotations

import io
import json

import pytest
import torch
from runs import train_small_run

from imdb_lightning.data.tokenizer import KerasEncoding, encode_review
from imdb_lightning.results.predict import load, main


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    out, metrics = train_small_run(
        tmp_path_factory.mktemp("predict"), "trainer.max_epochs=15", "optimizer.lr=0.01"
    )
    assert metrics["val/acc_best"] >= 0.8
    return out


def rows(capsys) -> list[dict]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_checkpoint_carries_the_encoding(trained_run):
    state = torch.load(trained_run / "checkpoints" / "best.ckpt", map_location="cpu", weights_only=True)[
        "IMDBDataModule"
    ]
    assert state["encoding"] == {
        "num_words": 30,
        "skip_top": 0,
        "start_char": 1,
        "oov_char": 2,
        "index_from": 3,
    }
    word_index = json.loads(state["word_index_json"])
    assert word_index["the"] == 1 and max(word_index.values()) < 30 - 3


def test_new_text_is_encoded_as_the_training_reviews_were(trained_run):
    _, state = load(trained_run)
    # "mess" is in the word index but rarer than num_words: out of vocabulary (2); an unknown word is dropped.
    assert encode_review(
        "the mess zzunknown film", state["word_index"], KerasEncoding(**state["encoding"])
    ) == [1, 4, 2, 5]


def test_predicts_sentiment_of_texts_on_the_command_line(trained_run, capsys):
    assert (
        main(
            [
                str(trained_run),
                "--json",
                "A great, brilliant film: I loved it, wonderful!",
                "Awful. Boring, the worst waste of time.",
            ]
        )
        == 0
    )
    positive, negative = rows(capsys)
    assert positive["label"] == "positive" and positive["probability_positive"] > 0.5
    assert negative["label"] == "negative" and negative["probability_positive"] < 0.5


def test_reads_a_file_or_stdin_one_review_per_line(trained_run, tmp_path, capsys, monkeypatch):
    reviews = tmp_path / "reviews.txt"
    reviews.write_text("superb and moving\n\nterrible dull mess\n")
    assert main([str(trained_run / "checkpoints" / "last.ckpt"), "--file", str(reviews), "--json"]) == 0
    assert [r["label"] for r in rows(capsys)] == ["positive", "negative"]
    monkeypatch.setattr("sys.stdin", io.StringIO("best fun film\n"))
    assert main([str(trained_run)]) == 0
    assert capsys.readouterr().out.split("\t")[1] == "positive"


def test_missing_checkpoint_or_text_is_a_clear_error(trained_run, tmp_path, capsys, monkeypatch):
    assert main([str(tmp_path), "some text"]) == 2
    assert "no checkpoint" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert main([str(trained_run)]) == 2
    assert "no reviews given" in capsys.readouterr().err


def test_a_checkpoint_of_other_layers_is_a_clear_error(trained_run, tmp_path, capsys):
    ckpt = torch.load(trained_run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    # as saved before the kernels were stored [in, out]: nn.Linear's "weight", transposed
    ckpt["state_dict"] = {
        k.replace(".kernel", ".weight"): v.t() if k.endswith(".kernel") else v
        for k, v in ckpt["state_dict"].items()
    }
    torch.save(ckpt, tmp_path / "old.ckpt")
    assert main([str(tmp_path / "old.ckpt"), "some text"]) == 2
    assert "older version" in capsys.readouterr().err


@pytest.mark.parametrize(("test_ckpt", "expected"), [("final", "last.ckpt"), ("best", "best.ckpt")])
def test_a_run_folder_predicts_with_the_weights_behind_its_test_line(
    trained_run, tmp_path, test_ckpt, expected, capsys
):
    import shutil

    import yaml

    from imdb_lightning.results.predict import find_checkpoint

    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    config = yaml.safe_load((run / "config.yaml").read_text())
    (run / "config.yaml").write_text(yaml.safe_dump({**config, "test_ckpt": test_ckpt}))
    chosen, why = find_checkpoint(run)
    assert chosen == run / "checkpoints" / expected and "test line" in why
    assert main([str(run), "A wonderful film."]) == 0
    assert f"checkpoint: {chosen}" in capsys.readouterr().err  # says which it used
    (run / "checkpoints" / expected).unlink()
    chosen, why = find_checkpoint(run)
    assert chosen.name != expected and f"no {expected}" in why


def test_a_run_folder_with_an_unreadable_config_predicts_with_its_final_weights(
    trained_run, tmp_path, capsys
):
    import shutil

    from imdb_lightning.results.predict import find_checkpoint

    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    (run / "config.yaml").write_text("test_ckpt: [cut off")
    chosen, _ = find_checkpoint(run)
    assert chosen == run / "checkpoints" / "last.ckpt"
    assert "config.yaml cannot be read: taking the run's final weights" in capsys.readouterr().err


def test_a_diverged_run_or_weights_that_are_not_finite_are_refused_in_one_line(trained_run, tmp_path, capsys):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    metrics = json.loads((run / "metrics.json").read_text())
    (run / "metrics.json").write_text(json.dumps({**metrics, "status": "diverged"}))
    assert main([str(run), "some text"]) == 2
    assert "diverged: its weights classify nothing" in capsys.readouterr().err
    ckpt = torch.load(trained_run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    ckpt["state_dict"]["net.hidden_2.kernel"][3, 5] = float("nan")
    torch.save(ckpt, tmp_path / "nan.ckpt")
    assert main([str(tmp_path / "nan.ckpt"), "--json", "some text"]) == 2
    captured = capsys.readouterr()
    assert "not finite" in captured.err and captured.out == ""


def test_json_lines_are_strict_json(trained_run, capsys):
    assert main([str(trained_run), "--json", "loved it", 'a "quoted" \\ review', "awful"]) == 0

    def refuse(constant: str):
        raise AssertionError(f"{constant} is not JSON")

    lines = capsys.readouterr().out.splitlines()
    assert [json.loads(line, parse_constant=refuse)["text"] for line in lines] == [
        "loved it",
        'a "quoted" \\ review',
        "awful",
    ]


def test_bytes_that_are_not_utf8_are_read_as_training_reads_them_under_a_strict_locale(trained_run):
    import os
    import subprocess
    import sys

    env = {**os.environ, "PYTHONIOENCODING": "utf-8:strict", "LC_ALL": "C.UTF-8"}
    done = subprocess.run(
        [sys.executable, "-m", "imdb_lightning.predict", str(trained_run), "--json", b"loved it \xff"],
        input=b"great film \xfe\xff\n",
        env=env,
        capture_output=True,
    )
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    texts = [json.loads(line)["text"] for line in done.stdout.decode().splitlines()]
    assert texts == ["loved it \ufffd"]  # arguments given: standard input is not read
    done = subprocess.run(
        [sys.executable, "-m", "imdb_lightning.predict", str(trained_run)],
        input=b"great film \xfe\xff\n",
        env=env,
        capture_output=True,
    )
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    assert done.stdout.decode().rstrip("\n").split("\t")[2] == "great film \ufffd\ufffd"


def test_reviews_are_read_and_scored_a_batch_at_a_time(trained_run):
    """Any number of reviews in bounded memory: the input is pulled one batch ahead of the output."""
    from imdb_lightning.results.predict import predict

    model, state = load(trained_run)
    pulled = 0

    def endless():
        nonlocal pulled
        while True:
            pulled += 1
            yield "the best film, loved it"

    scores = predict(model, state, endless(), batch=50)
    first = [next(scores) for _ in range(120)]
    assert pulled == 150 and len(set(first)) == 1  # three batches read for 120 answers, the same each

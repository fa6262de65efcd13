"""Predicting with a trained checkpoint: the same encoding as training, from arguments, a file or stdin."""

from __future__ import annotations

import io
import json

import pytest
import torch
from runs import train_small_run

from imdb_lightning.data.tokenizer import KerasEncoding, encode_review
from imdb_lightning.predict import load, main


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


def test_missing_checkpoint_or_text_is_a_clear_error(tmp_path, capsys, monkeypatch):
    assert main([str(tmp_path), "some text"]) == 2
    assert "no checkpoint" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert main([str(tmp_path)]) == 2
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

    from imdb_lightning.predict import find_checkpoint

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

    from imdb_lightning.predict import find_checkpoint

    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    (run / "config.yaml").write_text("test_ckpt: [cut off")
    chosen, _ = find_checkpoint(run)
    assert chosen == run / "checkpoints" / "last.ckpt"
    assert "config.yaml cannot be read: taking the run's final weights" in capsys.readouterr().err

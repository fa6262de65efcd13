"""``python -m imdb_lightning.predict RUN_OR_CKPT [TEXT ...]``: the probability that each review is positive.

Reviews come from the command line, from ``--file`` (one review per line) or, when neither is given, from
standard input (one per line). They are encoded exactly as the training reviews were: the word index and
the encoding settings (``num_words``, ``index_from``, ...) travel inside every checkpoint.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch
import yaml

from imdb_lightning.batches import multi_hot
from imdb_lightning.checkpoints import read_checkpoint
from imdb_lightning.data.datamodule import IMDBDataModule
from imdb_lightning.data.tokenizer import KerasEncoding, encode_review
from imdb_lightning.errors import ConfigError, DataError, exit_on_interrupt
from imdb_lightning.model import IMDBClassifier

#: The checkpoint behind a run's printed test line, by its ``test_ckpt`` setting.
TESTED = {"final": "last.ckpt", "best": "best.ckpt"}


def find_checkpoint(path: Path) -> tuple[Path, str]:
    """A checkpoint file as given; for a run folder, the weights its test line was measured with (the final
    ones unless the run said ``test_ckpt=best``), else what it has. Returns the file and why it was chosen."""
    if path.is_file():
        return path, "as given"
    folder = path / "checkpoints"
    config = path / "config.yaml"
    test_ckpt = "final"
    if config.is_file():
        try:
            saved = yaml.safe_load(config.read_text())
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            saved = None
            print(f"warning: {config} cannot be read: taking the run's final weights", file=sys.stderr)
        test_ckpt = (saved.get("test_ckpt") if isinstance(saved, dict) else None) or "final"
    tested = folder / TESTED.get(test_ckpt, "last.ckpt")
    if tested.is_file():
        return tested, f"the {test_ckpt} weights, the ones behind the run's test line"
    for name in ("last.ckpt", "best.ckpt", "interrupted.ckpt"):
        if (folder / name).is_file():
            return folder / name, f"the run has no {tested.name}"
    raise DataError(f"no checkpoint at {path} (give a .ckpt file or a run folder with checkpoints/)")


def load(path: Path) -> tuple[IMDBClassifier, dict]:
    """The trained model (on the CPU, in eval mode) and the data state it was trained with; says on standard
    error which checkpoint it read."""
    ckpt, why = find_checkpoint(path)
    # weights_only: a checkpoint from elsewhere cannot run code when it is read.
    state = read_checkpoint(ckpt, setting="").get(IMDBDataModule.__qualname__)
    if not state or "word_index_json" not in state:
        raise DataError(
            f"{ckpt} holds no encoding settings (it was saved by an older version); retrain to predict with "
            f"it"
        )
    try:
        model = IMDBClassifier.load_from_checkpoint(ckpt, map_location="cpu", weights_only=True).eval()
    except RuntimeError as err:
        if "state_dict" not in str(err):
            raise
        raise DataError(
            f"{ckpt} holds other layers than this version's model (it was saved by an older version); "
            f"retrain to predict with it"
        ) from err
    # Known words rarer than num_words are out of vocabulary (any rank past the cut); unknown ones dropped.
    rare = dict.fromkeys(json.loads(state.get("oov_words_json", "[]")), state["width"])
    print(f"checkpoint: {ckpt} ({why})", file=sys.stderr)
    return model, {**state, "word_index": {**rare, **json.loads(state["word_index_json"])}}


@torch.no_grad()
def predict(model: IMDBClassifier, state: dict, texts: list[str]) -> list[float]:
    """P(positive) for each text, with the checkpoint's own word index and encoding."""
    encoding = KerasEncoding(**state["encoding"])
    sequences = [encode_review(text, state["word_index"], encoding) for text in texts]
    lengths = torch.tensor([len(s) for s in sequences])
    offsets = torch.cat([torch.zeros(1, dtype=torch.long), lengths.cumsum(0)])
    ids = torch.tensor([i for s in sequences for i in s], dtype=torch.long)
    return model.predict_proba(multi_hot(ids, offsets, state["width"])).tolist()


@exit_on_interrupt()
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m imdb_lightning.predict",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("checkpoint", type=Path, help="a .ckpt file or a run folder (logs/runs/<date>)")
    parser.add_argument("texts", nargs="*", help="reviews to classify")
    parser.add_argument("--file", type=Path, help="a file with one review per line")
    parser.add_argument("--json", action="store_true", help="one JSON object per review instead of a table")
    args = parser.parse_intermixed_args(argv)  # options may come before, between or after the texts
    texts = list(args.texts)
    if args.file:
        try:
            texts += [line for line in args.file.read_text(encoding="utf-8").splitlines() if line.strip()]
        except (OSError, UnicodeDecodeError) as err:
            print(
                f"error: cannot read --file {args.file}: {err.strerror if isinstance(err, OSError) else err}",
                file=sys.stderr,
            )
            return 2
    if not texts and not args.file:
        texts = [line for line in sys.stdin.read().splitlines() if line.strip()]
    if not texts:
        print("error: no reviews given (arguments, --file or standard input)", file=sys.stderr)
        return 2
    try:
        model, state = load(args.checkpoint)
    except (DataError, ConfigError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    for text, p in zip(texts, predict(model, state, texts), strict=True):
        label = "positive" if p > 0.5 else "negative"
        if args.json:
            print(json.dumps({"probability_positive": round(p, 6), "label": label, "text": text}))
        else:
            print(f"{p:.4f}\t{label}\t{text[:80]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

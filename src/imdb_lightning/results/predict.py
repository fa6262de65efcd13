"""``python -m imdb_lightning.predict RUN_OR_CKPT [TEXT ...]``: the probability that each review is positive.

Reviews come from the command line, from ``--file`` (one review per line) or, when neither is given, from
standard input (one per line). They are encoded exactly as the training reviews were: the word index and
the encoding settings (``num_words``, ``index_from``, ...) travel inside every checkpoint.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from collections import deque
from collections.abc import Iterable, Iterator
from pathlib import Path

import torch
import yaml

from imdb_lightning.data.datamodule import IMDBDataModule
from imdb_lightning.data.tokenizer import KerasEncoding, encode_review
from imdb_lightning.network.batches import multi_hot
from imdb_lightning.network.model import IMDBClassifier
from imdb_lightning.running.checkpoints import read_checkpoint
from imdb_lightning.running.folder import RunFolder, Status
from imdb_lightning.utils import safe_yaml
from imdb_lightning.utils.errors import ConfigError, DataError, exit_on_interrupt
from imdb_lightning.utils.terminal import plain


def find_checkpoint(path: Path) -> tuple[Path, str]:
    """A checkpoint file as given; for a run folder, the weights its test line was measured with (the final
    ones unless the run said ``test_ckpt=best``), else what it has. Returns the file and why it was chosen.
    A run that diverged is refused: its weights are not a model."""
    if path.is_file():
        return path, "as given"
    run = RunFolder(path)
    if run.status() is Status.DIVERGED:
        raise DataError(
            f"the run in {path} diverged: its weights classify nothing (train a run that completes)"
        )
    config = run.file(RunFolder.CONFIG)
    test_ckpt = "final"
    if config.is_file():
        try:
            saved = safe_yaml.parse(config.read_text())
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            saved = None
            print(f"warning: {config} cannot be read: taking the run's final weights", file=sys.stderr)
        test_ckpt = (saved.get("test_ckpt") if isinstance(saved, dict) else None) or "final"
    tested = run.checkpoint(RunFolder.TESTED_CHECKPOINT.get(test_ckpt, RunFolder.LAST))
    if tested.is_file():
        return tested, f"the {test_ckpt} weights, the ones behind the run's test line"
    for name in (RunFolder.LAST, RunFolder.BEST, RunFolder.INTERRUPTED):
        if run.checkpoint(name).is_file():
            return run.checkpoint(name), f"the run has no {tested.name}"
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
    if not all(torch.isfinite(p).all() for p in model.parameters()):
        raise DataError(
            f"{ckpt} holds weights that are not finite (a run that diverged): it classifies nothing"
        )
    # Known words rarer than num_words are out of vocabulary (any rank past the cut); unknown ones dropped.
    rare = dict.fromkeys(json.loads(state.get("oov_words_json", "[]")), state["width"])
    print(f"checkpoint: {ckpt} ({why})", file=sys.stderr)
    return model, {**state, "word_index": {**rare, **json.loads(state["word_index_json"])}}


#: Reviews encoded and scored at a time: the multi-hot rows of a batch are its memory (4 bytes a word of the
#: vocabulary a review: 40 MB for 1,024 reviews of 10,000 words), whatever the input's length.
BATCH = 1024


@torch.no_grad()
def predict(model: IMDBClassifier, state: dict, texts: Iterable[str], batch: int = BATCH) -> Iterator[float]:
    """P(positive) for each text, with the checkpoint's own word index and encoding, ``batch`` texts at a
    time (a generator: any number of texts in bounded memory)."""
    encoding = KerasEncoding(**state["encoding"])
    texts = iter(texts)
    while chunk := list(itertools.islice(texts, batch)):
        sequences = [encode_review(text, state["word_index"], encoding) for text in chunk]
        lengths = torch.tensor([len(s) for s in sequences])
        offsets = torch.cat([torch.zeros(1, dtype=torch.long), lengths.cumsum(0)])
        ids = torch.tensor([i for s in sequences for i in s], dtype=torch.long)
        yield from model.predict_proba(multi_hot(ids, offsets, state["width"])).tolist()


def as_text(raw: bytes | str) -> str:
    """Text as training reads a review: UTF-8, a byte that is none replaced (U+FFFD). An argument with such
    bytes arrives from the command line with them escaped (Python's surrogateescape)."""
    if isinstance(raw, str):
        raw = raw.encode("utf-8", "surrogateescape")
    return raw.decode("utf-8", errors="replace")


def reviews(texts: list[str], file: Path | None) -> Iterator[str]:
    """The reviews given: the arguments, then ``file``'s lines, or standard input's when neither is given;
    read one line at a time, blank lines skipped."""
    yield from (as_text(t) for t in texts)
    if file is None and texts:
        return
    # Bytes where there are bytes (a notebook's stdin may be text only): decoded as training decodes them.
    stdin = getattr(sys.stdin, "buffer", sys.stdin)
    stream = open(file, "rb") if file is not None else stdin  # noqa: SIM115 -- closed below
    try:
        for line in stream:
            text = as_text(line).rstrip("\r\n")
            if text.strip():
                yield text
    finally:
        if file is not None:
            stream.close()


@exit_on_interrupt()
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m imdb_lightning.predict",
        description=plain(__doc__),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("checkpoint", type=Path, help="a .ckpt file or a run folder (logs/runs/<date>)")
    parser.add_argument("texts", nargs="*", help="reviews to classify")
    parser.add_argument("--file", type=Path, help="a file with one review per line")
    parser.add_argument("--json", action="store_true", help="one JSON object per review instead of a table")
    args = parser.parse_intermixed_args(argv)  # options may come before, between or after the texts
    if args.file is not None and not args.file.is_file():
        what = "does not exist" if not args.file.exists() else "is not a file"
        print(f"error: cannot read --file {args.file}: it {what}", file=sys.stderr)
        return 2
    try:
        model, state = load(args.checkpoint)
    except (DataError, ConfigError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if hasattr(sys.stdout, "reconfigure"):  # a terminal or pipe that cannot show a character gets a "?"
        sys.stdout.reconfigure(errors="replace")
    count = 0
    texts = reviews(args.texts, args.file)
    kept: deque[str] = deque()
    scored = predict(model, state, _tee(texts, kept))
    try:
        for p in scored:
            text = kept.popleft()
            label = "positive" if p > 0.5 else "negative"
            if args.json:
                line = {"probability_positive": round(p, 6), "label": label, "text": text}
                print(json.dumps(line, allow_nan=False))
            else:
                print(f"{p:.4f}\t{label}\t{text[:80]}")
            count += 1
    except OSError as err:
        print(f"error: cannot read --file {args.file}: {err.strerror}", file=sys.stderr)
        return 2
    if count == 0:
        print("error: no reviews given (arguments, --file or standard input)", file=sys.stderr)
        return 2
    return 0


def _tee(texts: Iterable[str], kept: deque[str]) -> Iterator[str]:
    """``texts``, each also appended to ``kept`` (the printed lines show the review beside its score)."""
    for text in texts:
        kept.append(text)
        yield text


if __name__ == "__main__":
    sys.exit(main())

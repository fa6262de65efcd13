"""``imdb-lightning-prepare``: find (or download) and encode the data ahead of training, and say what is
there."""

from __future__ import annotations

import argparse
import logging
import sys
import time

import numpy as np

from imdb_lightning.data.datamodule import IMDBDataModule
from imdb_lightning.utils.errors import ConfigError, DataError, exit_on_interrupt
from imdb_lightning.utils.terminal import plain


def summarize(dm: IMDBDataModule) -> str:
    """A few lines a person checks before training: counts per split and label, vocabulary, lengths, cache."""
    lines = [f"{'split':<6} {'reviews':>8} {'negative':>9} {'positive':>9} {'mean ids':>9}"]
    for name, split in dm.splits.items():
        pos = int(split.labels.sum())
        lines.append(
            f"{name:<6} {len(split):>8,} {len(split) - pos:>9,} {pos:>9,} {np.mean(split.lengths):>9.1f}"
        )
    lines.append(
        f"vocabulary: {dm.vocabulary_size:,} words in the word index ({dm.hparams.word_index}); rows are "
        f"{dm.num_words:,} wide"
    )
    if dm.invalid_utf8:
        lines.append(
            f"reviews that were not valid UTF-8 (read with replacement characters): {dm.invalid_utf8}"
        )
    return "\n".join(lines)


@exit_on_interrupt()
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="imdb-lightning-prepare", description=plain(__doc__))
    parser.add_argument(
        "--data-dir",
        help="folder with aclImdb/ or aclImdb*.tar.gz and imdb_word_index.json "
        "(default: $IMDB_LIGHTNING_DATA, else download)",
    )
    parser.add_argument("--num-words", type=int, default=10000)
    parser.add_argument(
        "--val-size", type=int, default=10000, help="training reviews held out for validation"
    )
    parser.add_argument("--word-index", choices=["keras", "corpus"], default="keras")
    parser.add_argument(
        "--no-download", action="store_true", help="fail instead of downloading missing files"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    start = time.perf_counter()
    try:
        dm = IMDBDataModule(
            args.data_dir,
            num_words=args.num_words,
            val_size=args.val_size,
            word_index=args.word_index,
            download=not args.no_download,
        )
        dm.prepare_data()
        dm.setup()
    except (DataError, ConfigError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(summarize(dm))
    print(f"cache: {dm.cache_path}")
    print(f"ready in {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

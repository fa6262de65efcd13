"""Checks on the real IMDB data (run in CI against ../shared/data; skipped where it is absent)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from imdb_lightning.data import IMDBDataModule, decode_review, load_corpus, load_word_index

pytestmark = pytest.mark.real_data


def test_real_corpus_has_25000_balanced_reviews_per_split(real_data):
    corpus = load_corpus()
    for split in ("train", "test"):
        raw = corpus.splits[split]
        assert len(raw) == 25_000
        assert int(raw.labels.sum()) == 12_500
    assert corpus.vocabulary_size == 88_584


def test_review_576_10_decodes_as_in_the_lecture(real_data):
    corpus = load_corpus()
    dm = IMDBDataModule()
    dm.setup()
    train = dm.splits["train"] if (dm.splits["train"].review_ids == 576).any() else dm.splits["val"]
    i = int(np.flatnonzero((train.review_ids == 576) & (train.labels == 1))[0])
    text = decode_review(train.sequence(i), load_word_index())
    assert text.startswith(
        "? this film was just brilliant casting location scenery story direction everyone's really suited the part"
    )
    # The lecture prints this review's ids: [1, 14, 22, 16, 43, 530, 973, 1622, 1385, 65, 458, 4468, ...]
    assert train.sequence(i)[:12] == [1, 14, 22, 16, 43, 530, 973, 1622, 1385, 65, 458, 4468]
    assert corpus.invalid_utf8 == 0


def test_real_splits_are_15000_train_10000_val_25000_test(real_data):
    dm = IMDBDataModule()
    dm.prepare_data()
    dm.setup()
    assert {k: len(v) for k, v in dm.splits.items()} == {"val": 10_000, "train": 15_000, "test": 25_000}
    assert 0.45 < dm.splits["val"].labels.mean() < 0.55


MEASURE = textwrap.dedent(
    """
    import json, resource, sys, time
    from imdb_lightning.data import IMDBDataModule
    start = time.perf_counter()
    dm = IMDBDataModule(batch_format="dense"); dm.prepare_data(); dm.setup()
    ready = time.perf_counter() - start
    rows = 0
    for stage in ("train", "val", "test"):
        for batch in dm.loader(stage, shuffle=stage == "train"):
            x, y = dm.on_after_batch_transfer(batch, 0)
            rows += len(x)
    # VmHWM is this program's own peak; ru_maxrss also keeps the RSS of the process it was forked from.
    status = open("/proc/self/status").read() if sys.platform == "linux" else ""
    peak_kb = int(status.split("VmHWM:")[1].split()[0]) if "VmHWM:" in status else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"rows": rows, "setup_s": ready, "peak_rss_mb": peak_kb / 1024}))
    """
)


def test_peak_memory_with_full_data_and_one_epoch_stays_under_1gb(real_data):
    load_corpus()  # make sure the cache exists, as after the first run
    out = subprocess.run([sys.executable, "-c", MEASURE], capture_output=True, text=True, check=True)
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    print(figures)
    assert figures["rows"] == 50_000
    assert figures["peak_rss_mb"] < 1024
    assert figures["setup_s"] < 5

"""Checks on the real IMDB data (run in CI against ../shared/data; skipped where it is absent)."""

from __future__ import annotations

import gc
import json
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from imdb_lightning.data import IMDBDataModule, decode_review, load_corpus, load_data, load_word_index

pytestmark = pytest.mark.real_data


def test_real_corpus_has_25000_balanced_reviews_per_split(real_data):
    corpus = load_corpus()
    for split in ("train", "test"):
        raw = corpus.splits[split]
        assert len(raw) == 25_000
        assert int(raw.labels.sum()) == 12_500
    assert corpus.vocabulary_size == 88_584


# The lecture's print(train_data[0]): Keras's first shuffled training review, train/pos/576_10.txt.
LECTURE_TRAIN_0 = [
    int(i)
    for i in """
1 14 22 16 43 530 973 1622 1385 65 458 4468 66 3941 4 173 36 256 5 25 100 43 838 112 50 670 2 9 35
480 284 5 150 4 172 112 167 2 336 385 39 4 172 4536 1111 17 546 38 13 447 4 192 50 16 6 147 2025 19
14 22 4 1920 4613 469 4 22 71 87 12 16 43 530 38 76 15 13 1247 4 22 17 515 17 12 16 626 18 2 5 62
386 12 8 316 8 106 5 4 2223 5244 16 480 66 3785 33 4 130 12 16 38 619 5 25 124 51 36 135 48 25 1415
33 6 22 12 215 28 77 52 5 14 407 16 82 2 8 4 107 117 5952 15 256 4 2 7 3766 5 723 36 71 43 530 476
26 400 317 46 7 4 2 1029 13 104 88 4 381 15 297 98 32 2071 56 26 141 6 194 7486 18 4 226 22 21 134
476 26 480 5 144 30 5535 18 51 36 28 224 92 25 104 4 226 65 16 38 1334 88 12 16 283 5 16 4472 113
103 32 15 16 5345 19 178 32""".split()
]


def test_load_data_gives_kerass_labels_in_kerass_order_and_the_lectures_first_review(real_data):
    (x_train, y_train), (x_test, y_test) = load_data(num_words=10000)
    keras = np.load(real_data / "keras_load_data_labels.npz")
    np.testing.assert_array_equal(y_train, keras["y_train"])  # all 25,000, in order
    np.testing.assert_array_equal(y_test, keras["y_test"])
    assert x_train[0] == LECTURE_TRAIN_0
    assert decode_review(x_train[0], load_word_index()).startswith(
        "? this film was just brilliant casting location scenery story direction everyone's really suited "
        "the part"
    )
    assert load_corpus().invalid_utf8 == 0


def test_validation_holds_the_lectures_x_train_first_10000_reviews(real_data):
    dm = IMDBDataModule()
    dm.setup()
    (x_train, y_train), _ = load_data(num_words=10000)
    val = dm.splits["val"]
    assert (val.review_ids[0], val.labels[0]) == (576, 1.0)  # train/pos/576_10.txt
    assert val.sequence(0) == LECTURE_TRAIN_0
    assert [val.sequence(i) for i in range(0, 10_000, 997)] == list(x_train[:10_000:997])
    np.testing.assert_array_equal(val.labels, y_train[:10_000])
    np.testing.assert_array_equal(dm.splits["train"].labels, y_train[10_000:])


def test_warm_load_data_reads_its_cache_far_faster_than_tokenizing(real_data):
    load_data()  # builds the cache, as the first call does
    # CPU time, the best of three calls, with the garbage collector paused (its collections also walk what the
    # session's earlier tests left). About 0.5 s alone on a quiet day; on a slow evening of the shared machine
    # 0.86-1.04 s alone and 1.01-1.08 s in the suite. Tokenizing the reviews again takes 5.7 s or more.
    spent = []
    gc.disable()
    try:
        for _ in range(3):
            start = time.process_time()
            load_data()
            spent.append(time.process_time() - start)
    finally:
        gc.enable()
    assert min(spent) < 2.0


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
    start = time.process_time()  # CPU time: a busy machine does not inflate it as it does wall time
    dm = IMDBDataModule(batch_format="dense"); dm.prepare_data(); dm.setup()
    ready = time.process_time() - start
    rows = 0
    for stage in ("train", "val", "test"):
        for x, y in dm.loader(stage, shuffle=stage == "train"):
            rows += len(x)
    # VmHWM is this program's own peak; ru_maxrss also keeps the RSS of the process it was forked from.
    status = open("/proc/self/status").read() if sys.platform == "linux" else ""
    if "VmHWM:" in status:
        peak_kb = int(status.split("VmHWM:")[1].split()[0])
    else:
        peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
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

"""The corpus is read once from folder or tarball, cached compactly, and rebuilt when anything it depends on changes."""

from __future__ import annotations

import logging
import os
import stat

import numpy as np
import pytest

from imdb_lightning.data import DataError, encode_split, load_corpus
from imdb_lightning.data import corpus as corpus_module
from imdb_lightning.data.sources import cache_dir
from imdb_lightning.errors import ConfigError
from synthetic import make_data_dir, write_word_index


def cached_files():
    folder = cache_dir() / "encoded"
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def test_folder_and_tarball_give_the_same_encoding(tmp_path):
    a = load_corpus(make_data_dir(tmp_path / "f", form="folder"))
    b = load_corpus(make_data_dir(tmp_path / "t", form="tarball"))
    for split in ("train", "test"):
        for name in ("ranks", "offsets", "labels", "review_ids", "ratings"):
            np.testing.assert_array_equal(getattr(a.splits[split], name), getattr(b.splits[split], name))
    assert len(a.splits["train"]) == 40 and a.splits["train"].labels.sum() == 20


def test_canonical_order_is_negatives_then_positives_by_review_id(data_dir):
    train = load_corpus(data_dir).splits["train"]
    assert train.labels.tolist() == [0] * 20 + [1] * 20
    assert train.review_ids.tolist() == list(range(20)) * 2
    assert set(train.ratings[:20]) <= {1, 2, 3, 4} and set(train.ratings[20:]) <= {7, 8, 9, 10}


def test_second_load_comes_from_the_cache(data_dir, monkeypatch):
    first = load_corpus(data_dir)
    assert len(cached_files()) == 1
    monkeypatch.setattr(corpus_module, "read_corpus", lambda *a: pytest.fail("re-read the reviews"))
    second = load_corpus(data_dir)
    np.testing.assert_array_equal(first.splits["test"].ranks, second.splits["test"].ranks)
    assert second.word_index == first.word_index and second.word_index["the"] == 1
    assert second.meta["cache_path"].endswith(cached_files()[0])


def test_changing_the_word_index_or_a_review_rebuilds_the_cache(data_dir):
    load_corpus(data_dir)
    write_word_index(data_dir, ["film", "the"])
    second = load_corpus(data_dir)
    assert len(cached_files()) == 2
    assert second.vocabulary_size == 2
    review = data_dir / "aclImdb" / "train" / "pos" / "0_8.txt"
    review.write_text("film film film, a longer review than before")
    third = load_corpus(data_dir)
    assert len(cached_files()) == 3
    train = third.splits["train"]
    first_positive = int(np.flatnonzero(train.labels == 1)[0])
    assert train.ranks[train.offsets[first_positive] : train.offsets[first_positive + 1]].tolist() == [1, 1, 1, 0, 0, 0, 0, 0]


def test_corrupt_cache_is_detected_and_rebuilt(data_dir, caplog):
    first = load_corpus(data_dir)
    path = cache_dir() / "encoded" / cached_files()[0]
    path.write_bytes(path.read_bytes()[:200])
    with caplog.at_level(logging.WARNING):
        again = load_corpus(data_dir)
    assert "unusable" in caplog.text
    np.testing.assert_array_equal(first.splits["train"].ranks, again.splits["train"].ranks)
    assert load_corpus(data_dir).meta["key"] == first.meta["key"]  # the rebuilt cache is good again


def test_cache_with_inconsistent_arrays_is_rejected(data_dir, caplog):
    corpus = load_corpus(data_dir)
    path = cache_dir() / "encoded" / cached_files()[0]
    corpus.splits["train"].offsets[-1] += 5
    corpus_module.save_corpus(corpus, path, corpus.meta["key"])
    with caplog.at_level(logging.WARNING):
        load_corpus(data_dir)
    assert "offsets" in caplog.text


def test_cache_writes_leave_no_temporary_files(data_dir):
    load_corpus(data_dir)
    assert all(not name.endswith(".part") for name in cached_files())


def test_read_only_data_folder_is_never_written(data_dir):
    before = sorted(p for p in data_dir.rglob("*"))
    mode = data_dir.stat().st_mode
    os.chmod(data_dir, stat.S_IRUSR | stat.S_IXUSR)
    try:
        load_corpus(data_dir)
    finally:
        os.chmod(data_dir, mode)
    assert sorted(p for p in data_dir.rglob("*")) == before


def test_corrupt_or_truncated_tarball_is_a_clear_error_and_caches_nothing(tmp_path):
    folder = make_data_dir(tmp_path / "t", form="tarball")
    tarball = folder / "aclImdb_v1.tar.gz"
    tarball.write_bytes(tarball.read_bytes()[: tarball.stat().st_size // 2])
    with pytest.raises(DataError, match="corrupt or truncated"):
        load_corpus(folder)
    tarball.write_bytes(b"this is not a tarball")
    with pytest.raises(DataError, match="corrupt or truncated"):
        load_corpus(folder)
    assert cached_files() == []


def test_invalid_utf8_is_decoded_with_replacement_and_counted(data_dir):
    (data_dir / "aclImdb" / "test" / "neg" / "99_1.txt").write_bytes(b"the film \xff\xfe was bad")
    corpus = load_corpus(data_dir)
    assert corpus.invalid_utf8 == 1
    assert len(corpus.splits["test"]) == 41


def test_corpus_word_index_ranks_training_words_by_frequency(data_dir):
    corpus = load_corpus(data_dir, word_index="corpus")
    train = corpus.splits["train"]
    assert train.ranks.min() >= 1  # every training word is in its own index
    counts = np.bincount(train.ranks)
    assert counts[1] == counts[1:].max()  # rank 1 is the most frequent word
    with pytest.raises(ConfigError, match="'keras' or 'corpus'"):
        load_corpus(data_dir, word_index="glove")


def test_maxlen_drops_reviews_as_keras_does(data_dir):
    raw = load_corpus(data_dir).splits["train"]
    full = encode_split(raw)
    maxlen = int(np.median(full.lengths))
    short = encode_split(raw, maxlen=maxlen)
    assert len(short) == int((full.lengths < maxlen).sum()) < len(full)
    assert short.lengths.max() < maxlen
    kept = np.flatnonzero(full.lengths < maxlen)
    assert short.sequence(0) == full.sequence(int(kept[0]))
    assert short.review_ids.tolist() == full.review_ids[kept].tolist()

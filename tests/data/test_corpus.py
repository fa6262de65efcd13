"""The corpus is read once from folder or tarball, cached compactly, and rebuilt when anything it depends on
changes."""

from __future__ import annotations

import logging
import os

import numpy as np
import pytest
from conftest import read_only
from synthetic import make_data_dir, write_word_index

from imdb_lightning.data import DataError, KerasEncoding, encode_corpus, load_corpus
from imdb_lightning.data import cache as cache_module
from imdb_lightning.data.corpus import keras_orders
from imdb_lightning.data.sources import cache_dir
from imdb_lightning.utils.errors import ConfigError


def cached_files():
    folder = cache_dir() / "encoded"
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def test_folder_and_tarball_give_the_same_encoding(tmp_path):
    a = load_corpus(make_data_dir(tmp_path / "f", form="folder"))
    b = load_corpus(make_data_dir(tmp_path / "t", form="tarball"))
    for split in ("train", "test"):
        for name in ("ranks", "offsets", "labels", "review_ids"):
            np.testing.assert_array_equal(getattr(a.splits[split], name), getattr(b.splits[split], name))
    assert len(a.splits["train"]) == 40 and a.splits["train"].labels.sum() == 20


def test_order_is_kerass_positives_then_negatives_each_by_file_name_as_a_string(data_dir):
    train = load_corpus(data_dir).splits["train"]
    assert train.labels.tolist() == [1] * 20 + [0] * 20
    # make_data_dir names files <i>_<rating>.txt; as strings, "0_8.txt" < "10_9.txt" < ... < "1_9.txt"
    names = sorted(f"{i}_{8 + i % 3}.txt" for i in range(20))
    assert train.review_ids[:20].tolist() == [int(name.split("_")[0]) for name in names]
    assert train.review_ids[:4].tolist() == [0, 10, 11, 12] and train.review_ids[11] == 1


def test_words_the_index_lacks_are_dropped_not_out_of_vocabulary(tmp_path):
    data_dir = make_data_dir(tmp_path / "d")
    (data_dir / "aclImdb" / "train" / "pos" / "0_8.txt").write_text("the zzunknown film")
    train = load_corpus(data_dir).splits["train"]
    assert train.ranks[train.offsets[0] : train.offsets[1]].tolist() == [1, 2]  # the, film


def test_second_load_comes_from_the_cache(data_dir, monkeypatch):
    first = load_corpus(data_dir)
    assert len(cached_files()) == 1
    monkeypatch.setattr(cache_module, "read_corpus", lambda *a: pytest.fail("re-read the reviews"))
    second = load_corpus(data_dir)
    np.testing.assert_array_equal(first.splits["test"].ranks, second.splits["test"].ranks)
    assert second.word_index == first.word_index and second.word_index["the"] == 1
    assert second.meta["cache_path"].endswith(cached_files()[0])


def test_preparing_knows_a_good_cache_by_its_key_and_builds_a_missing_or_corrupt_one(data_dir, monkeypatch):
    """What prepare_data does before every run: cheap when the cache is there (its arrays are read once, when
    the data is loaded), nothing to keep without a cache."""
    located = cache_module.locate_corpus(data_dir)
    cache_module.prepare_located(located)
    assert len(cached_files()) == 1
    with monkeypatch.context() as patched:
        patched.setattr(cache_module, "load_located", lambda *a, **k: pytest.fail("read the corpus"))
        cache_module.prepare_located(located)
        cache_module.prepare_located(located, cache=False)
    path = cache_dir() / "encoded" / cached_files()[0]
    path.write_bytes(path.read_bytes()[:200])
    cache_module.prepare_located(located)
    assert len(load_corpus(data_dir).splits["train"]) == 40 and cached_files() == [path.name]
    assert cache_module._cached_key(path) == load_corpus(data_dir).meta["key"]


def test_a_data_module_looks_for_its_data_once_a_step(data_dir, monkeypatch):
    """An extracted folder's fingerprint stats every review file: prepare_data and setup each take it once."""
    from imdb_lightning.data import IMDBDataModule

    calls = []
    fingerprint = cache_module.source_fingerprint
    monkeypatch.setattr(
        cache_module, "source_fingerprint", lambda source: calls.append(source) or fingerprint(source)
    )
    dm = IMDBDataModule(data_dir, val_size=10, num_words=20, seed=7)
    dm.prepare_data()
    dm.setup()
    assert len(calls) == 2 and len(dm.splits["train"]) == 30


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
    assert train.ranks[train.offsets[first_positive] : train.offsets[first_positive + 1]].tolist() == [
        1,
        1,
        1,
    ]


def _new_dates(folder) -> None:
    """Every file under ``folder`` a minute newer: a copy, an unpacked archive, a checkout of the same."""
    for path in folder.rglob("*"):
        if path.is_file():
            stat = path.stat()
            os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 60 * 10**9))


@pytest.mark.parametrize("form", ["folder", "tarball"])
def test_reviews_with_new_dates_but_the_same_content_reuse_their_encoding(form, tmp_path, monkeypatch):
    data = make_data_dir(tmp_path / "data", form=form)
    first = load_corpus(data)
    _new_dates(data)
    with monkeypatch.context() as patched:
        patched.setattr(cache_module, "read_corpus", lambda *a: pytest.fail("encoded the same reviews again"))
        again = load_corpus(data)
    assert again.meta["key"] != first.meta["key"]  # the files' dates are in the key ...
    for split, raw in first.splits.items():  # ... but the encoding is the one made before
        assert np.array_equal(again.splits[split].ranks, raw.ranks)
        assert np.array_equal(again.splits[split].labels, raw.labels)
    # The cache is written again under the new key (found at once next time) and the old one, for dates that
    # no longer exist, is gone.
    assert cached_files() == [os.path.basename(again.meta["cache_path"])]
    assert cache_module._cached_key(cache_dir() / "encoded" / cached_files()[0]) == again.meta["key"]


def test_a_worker_that_finds_the_earlier_cache_gone_takes_the_one_its_neighbour_wrote(data_dir, monkeypatch):
    """Two workers of a sweep start together on touched files: the one that looks second finds the cache of
    the earlier dates already replaced, and must not encode the reviews again."""
    load_corpus(data_dir)
    _new_dates(data_dir)
    digest = cache_module.content_digest
    neighbour = []

    def digest_while_the_neighbour_moves_the_cache(source):
        # The other worker, between this one's two looks at the cache (hashing as usual).
        monkeypatch.setattr(cache_module, "content_digest", digest)
        neighbour.append(load_corpus(data_dir))
        return digest(source)

    monkeypatch.setattr(cache_module, "content_digest", digest_while_the_neighbour_moves_the_cache)
    monkeypatch.setattr(cache_module, "read_corpus", lambda *a: pytest.fail("encoded the same reviews again"))
    mine = load_corpus(data_dir)
    assert mine.meta["cache_path"] == neighbour[0].meta["cache_path"] and len(cached_files()) == 1


def test_reviews_with_new_dates_and_a_new_content_are_encoded_again(data_dir):
    first = load_corpus(data_dir)
    review = data_dir / "aclImdb" / "train" / "pos" / "0_8.txt"
    review.write_text(review.read_text() + " the the")
    _new_dates(data_dir)
    again = load_corpus(data_dir)
    assert len(again.splits["train"].ranks) == len(first.splits["train"].ranks) + 2
    assert again.meta["content"] != first.meta["content"] and len(cached_files()) == 2


@pytest.mark.parametrize("to", ["train/neg", "test/pos"])
def test_a_review_moved_to_another_label_or_split_rebuilds_the_cache(data_dir, to):
    """The move keeps the file count, total size and newest mtime of the folder: only the paths tell."""
    first = load_corpus(data_dir)
    reviews = data_dir / "aclImdb"
    os.rename(reviews / "train" / "pos" / "3_8.txt", reviews / to / "3000_8.txt")
    moved = load_corpus(data_dir)
    assert len(cached_files()) == 2 and moved.meta["key"] != first.meta["key"]
    split = to.split("/")[0]
    assert int(moved.splits["train"].labels.sum()) == int(first.splits["train"].labels.sum()) - 1
    assert len(moved.splits[split]) == len(first.splits[split]) + (split == "test")


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
    cache_module.save_corpus(corpus, path, corpus.meta["key"])
    with caplog.at_level(logging.WARNING):
        load_corpus(data_dir)
    assert "offsets" in caplog.text


def test_cache_writes_leave_no_temporary_files(data_dir):
    load_corpus(data_dir)
    assert all(not name.endswith(".part") for name in cached_files())


def test_an_unwritable_cache_folder_loads_without_the_cache_and_says_so(data_dir, caplog):
    with read_only(cache_dir()), caplog.at_level(logging.WARNING):
        corpus = load_corpus(data_dir)
    assert len(corpus.splits["train"]) == 40 and "cache_path" not in corpus.meta
    assert "could not write the cache" in caplog.text and cached_files() == []


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


def keras_reference(
    raw_train,
    raw_test,
    *,
    num_words=None,
    skip_top=0,
    maxlen=None,
    seed=113,
    start_char=1,
    oov_char=2,
    index_from=3,
):
    """keras.datasets.imdb.load_data's body (Keras 3.15), run on our ranks in Keras's pre-shuffle order."""
    x_train = np.array(
        [
            raw_train.ranks[a:b].tolist()
            for a, b in zip(raw_train.offsets, raw_train.offsets[1:], strict=False)
        ],
        dtype=object,
    )
    x_test = np.array(
        [raw_test.ranks[a:b].tolist() for a, b in zip(raw_test.offsets, raw_test.offsets[1:], strict=False)],
        dtype=object,
    )
    labels_train, labels_test = raw_train.labels, raw_test.labels
    rng = np.random.RandomState(seed)
    indices = np.arange(len(x_train))
    rng.shuffle(indices)
    x_train, labels_train = x_train[indices], labels_train[indices]
    indices = np.arange(len(x_test))
    rng.shuffle(indices)
    x_test, labels_test = x_test[indices], labels_test[indices]
    if start_char is not None:
        x_train = [[start_char] + [w + index_from for w in x] for x in x_train]
        x_test = [[start_char] + [w + index_from for w in x] for x in x_test]
    else:
        x_train = [[w + index_from for w in x] for x in x_train]
        x_test = [[w + index_from for w in x] for x in x_test]
    if maxlen:
        keep_train = [len(x) < maxlen for x in x_train]
        keep_test = [len(x) < maxlen for x in x_test]
        x_train, labels_train = (
            [x for x, k in zip(x_train, keep_train, strict=True) if k],
            labels_train[keep_train],
        )
        x_test, labels_test = [x for x, k in zip(x_test, keep_test, strict=True) if k], labels_test[keep_test]
    xs = x_train + x_test
    if not num_words:
        num_words = max(max(x) for x in xs)
    if oov_char is not None:
        xs = [[w if (skip_top <= w < num_words) else oov_char for w in x] for x in xs]
    else:
        xs = [[w for w in x if skip_top <= w < num_words] for x in xs]
    return (xs[: len(x_train)], labels_train), (xs[len(x_train) :], labels_test)


@pytest.mark.parametrize(
    "settings",
    [
        {},
        {"num_words": 12},
        {"num_words": 12, "skip_top": 5, "maxlen": 30, "seed": 7},
        {"num_words": 10, "oov_char": None, "index_from": 2},
        {"start_char": None, "maxlen": 25, "num_words": 9},
    ],
    ids=str,
)
def test_encode_corpus_gives_what_kerass_load_data_does_on_the_same_arrays(data_dir, settings):
    corpus = load_corpus(data_dir)
    train, test, num_words = encode_corpus(corpus, KerasEncoding(**settings))
    (x_train, y_train), (x_test, y_test) = keras_reference(
        corpus.splits["train"], corpus.splits["test"], **settings
    )
    assert [train.sequence(i) for i in range(len(train))] == x_train
    assert [test.sequence(i) for i in range(len(test))] == x_test
    assert train.labels.tolist() == y_train.tolist() and test.labels.tolist() == y_test.tolist()
    assert all(i < num_words for x in x_train + x_test for i in x)


def test_num_words_none_resolves_to_the_largest_id_over_both_splits_which_becomes_oov(data_dir):
    corpus = load_corpus(data_dir)
    train, test, num_words = encode_corpus(corpus, KerasEncoding())
    largest = max(int(corpus.splits[s].ranks.max()) for s in ("train", "test")) + 3
    assert num_words == largest
    assert largest not in train.ids and largest not in test.ids


def test_maxlen_drops_reviews_after_the_shuffle_as_keras_does(data_dir):
    corpus = load_corpus(data_dir)
    full, _, _ = encode_corpus(corpus, KerasEncoding())
    maxlen = int(np.median(full.lengths))
    short, _, _ = encode_corpus(corpus, KerasEncoding(maxlen=maxlen))
    kept = np.flatnonzero(full.lengths < maxlen)
    assert len(short) == len(kept) < len(full)
    assert short.lengths.max() < maxlen
    assert short.review_ids.tolist() == full.review_ids[kept].tolist()
    assert short.sequence(0) == full.sequence(int(kept[0]))


def test_maxlen_that_keeps_no_review_says_so(data_dir):
    with pytest.raises(ConfigError, match="maxlen=3 keeps no train review.*shortest has"):
        encode_corpus(load_corpus(data_dir), KerasEncoding(maxlen=3))


def test_keras_orders_matches_numpy_random_state_shuffles():
    rng = np.random.RandomState(113)
    a, b = np.arange(7), np.arange(5)
    rng.shuffle(a)
    rng.shuffle(b)
    got = keras_orders(7, 5, 113)
    assert got[0].tolist() == a.tolist() and got[1].tolist() == b.tolist()

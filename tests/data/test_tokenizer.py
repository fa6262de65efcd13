"""Tokenizing and encoding follow the Keras Tokenizer defaults and imdb.load_data's id conventions."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from imdb_lightning.data import (
    DataError,
    build_word_index,
    decode_review,
    encode_review,
    load_word_index,
    tokenize,
)
from imdb_lightning.data.tokenizer import KERAS_FILTERS, KerasEncoding, apply_id_conventions

INDEX = {"the": 1, "film": 2, "was": 3, "brilliant": 4, "everyone's": 5, "br": 6, "rare": 9000}


def test_tokenize_lowercases_filters_punctuation_and_keeps_apostrophes():
    assert tokenize("Everyone's GREAT,film!<br />Fly-fishing\tand\nmore") == [
        "everyone's",
        "great",
        "film",
        "br",
        "fly",
        "fishing",
        "and",
        "more",
    ]


def test_tokenize_splits_on_the_single_space_only_as_kerass_tokenizer():
    # Keras's Tokenizer(split=" "): whitespace that is no filter character stays inside a word.
    assert tokenize("good\x85bad  it\xa0is\rso") == ["good\x85bad", "it\xa0is\rso"]


@pytest.mark.parametrize("text", ["", "   ", "!!!", "<br /><br />"[:0], "\t\n"])
def test_tokenize_of_text_without_words_is_empty(text):
    assert tokenize(text) == []


def test_encode_puts_start_char_first_and_offsets_ranks_by_index_from():
    assert encode_review("The film was brilliant", INDEX) == [1, 4, 5, 6, 7]


def test_encode_maps_words_beyond_num_words_to_oov_and_drops_words_the_index_lacks():
    assert encode_review("the rare unknownword", INDEX) == [1, 4, 9003]
    assert encode_review("the rare unknownword", INDEX, KerasEncoding(num_words=100)) == [1, 4, 2]
    assert encode_review("the rare", INDEX, KerasEncoding(num_words=None)) == [1, 4, 9003]
    assert encode_review("the film was", INDEX, KerasEncoding(num_words=6)) == [1, 4, 5, 2]


def test_encode_skip_top_makes_frequent_words_and_start_char_oov_as_keras():
    # Keras replaces every id outside [skip_top, num_words) by oov_char, the start id included.
    assert encode_review("the film was brilliant", INDEX, KerasEncoding(num_words=10000, skip_top=6)) == [
        2,
        2,
        2,
        6,
        7,
    ]


def test_encode_without_oov_char_drops_out_of_vocabulary_words():
    assert encode_review("the rare brilliant nope", INDEX, KerasEncoding(num_words=100, oov_char=None)) == [
        1,
        4,
        7,
    ]


def test_encode_without_start_char_and_custom_index_from():
    assert encode_review(
        "the film", INDEX, KerasEncoding(num_words=10000, start_char=None, index_from=0)
    ) == [1, 2]


def test_decode_reads_reserved_and_unknown_ids_as_question_marks():
    assert decode_review([1, 4, 5, 2, 0, 99999], INDEX) == "? the film ? ? ?"
    assert decode_review(encode_review("The film, everyone's!", INDEX), INDEX) == "? the film everyone's"


def test_apply_id_conventions_handles_many_reviews_including_empty_ones():
    ranks = np.array([1, 2, 3, 9000])
    offsets = np.array([0, 2, 2, 4])  # reviews: [1, 2], [], [3, 9000]
    ids, new_offsets = apply_id_conventions(ranks, offsets, KerasEncoding(num_words=100, oov_char=None))
    assert new_offsets.tolist() == [0, 3, 4, 6]
    assert ids.tolist() == [1, 4, 5, 1, 1, 6]


def test_build_word_index_ranks_by_frequency_with_first_seen_tie_break():
    assert build_word_index(["b a b c", "c b d"]) == {"b": 1, "c": 2, "a": 3, "d": 4}


def test_load_word_index_reads_json_and_rejects_bad_ranks(tmp_path):
    good = tmp_path / "good.json"
    good.write_text(json.dumps(INDEX))
    assert load_word_index(good) == INDEX
    for bad in ({"a": 0}, {"a": 1, "b": 1}, {"a": "1"}, [], {}):
        path = tmp_path / "bad.json"
        path.write_text(json.dumps(bad))
        with pytest.raises(DataError, match="bad.json"):
            load_word_index(path)
    (tmp_path / "broken.json").write_text("{not json")
    with pytest.raises(DataError, match="cannot read"):
        load_word_index(tmp_path / "broken.json")


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=2000), num_words=st.integers(4, 12000), skip_top=st.integers(0, 10))
def test_fuzz_encoding_never_crashes_and_stays_in_range(text, num_words, skip_top):
    tokens = tokenize(text)
    assert all(token and not any(c in token for c in KERAS_FILTERS + " ") for token in tokens)
    index = build_word_index([text]) or {"x": 1}
    ids = encode_review(text, index, KerasEncoding(num_words=num_words, skip_top=skip_top))
    assert len(ids) == len(tokens) + 1
    assert all(0 <= i < num_words for i in ids)


@settings(max_examples=20, deadline=None)
@given(st.text(alphabet=st.sampled_from("ab, '!\n"), min_size=100, max_size=500).map(lambda s: s * 200))
def test_fuzz_very_long_text(text):
    ids = encode_review(text, {"a": 1, "b": 2})
    assert ids[1:] == [{"a": 4, "b": 5}[t] for t in tokenize(text) if t in ("a", "b")]

import numpy as np
import pytest
from conftest import examples
from hypothesis import given, settings
from hypothesis import strategies as st

from tweet_lstm.store.ids import (END_ID, ID_VOCAB, PAD_ID, START_ID, UNK_ID, decode_ids_to_text, encode_tweets_to_ids,
                                  id_rows, text_ids)
from tweet_lstm.data.text import CHARACTERS

VOCAB_TEXT = st.text(alphabet=CHARACTERS, max_size=200)


@settings(max_examples=examples(300), deadline=None)
@given(VOCAB_TEXT, st.integers(min_value=1, max_value=200))
def test_id_encoding_round_trips_any_vocabulary_string(text, length):
    ids = encode_tweets_to_ids([text], length=length)
    assert ids.dtype == np.uint8 and ids.shape == (1, length + 1)
    assert decode_ids_to_text(ids[0]) == text[:length]
    assert (ids[0, 1 + len(text):] <= END_ID).all(), "only <end> and padding after the text"


@settings(max_examples=examples(200), deadline=None)
@given(st.lists(VOCAB_TEXT, min_size=1, max_size=20))
def test_trimmed_batches_decode_the_same_and_are_only_as_wide_as_a_bucket_needs(texts):
    full = encode_tweets_to_ids(texts)
    trimmed = encode_tweets_to_ids(texts, trim=True)
    assert decode_ids_to_text(trimmed) == decode_ids_to_text(full) == [t[:160] for t in texts]
    assert trimmed.shape[1] in (33, 65, 97, 129, 161)
    assert trimmed.shape[1] >= min(max(len(t) for t in texts) + 2, 161)
    np.testing.assert_array_equal(full[:, trimmed.shape[1]:], PAD_ID)


@settings(max_examples=examples(200), deadline=None)
@given(st.lists(VOCAB_TEXT, max_size=20), st.integers(min_value=1, max_value=200), st.booleans())
def test_a_stores_flat_ids_laid_out_as_rows_are_encode_tweets_to_ids(texts, length, trim):
    cut = [t[:length] for t in texts]
    ids, lengths = text_ids(cut)
    assert ids.dtype == np.uint8 and lengths.tolist() == [len(t) for t in cut] and len(ids) == sum(lengths)
    rows = id_rows(ids, np.cumsum(lengths) - lengths, lengths, length, trim)
    np.testing.assert_array_equal(rows, encode_tweets_to_ids(texts, length, trim))


def test_ids_mark_start_end_and_padding_and_unknown_characters():
    ids = encode_tweets_to_ids(["hé!", "x" * 12], length=10)
    h, excl, x = (ID_VOCAB.index(c) for c in "h!x")
    assert ids[0].tolist() == [START_ID, h, UNK_ID, excl, END_ID] + [PAD_ID] * 6
    assert ids[1].tolist() == [START_ID] + [x] * 10, "a cut tweet gets no <end>"
    assert decode_ids_to_text(ids[0]) == "h\ufffd!"


@pytest.mark.parametrize("texts,kwargs,error,name", [
    ("a bare string", {}, TypeError, "texts"),
    (["ok", None], {}, ValueError, "texts"),
    (["ok"], {"length": 0}, ValueError, "length"),
    (["ok"], {"length": 3.0}, TypeError, "length"),
])
def test_encoding_bad_input_names_the_argument(texts, kwargs, error, name):
    with pytest.raises(error, match=name):
        encode_tweets_to_ids(texts, **kwargs)


@pytest.mark.parametrize("ids,error", [
    (np.array([1.0, 5.0]), TypeError), (np.int64(5), TypeError), (np.zeros((1, 2, 3), int), TypeError),
    (np.array([1, 200]), ValueError), (np.array([-1]), ValueError), ("abc", TypeError),
])
def test_decoding_rejects_what_is_not_an_id_row_or_matrix(ids, error):
    with pytest.raises(error, match="ids"):
        decode_ids_to_text(ids)

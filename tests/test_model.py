import keras
import numpy as np
import pytest

from tests.helpers import toy_store, tweets_frame
from tweet_lstm.store.batches import TweetBatches
from tweet_lstm.train.evaluate import sequence_bits_per_character
from tweet_lstm.store.ids import ID_VOCAB, PAD_ID, START_ID, UNK_ID, encode_tweets_to_ids
from tweet_lstm.train.model import build_sequence_model, layer_table, sample_tweets

pytestmark = pytest.mark.tf  # every test here needs TensorFlow or Keras


@pytest.fixture(scope="module")
def small_model():
    keras.utils.set_random_seed(0)
    return build_sequence_model(units=16, embedding_dim=8)


@pytest.fixture(scope="module")
def emoji_model():
    keras.utils.set_random_seed(1)
    return build_sequence_model(units=16, embedding_dim=8, n_emojis=3, emoji_dim=4)


def test_masked_loss_is_the_same_with_extra_padding(small_model):
    ids = encode_tweets_to_ids(["hello world", "hi"], length=20).astype(np.int32)
    wider = np.pad(ids, ((0, 0), (0, 30)))
    loss = small_model.evaluate(ids[:, :-1], ids[:, 1:], verbose=0)
    assert small_model.evaluate(wider[:, :-1], wider[:, 1:], verbose=0) == pytest.approx(loss, rel=1e-5)
    assert small_model.get_layer("lstm").supports_masking


def test_dropout_acts_in_training_only_and_keeps_the_lstm_cudnn_ready():
    keras.utils.set_random_seed(2)
    model = build_sequence_model(units=16, embedding_dim=8, dropout=0.5)
    ids = encode_tweets_to_ids(["hello world", "hi"], length=20).astype(np.int32)[:, :-1]
    inference = np.asarray(model(ids, training=False))
    np.testing.assert_array_equal(inference, np.asarray(model(ids, training=False)))
    assert not np.allclose(inference, np.asarray(model(ids, training=True)))
    config = model.get_layer("lstm").get_config()
    assert (config["recurrent_dropout"], config["activation"], config["unroll"]) == (0, "tanh", False)


@pytest.mark.parametrize("kwargs,name", [
    (dict(dropout=-0.1), "dropout"), (dict(dropout=1.0), "dropout"), (dict(units=0), "units"),
    (dict(units=8.0), "units"), (dict(n_emojis=0), "n_emojis"), (dict(learning_rate=float("nan")), "learning_rate"),
])
def test_build_sequence_model_bad_input_names_the_argument(kwargs, name):
    with pytest.raises((TypeError, ValueError), match=name):
        build_sequence_model(**(dict(units=8) | kwargs))


def test_a_model_with_zero_weights_scores_log2_of_its_vocabulary(small_model):
    model = keras.models.clone_model(small_model)
    model.set_weights([np.zeros_like(w) for w in small_model.get_weights()])
    batches = TweetBatches(toy_store(40), batch_size=16, shuffle=False)
    bits, n = sequence_bits_per_character(model, batches)
    assert bits == pytest.approx(np.log2(len(ID_VOCAB)))
    assert n == sum(len(t) for t in tweets_frame(40)["text"].str.strip())


def test_sampling_at_temperature_zero_is_greedy_and_tiny_temperatures_agree(small_model):
    greedy = sample_tweets(small_model, n=2, seed_text="hel", temperature=0, max_length=30)
    assert greedy[0] == greedy[1] and greedy[0].startswith("hel")
    assert sample_tweets(small_model, n=2, seed_text="hel", temperature=1e-9, max_length=30, rng=3) == greedy


def test_sampling_carries_state_like_running_the_whole_prefix(small_model):
    text = "state carried"
    ids = encode_tweets_to_ids([text], length=40)[:, :1 + len(text)].astype(np.int32)
    full_logits = np.array(small_model(ids))[0, -1]
    full_logits[[PAD_ID, START_ID, UNK_ID]] = -np.inf
    next_char = ID_VOCAB[int(np.argmax(full_logits))]
    greedy = sample_tweets(small_model, seed_text=text, temperature=0, max_length=len(text) + 1)[0]
    assert greedy == text + ("" if next_char == "<end>" else next_char)


@pytest.mark.parametrize("kwargs,error,name", [
    (dict(n=0), ValueError, "n"), (dict(temperature=float("inf")), ValueError, "temperature"),
    (dict(temperature=float("nan")), ValueError, "temperature"), (dict(temperature=-1), ValueError, "temperature"),
    (dict(max_length=0), ValueError, "max_length"), (dict(seed_text=5), TypeError, "seed_text"),
    (dict(seed_text="x" * 20, max_length=10), ValueError, "max_length"),
    (dict(emoji_id=1), ValueError, "emoji_id"),
])
def test_sampling_bad_input_names_the_argument(small_model, kwargs, error, name):
    with pytest.raises(error, match=name):
        sample_tweets(small_model, **kwargs)


@pytest.mark.parametrize("emoji_id,error", [(-1, ValueError), (3, ValueError), (None, ValueError), (1.5, TypeError)])
def test_an_emoji_model_needs_an_emoji_id_inside_its_range(emoji_model, emoji_id, error):
    with pytest.raises(error, match="emoji_id"):
        sample_tweets(emoji_model, emoji_id=emoji_id, max_length=5)


def test_emoji_conditioning_changes_the_output_distribution(emoji_model):
    ids = encode_tweets_to_ids(["same text"], length=20).astype(np.int32)[:, :-1]
    first = np.asarray(emoji_model((ids, np.array([[0]], np.int32))))
    second = np.asarray(emoji_model((ids, np.array([[2]], np.int32))))
    assert np.abs(first - second).max() > 1e-4


def test_a_saved_model_reloads_and_predicts_and_samples_identically(tmp_path, emoji_model):
    path = tmp_path / "model.keras"
    emoji_model.save(path)
    reloaded = keras.models.load_model(path)
    ids = encode_tweets_to_ids(["reload me", "and me"], length=30).astype(np.int32)[:, :-1]
    emoji = np.array([[1], [2]], np.int32)
    np.testing.assert_array_equal(np.asarray(emoji_model((ids, emoji))), np.asarray(reloaded((ids, emoji))))
    assert sample_tweets(reloaded, temperature=0, emoji_id=1, max_length=20) == \
        sample_tweets(emoji_model, temperature=0, emoji_id=1, max_length=20)


def test_layer_table_lists_every_layer_with_the_parameter_count_of_summary(emoji_model):
    table = layer_table(emoji_model)
    assert table["layer"].tolist() == [layer.name for layer in emoji_model.layers]
    assert table["parameters"].sum() == table.attrs["total parameters"] == emoji_model.count_params()

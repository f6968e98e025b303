import threading

import keras
import numpy as np
import pandas as pd
import pytest

from tests.helpers import served_texts, tiny_next_char_model, toy_store
from tweet_lstm.store.batches import TweetBatches, WindowBatches
from tweet_lstm.store.store import TweetStore
from tweet_lstm.train.dataset import tf_dataset

pytestmark = pytest.mark.tf  # every test here needs TensorFlow or Keras


class LoggedBatches(TweetBatches):
    """``TweetBatches`` that records each ``(epoch, index)`` the tf.data pipeline asks for."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.pipeline_batches = []

    def batch(self, epoch, index):
        # tf_dataset reads its first step once in the calling thread to learn the batch structure;
        # the batches the tf.data pipeline serves are read in TensorFlow's threads.
        if threading.current_thread() is not threading.main_thread():
            self.pipeline_batches.append((epoch, index))
        return super().batch(epoch, index)


def test_fit_for_two_epochs_on_an_endless_stream_trains_each_epoch_in_its_own_order():
    frame = pd.DataFrame({"text": ["short"] * 32 + ["a much longer tweet " * 4] * 32})
    batches = LoggedBatches(TweetStore.from_frame(frame), batch_size=32, seed=1)
    n = len(batches)
    assert n == 2 and {batches.batch(0, i)[0].shape[1] for i in range(n)} == {32, 96}, "each batch trimmed"
    history = tiny_next_char_model().fit(tf_dataset(batches), epochs=2, steps_per_epoch=n, shuffle=False, verbose=0)
    assert np.isfinite(history.history["loss"]).all() and len(history.history["loss"]) == 2
    assert batches.pipeline_batches[:4] == [(0, 0), (0, 1), (1, 0), (1, 1)], "Keras epoch 1 trained epoch 1's order"


def test_validation_data_of_one_epoch_is_scored_on_the_same_batches_after_every_epoch():
    store = toy_store(40)
    train, val = TweetBatches(store, batch_size=8, seed=2), LoggedBatches(store, batch_size=8, shuffle=False)
    history = tiny_next_char_model().fit(tf_dataset(train), epochs=2, steps_per_epoch=len(train), shuffle=False, verbose=0,
                                         validation_data=tf_dataset(val, steps=len(val)))
    assert len(history.history["val_loss"]) == 2
    assert val.pipeline_batches == [(0, i) for i in range(len(val))] * 2


def test_tf_dataset_serves_global_steps_across_epochs_each_in_its_own_order():
    batches = TweetBatches(toy_store(40), batch_size=8, seed=2)  # 5 batches an epoch
    served = [x.numpy() for x, _ in tf_dataset(batches, start=3, steps=6)]
    assert len(served) == 6
    for step, got in zip(range(3, 9), served):
        np.testing.assert_array_equal(got, batches.batch(step // 5, step % 5)[0])
    assert served_texts(batches, 0) != served_texts(batches, 1)


def test_iterating_a_tf_dataset_again_serves_the_same_steps():
    batches = TweetBatches(toy_store(40), batch_size=8, seed=5)
    data = tf_dataset(batches, start=4, steps=3)
    first, second = [x.numpy() for x, _ in data], [x.numpy() for x, _ in data]
    for a, b, step in zip(first, second, range(4, 7)):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, batches.batch(step // 5, step % 5)[0])


def test_fewer_batches_an_epoch_than_the_source_has_starts_the_next_epoch_early():
    batches = LoggedBatches(toy_store(40), batch_size=8, seed=3)  # 5 batches, epochs cut to 3
    served = [x.numpy() for x, _ in tf_dataset(batches, steps=7, batches_per_epoch=3)]
    assert batches.pipeline_batches == [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2), (2, 0)]
    for (epoch, index), got in zip(batches.pipeline_batches, served):
        np.testing.assert_array_equal(got, batches.batch(epoch, index)[0])


def test_tf_dataset_keeps_the_emoji_input_and_declares_every_width_variable():
    batches = TweetBatches(toy_store(64), batch_size=8, emoji=True, seed=0)
    data = tf_dataset(batches, steps=len(batches))
    (x_spec, emoji_spec), y_spec = data.element_spec
    assert x_spec.shape.as_list() == [None, None] == emoji_spec.shape.as_list() == y_spec.shape.as_list()
    widths = set()
    for step, ((x, emoji), y) in enumerate(data):
        (_, want_emoji), want_y = batches.batch(0, step)
        np.testing.assert_array_equal(emoji.numpy(), want_emoji)
        np.testing.assert_array_equal(y.numpy(), want_y)
        widths.add(x.shape[1])
    assert len(widths) > 1


def test_window_batches_serve_the_seeds_one_hot_windows_to_fit():
    batches = WindowBatches(toy_store(16), batch_size=4, window_size=64, step=32)
    x, y = batches.batch(0, 0)
    assert x.shape == (4 * 3, 64, 93) and y.shape == (4 * 3, 93) and x.dtype == np.float32
    np.testing.assert_array_equal(x.sum(axis=-1), 1)
    model = keras.Sequential([keras.Input((64, 93)), keras.layers.Flatten(), keras.layers.Dense(93, "softmax")])
    model.compile("adam", "categorical_crossentropy")
    history = model.fit(tf_dataset(batches, steps=len(batches)), epochs=1, shuffle=False, verbose=0)
    assert np.isfinite(history.history["loss"]).all()


@pytest.mark.parametrize("kwargs,error,name", [
    (dict(start=-1), ValueError, "start"), (dict(steps=0), ValueError, "steps"),
    (dict(batches_per_epoch=0), ValueError, "batches_per_epoch"),
    (dict(batches_per_epoch=6), ValueError, "batches_per_epoch"), (dict(start=1.0), TypeError, "start"),
])
def test_tf_dataset_bad_input_names_the_argument_before_training_starts(kwargs, error, name):
    batches = TweetBatches(toy_store(40), batch_size=8)  # 5 batches an epoch
    with pytest.raises(error, match=name):
        tf_dataset(batches, **kwargs)

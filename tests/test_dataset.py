import threading
from collections import Counter

import keras
import numpy as np
import pandas as pd
import pytest

from tests.helpers import tiny_next_char_model, toy_store
from tweet_lstm.train.dataset import TweetDataset, WindowDataset, tf_dataset
from tweet_lstm.store.store import TweetStore

pytestmark = pytest.mark.tf  # every test here needs TensorFlow or Keras


class LoggedDataset(TweetDataset):
    """A ``TweetDataset`` that records each ``(epoch, index)`` asked of it, by ``self[i]`` or ``batch``."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.got_items, self.pipeline_batches = [], []

    def __getitem__(self, index):
        self.got_items.append((self.epoch, index))
        return super().__getitem__(index)

    def batch(self, epoch, index):
        # tf_dataset reads its first step once in the calling thread to learn the batch structure;
        # the batches the tf.data pipeline serves are read in TensorFlow's threads.
        if threading.current_thread() is not threading.main_thread():
            self.pipeline_batches.append((epoch, index))
        return super().batch(epoch, index)


def epoch_texts(dataset, epoch):
    return [t for i in range(len(dataset)) for t in dataset.store.texts(dataset.batch_rows(epoch, i))]


def test_a_pydataset_with_two_worker_threads_trains_fit_and_serves_every_tweet_once_per_epoch():
    store = toy_store(200)
    store = store.take(store.lengths <= 30)  # one width (bucket 32): Keras fixes a PyDataset's shapes
    dataset = LoggedDataset(store, batch_size=8, workers=2, seed=4)
    n = len(dataset)
    history = tiny_next_char_model().fit(dataset, epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2 and np.isfinite(history.history["loss"]).all()
    got = Counter(dataset.got_items)
    # Keras calls on_epoch_end before the first epoch too, so the epochs trained are not 0 and 1.
    trained = sorted({e for e, _ in got if {i for f, i in got if f == e} == set(range(n))})
    assert len(trained) == 2 and dataset.epoch > trained[-1], "on_epoch_end moved on after each epoch"
    for epoch in trained:
        assert [got[(epoch, i)] for i in range(n)] == [1] * n, "each batch fetched once by the two threads"
        assert sorted(epoch_texts(dataset, epoch)) == sorted(store.texts())
    assert epoch_texts(dataset, trained[0]) != epoch_texts(dataset, trained[1]), "each epoch in a new order"
    assert sum(e not in trained for e, _ in dataset.got_items) <= 2, "else only Keras' look at the first batches"


def test_tweet_dataset_trains_two_epochs_of_trimmed_widths_through_tf_dataset():
    frame = pd.DataFrame({"text": ["short"] * 32 + ["a much longer tweet " * 4] * 32})
    dataset = LoggedDataset(TweetStore.from_frame(frame), batch_size=32, seed=1)
    n = len(dataset)
    assert n == 2 and {dataset[i][0].shape[1] for i in range(n)} == {32, 96}, "each batch trimmed to its tweets"
    history = tiny_next_char_model().fit(tf_dataset(dataset, 0, 2 * n), epochs=2, steps_per_epoch=n,
                                         shuffle=False, verbose=0)
    assert np.isfinite(history.history["loss"]).all() and len(history.history["loss"]) == 2
    assert dataset.pipeline_batches == [(0, 0), (0, 1), (1, 0), (1, 1)], "Keras epoch 1 trained pass 1's order"
    assert dataset.epoch == 0, "tf_dataset reads batches by global step and moves no epoch"


def test_tf_dataset_serves_global_steps_across_epochs_each_in_its_own_order():
    dataset = TweetDataset(toy_store(40), batch_size=8, seed=2)  # 5 batches a pass
    served = [x.numpy() for x, _ in tf_dataset(dataset, first_step=3, n_steps=6)]
    assert len(served) == 6
    for step, got in zip(range(3, 9), served):
        np.testing.assert_array_equal(got, dataset.batch(step // 5, step % 5)[0])
    assert epoch_texts(dataset, 0) != epoch_texts(dataset, 1)


def test_iterating_a_tf_dataset_again_serves_the_same_steps():
    dataset = TweetDataset(toy_store(40), batch_size=8, seed=5)
    data = tf_dataset(dataset, first_step=4, n_steps=3)
    first = [x.numpy() for x, _ in data]
    second = [x.numpy() for x, _ in data]
    for a, b, step in zip(first, second, range(4, 7)):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, dataset.batch(step // 5, step % 5)[0])


def test_a_pass_length_shorter_than_the_dataset_starts_the_next_epoch_and_skips_the_last_batches():
    dataset = LoggedDataset(toy_store(40), batch_size=8, seed=3)  # 5 batches a pass, passes cut to 3
    served = [x.numpy() for x, _ in tf_dataset(dataset, first_step=0, n_steps=7, pass_length=3)]
    assert dataset.pipeline_batches == [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2), (2, 0)]
    for (epoch, index), got in zip(dataset.pipeline_batches, served):
        np.testing.assert_array_equal(got, dataset.batch(epoch, index)[0])


def test_tf_dataset_keeps_the_emoji_input_and_declares_every_width_variable():
    dataset = TweetDataset(toy_store(64), batch_size=8, emoji=True, seed=0)
    data = tf_dataset(dataset, first_step=0, n_steps=len(dataset))
    (x_spec, emoji_spec), y_spec = data.element_spec
    assert x_spec.shape.as_list() == [None, None] == emoji_spec.shape.as_list() == y_spec.shape.as_list()
    widths = set()
    for step, ((x, emoji), y) in enumerate(data):
        (want_x, want_emoji), want_y = dataset.batch(0, step)
        np.testing.assert_array_equal(emoji.numpy(), want_emoji)
        np.testing.assert_array_equal(y.numpy(), want_y)
        widths.add(x.shape[1])
    assert len(widths) > 1


def test_window_dataset_serves_the_seeds_one_hot_windows_to_fit():
    dataset = WindowDataset(toy_store(16), batch_size=4, window_size=64, step=32)
    x, y = dataset[0]
    assert x.shape == (4 * 3, 64, 93) and y.shape == (4 * 3, 93) and x.dtype == np.float32
    np.testing.assert_array_equal(x.sum(axis=-1), 1)
    model = keras.Sequential([keras.Input((64, 93)), keras.layers.Flatten(), keras.layers.Dense(93, "softmax")])
    model.compile("adam", "categorical_crossentropy")
    history = model.fit(dataset, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"]).all() and dataset.epoch >= 1


@pytest.mark.parametrize("kwargs,error,name", [
    (dict(first_step=-1), ValueError, "first_step"), (dict(n_steps=0), ValueError, "n_steps"),
    (dict(pass_length=0), ValueError, "pass_length"), (dict(pass_length=6), ValueError, "pass_length"),
    (dict(first_step=1.0), TypeError, "first_step"),
])
def test_tf_dataset_bad_input_names_the_argument_before_training_starts(kwargs, error, name):
    dataset = TweetDataset(toy_store(40), batch_size=8)  # 5 batches a pass
    with pytest.raises(error, match=name):
        tf_dataset(dataset, **(dict(first_step=0, n_steps=3) | kwargs))

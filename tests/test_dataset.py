import numpy as np
import pandas as pd

from tests.helpers import tiny_next_char_model, tweets_frame
from tweet_lstm.dataset import TweetDataset, tf_dataset


def test_a_pydataset_trains_a_model_with_two_worker_threads_and_serves_every_tweet_once():
    dataset = TweetDataset(tweets_frame(128), batch_size=32, workers=2)
    history = tiny_next_char_model().fit(dataset, epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2 and np.isfinite(history.history["loss"]).all()
    assert dataset.epoch >= 2, "on_epoch_end reshuffled after each epoch"


def test_trimmed_batches_of_varying_width_train_through_as_tf_dataset():
    frame = pd.DataFrame({"text": ["short"] * 32 + ["a much longer tweet " * 4] * 32})
    dataset = TweetDataset(frame, batch_size=32, shuffle=False, trim=True)
    assert dataset[0][0].shape[1] != dataset[1][0].shape[1]
    history = tiny_next_char_model().fit(dataset.as_tf_dataset(), epochs=2, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    assert dataset.epoch == 1, "the second pass served epoch 1's order"


def test_each_pass_over_as_tf_dataset_serves_the_next_epoch_even_when_cut_short():
    dataset = TweetDataset(tweets_frame(64), batch_size=8, trim=True, seed=5)
    data = dataset.as_tf_dataset()
    first = next(iter(data))[0].numpy()
    second = next(iter(data))[0].numpy()
    assert dataset.epoch == 1
    np.testing.assert_array_equal(second, dataset[0][0])
    assert not np.array_equal(first, second)


def test_a_step_range_crossing_epochs_serves_each_epochs_batches_in_its_own_order():
    dataset = TweetDataset(tweets_frame(40), batch_size=8, seed=2)  # 5 batches a pass
    served = [x.numpy() for x, _ in tf_dataset(dataset, first_step=3, n_steps=6)]
    expected = []
    for step in range(3, 9):
        dataset.set_epoch(step // 5)
        expected.append(dataset[step % 5][0])
    assert len(served) == 6
    for got, want in zip(served, expected):
        np.testing.assert_array_equal(got, want)


def test_a_pass_length_shorter_than_the_dataset_skips_its_last_batches():
    dataset = TweetDataset(tweets_frame(40), batch_size=8, shuffle=False)
    served = [x.numpy() for x, _ in tf_dataset(dataset, first_step=0, n_steps=6, pass_length=3)]
    for i, got in enumerate(served):
        np.testing.assert_array_equal(got, dataset[i % 3][0])

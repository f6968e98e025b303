"""The seed's batch generators: one batch at a time instead of every window at once."""

import numpy as np
import pandas as pd

from ..checks import check_choice, check_int
from .windows import (METHODS, check_dtype, check_window_params, convert_tweet_to_xy, emoji_one_hot, texts_of,
                      windows_per_tweet)


def batch_generator(data, batch_size):
    """Yield consecutive slices of ``data`` of ``batch_size`` items; the last may be shorter."""
    batch_size = check_int("batch_size", batch_size, minimum=1)
    for start in range(0, len(data), batch_size):
        yield data[start:start + batch_size]


def convert_tweet_to_xy_generator(tweets, length=160, window_size=40, step=3, batch_size=64,
                                  emoji_set=None, method="vectorized", dtype=bool):
    """Yield one-hot ``(x, y)`` batches of ``batch_size`` tweets forever, in order: each is ``convert_tweet_to_xy`` of
    ``batch_size`` consecutive tweets of the DataFrame ``tweets``, ``x (batch_size * k, window_size, 93)``, ``y
    (batch_size * k, 93)``. A pass is ``len(tweets) // batch_size`` batches (a last partial batch is skipped), then it
    starts again. With ``emoji_set``, ``x`` is ``[x_text, x_emoji]``, ``x_emoji (batch_size * k, len(emoji_set))``
    repeating each tweet's emoji for its windows. Arguments are checked at once, not at the first batch."""
    length, window_size, step = check_window_params(length, window_size, step)
    check_choice("method", method, METHODS)
    dtype = check_dtype(dtype)
    batch_size = check_int("batch_size", batch_size, minimum=1)
    if not isinstance(tweets, pd.DataFrame):
        raise TypeError("tweets must be a DataFrame with a 'text' column (and 'emoji' with emoji_set), "
                        f"got {type(tweets).__name__}")
    texts_of(tweets)  # a text column of str, else an error naming the row
    n_batches = len(tweets) // batch_size
    if n_batches == 0:
        raise ValueError(f"batch_size ({batch_size}) is larger than the number of tweets ({len(tweets)})")
    if emoji_set is not None:
        if "emoji" not in tweets.columns:
            raise ValueError(f"emoji_set needs an 'emoji' column; tweets has {list(tweets.columns)}")
        emoji_one_hot(tweets["emoji"].tolist(), emoji_set)
    return _batches(tweets.reset_index(drop=True), n_batches, batch_size, length, window_size, step,
                    emoji_set, method, dtype)


def _batches(tweets, n_batches, batch_size, length, window_size, step, emoji_set, method, dtype):
    k = windows_per_tweet(length, window_size, step)
    while True:
        for b in range(n_batches):
            batch = tweets.iloc[b * batch_size:(b + 1) * batch_size]
            x, y = convert_tweet_to_xy(batch, length, window_size, step, method=method, dtype=dtype)
            if emoji_set is None:
                yield x, y
            else:
                x_emoji = emoji_one_hot(np.repeat(batch["emoji"].to_numpy(), k).tolist(), emoji_set, dtype)
                yield [x, x_emoji], y

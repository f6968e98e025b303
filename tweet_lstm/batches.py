"""``TweetBatches``: which tweets make batch ``i`` of an epoch, and their arrays.

The batch logic of ``TweetDataset`` without Keras: a row source (``FrameRows`` or
``CsvRows``) is cut into blocks of ``batch_size * bucket_batches`` rows; each epoch visits
this shard's blocks in a shuffled order, sorts each block's tweets by length (so a batch
holds tweets of similar length), and cuts it into batches. Every tweet is served exactly
once per epoch, and the order depends only on ``seed`` and the epoch number.
"""

import threading
from pathlib import Path

import numpy as np
import pandas as pd

from .checks import check_choice, check_int, check_number
from .ids import encode_tweets_to_ids
from .rows import CsvRows, FrameRows
from .windows import check_dtype, check_window_params, convert_tweet_to_xy, emoji_one_hot, windows_per_tweet

MODES = ("ids", "one_hot")


def check_shard(shard):
    """``shard`` as ``(index, count)`` ints with ``0 <= index < count``."""
    try:
        index, count = shard
        index, count = check_int("shard index", index), check_int("shard count", count, minimum=1)
    except (TypeError, ValueError):
        raise ValueError(f"shard must be (index, count) with 0 <= index < count, got {shard!r}") from None
    if not 0 <= index < count:
        raise ValueError(f"shard must be (index, count) with 0 <= index < count, got {shard!r}")
    return index, count


class TweetBatches:
    """Batches of tweets: one-hot windows (``mode="one_hot"``) or whole-tweet ids (``mode="ids"``).

    ``tweets`` is a DataFrame, the path of a tweets CSV (streamed, never loaded whole), or
    a ``FrameRows``/``CsvRows``. ``mode="ids"``: ``x`` and ``y`` are ``(batch, width - 1)``
    int32 (``encode_tweets_to_ids`` rows without their last / first id); with ``emoji_set``
    ``x`` is ``(text_ids, emoji_ids)`` with ``emoji_ids`` ``(batch, 1)`` int32, and
    ``emoji_dropout`` replaces that share of emoji ids (chosen from ``seed``, the epoch and
    the batch) by ``no_emoji_id = len(emoji_set)``: a model built with
    ``n_emojis=len(emoji_set) + 1`` then also learns tweets without their emoji
    (``emoji_dropout=1.0`` scores it so). ``mode="one_hot"``: ``convert_tweet_to_xy``'s
    ``(x, y)`` of ``dtype``, ``x`` as ``(x_text, x_emoji)`` with ``emoji_set``.

    ``trim=True`` makes each id batch only as wide as its bucket; ``shard=(index, count)``
    keeps every ``count``-th block starting at ``index``; ``clean`` applies
    ``clean_tweet_text`` (tweets it empties are dropped and counted in ``dropped``).
    """

    def __init__(self, tweets, batch_size=64, mode="ids", emoji_set=None, length=160, window_size=64,
                 step=3, dtype=np.float32, shuffle=True, seed=0, clean=True, shard=(0, 1), trim=False,
                 bucket_batches=1, emoji_dropout=0.0):
        self.batch_size = check_int("batch_size", batch_size, minimum=1)
        self.mode = check_choice("mode", mode, MODES)
        self.length = check_int("length", length, minimum=1)
        if mode == "one_hot":
            self.length, self.window_size, self.step = check_window_params(length, window_size, step)
            self.dtype = check_dtype(dtype)
        self.emoji_set = None if emoji_set is None else list(emoji_set)
        if self.emoji_set is not None and len(set(self.emoji_set)) != len(self.emoji_set):
            raise ValueError(f"emoji_set has repeated emojis: {self.emoji_set}")
        self.emoji_dropout = check_number("emoji_dropout", emoji_dropout, minimum=0.0, maximum=1.0)
        if self.emoji_dropout and (self.emoji_set is None or mode != "ids"):
            raise ValueError("emoji_dropout needs emoji_set and mode='ids'")
        self.shuffle, self.trim = bool(shuffle), bool(trim)
        self.seed = check_int("seed", seed)
        self.shard = check_shard(shard)
        self.block_rows = self.batch_size * check_int("bucket_batches", bucket_batches, minimum=1)
        self.rows = self._row_source(tweets, clean)
        self.n_rows = self.rows.n_rows
        self.blocks = np.arange(self.shard[0], len(self.rows.block_sizes), self.shard[1])
        if self.batches_in_blocks(self.blocks) == 0:
            raise ValueError(f"{self.n_rows} tweets make {len(self.rows.block_sizes)} block(s) of "
                             f"{self.block_rows} rows: none for shard {self.shard}")
        self._cache, self._cache_lock = (None, None), threading.Lock()
        self.set_epoch(0)

    def _row_source(self, tweets, clean):
        if isinstance(tweets, (FrameRows, CsvRows)):
            if tweets.block_rows != self.block_rows:
                raise ValueError(f"tweets has blocks of {tweets.block_rows} rows; batch_size * bucket_batches "
                                 f"is {self.block_rows}")
            return tweets
        if isinstance(tweets, pd.DataFrame):
            return FrameRows(tweets, self.block_rows, clean=clean, emoji_set=self.emoji_set)
        if isinstance(tweets, (str, Path)):
            return CsvRows(Path(tweets), self.block_rows, clean=clean, emoji_set=self.emoji_set)
        raise TypeError(f"tweets must be a DataFrame or the path of a CSV file, got {type(tweets).__name__}")

    @property
    def dropped(self):
        """Rows of the source that are not served, by reason (e.g. ``empty after cleaning``)."""
        return self.rows.dropped

    @property
    def no_emoji_id(self):
        """The emoji id that stands for "no emoji": ``len(emoji_set)``."""
        return None if self.emoji_set is None else len(self.emoji_set)

    def batches_in_block(self, block):
        """Number of batches block ``block`` makes (the last may be smaller than ``batch_size``)."""
        return -(-int(self.rows.block_sizes[block]) // self.batch_size)

    def batches_in_blocks(self, blocks):
        """Number of batches the blocks ``blocks`` make together."""
        return sum(self.batches_in_block(block) for block in blocks)

    def __len__(self):
        return len(self._order)

    def _rng(self, *extra):
        return np.random.default_rng([self.seed, self.epoch, *extra])

    def set_epoch(self, epoch):
        """Serve epoch ``epoch``'s order (it depends only on ``seed`` and ``epoch``)."""
        self.epoch = check_int("epoch", epoch, minimum=0)
        blocks = self._rng().permutation(self.blocks) if self.shuffle else self.blocks
        order = []
        for block in blocks:
            subs = np.arange(self.batches_in_block(block))
            if self.shuffle:
                subs = self._rng(3, int(block)).permutation(subs)
            order.extend((int(block), int(sub)) for sub in subs)
        self._order = order

    def on_epoch_end(self):
        self.set_epoch(self.epoch + 1)

    def _block_tweets(self, block):
        """Block ``block`` of this epoch: its tweets in serving order, sorted by length."""
        with self._cache_lock:
            key, cached = self._cache
            if key == (self.epoch, block):
                return cached
        tweets = self.rows.block(block, (self.seed, self.epoch) if self.shuffle else None)
        if self.block_rows > self.batch_size:
            tweets = tweets.iloc[np.argsort(tweets["text"].str.len().to_numpy(), kind="stable")]
        tweets = tweets.reset_index(drop=True)
        with self._cache_lock:
            self._cache = ((self.epoch, block), tweets)
        return tweets

    def batch_tweets(self, index):
        """The DataFrame of (cleaned) tweets that make batch ``index`` of this epoch."""
        index = check_int("index", index)
        if not 0 <= index < len(self):
            raise IndexError(f"batch index {index} out of range for {len(self)} batches")
        block, sub = self._order[index]
        tweets = self._block_tweets(block)
        return tweets.iloc[sub * self.batch_size:(sub + 1) * self.batch_size].reset_index(drop=True)

    def __getitem__(self, index):
        batch = self.batch_tweets(index)
        if self.mode == "ids":
            ids = encode_tweets_to_ids(batch["text"], length=self.length, trim=self.trim).astype(np.int32)
            x, y = ids[:, :-1], ids[:, 1:]
            if self.emoji_set is None:
                return x, y
            emoji_ids = batch["emoji"].map({e: i for i, e in enumerate(self.emoji_set)}).to_numpy(np.int32)
            if self.emoji_dropout:
                hidden = self._rng(4, index).random(len(emoji_ids)) < self.emoji_dropout
                emoji_ids[hidden] = self.no_emoji_id
            return (x, emoji_ids[:, None]), y
        x, y = convert_tweet_to_xy(batch, self.length, self.window_size, self.step, dtype=self.dtype)
        if self.emoji_set is None:
            return x, y
        k = windows_per_tweet(self.length, self.window_size, self.step)
        x_emoji = emoji_one_hot(np.repeat(batch["emoji"].to_numpy(), k).tolist(), self.emoji_set, self.dtype)
        return (x, x_emoji), y

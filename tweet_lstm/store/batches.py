"""Which tweets make batch ``i`` of epoch ``e``, and their arrays: a pure function of ``(seed, e, i)``.

Each epoch shuffles every tweet of a ``TweetStore``, cuts that order into windows of ``bucket_batches`` batches, sorts
each window by length (little padding), cuts it into batches and shuffles those. Shard ``k`` of ``n`` serves the global
batches ``k, k + n, ...``. Only the last epoch's order is kept, so any batch of any epoch can be asked for in any order,
by any process: resuming is knowing ``(epoch, batch)``."""

from pathlib import Path

import numpy as np

from ..checks import check_int, check_number
from .store import TweetStore
from .windows import check_dtype, check_window_params, one_hot_windows, padded_from_id_rows


def check_shard(shard):
    """``shard`` as ``(index, count)`` ints with ``0 <= index < count``."""
    try:
        index, count = shard
        index, count = check_int("shard index", index), check_int("shard count", count, minimum=1)
        if 0 <= index < count:
            return index, count
    except (TypeError, ValueError):
        pass
    raise ValueError(f"shard must be (index, count) with 0 <= index < count, got {shard!r}")


def as_store(store):
    """``store`` as a ``TweetStore``: one already, or the folder of a prepared store."""
    if isinstance(store, TweetStore):
        return store
    if isinstance(store, (str, Path)):
        return TweetStore.open(store)
    raise TypeError(f"store must be a TweetStore or the folder of a prepared store, got {type(store).__name__} "
                    "(make one with prepare_tweets(csv_path, store_dir) or TweetStore.from_frame(frame))")


class TweetBatches:
    """Batches of whole tweets as ids: ``x`` and ``y`` ``(batch, width - 1)`` int32, ``y`` one id ahead, as wide as the
    longest tweet needs (``TweetStore.id_rows``); batch ``index`` of ``epoch`` is ``batch(epoch, index)``, and iterating
    gives epoch 0's batches in order. ``store`` is a ``TweetStore`` (or a prepared store's folder). ``shuffle=False``
    serves the store's order every epoch, sorted by length within each window of ``bucket_batches`` batches (``1`` keeps
    it exactly). With ``emoji=True`` ``x`` is ``(text_ids, emoji_ids)``, ``emoji_ids (batch, 1)`` int32: the store's
    emoji index, or ``no_emoji_id`` for a tweet without one or a share ``emoji_dropout`` of them (so a model also learns
    tweets without their emoji; ``1.0`` scores it so). ``shard=(k, n)``: this process's share of every epoch."""

    def __init__(self, store, batch_size=64, shuffle=True, seed=0, shard=(0, 1), bucket_batches=16, emoji=False,
                 emoji_dropout=0.0):
        self.store = as_store(store)
        self.batch_size = check_int("batch_size", batch_size, minimum=1)
        self.shuffle, self.seed = bool(shuffle), check_int("seed", seed, minimum=0)
        self.shard = check_shard(shard)
        self.bucket_batches = check_int("bucket_batches", bucket_batches, minimum=1)
        self.emoji = bool(emoji)
        if self.emoji and self.store.emoji is None:
            raise ValueError("emoji=True needs each tweet's emoji, and this store has no emoji column "
                             "(its CSV had none)")
        self.emoji_dropout = check_number("emoji_dropout", emoji_dropout, minimum=0.0, maximum=1.0)
        if self.emoji_dropout and not self.emoji:
            raise ValueError("emoji_dropout needs emoji=True")
        n = len(self.store)
        self.n_batches = -(-n // self.batch_size)  # every window of bucket_batches batches but the last is full
        if n == 0:
            manifest = self.store.manifest or {}
            source = manifest.get("source", {}).get("path", "the store's source")
            raise ValueError(f"{source}: no tweet is left to train on (rows left out: {manifest.get('dropped')}); "
                             "cleaning removes handles, emojis and characters outside the 93, and a tweet it "
                             "empties is left out")
        if len(self) == 0:
            raise ValueError(f"{n} tweets make {self.n_batches} batch(es) of {self.batch_size}: none for "
                             f"shard {self.shard}")
        self._order, self._window = (None, None), (None, None)  # the last epoch's order and window, kept

    @property
    def no_emoji_id(self):
        """The emoji id that stands for "no emoji": ``len(store.emojis)`` (None without ``emoji``)."""
        return len(self.store.emojis) if self.emoji else None

    def fingerprint(self):
        """What a run trained on: the store's tweets (``TweetStore.fingerprint``) and every batch setting."""
        return {"tweets": self.store.fingerprint(), "batch_size": self.batch_size, "shuffle": self.shuffle,
                "seed": self.seed, "shard": list(self.shard), "bucket_batches": self.bucket_batches,
                "emoji": self.emoji, "emoji_dropout": self.emoji_dropout, "kind": type(self).__name__}

    def __len__(self):
        """Batches of this shard in an epoch."""
        index, count = self.shard
        return len(range(index, self.n_batches, count))

    def batches_per_worker(self):
        """Batches each of the shards serves when they train in step: the fewest any shard has."""
        return self.n_batches // self.shard[1]

    def _rng(self, *key):
        return np.random.default_rng([self.seed, *key])

    def epoch_order(self, epoch):
        """Every tweet of the store once, in ``epoch``'s order (int64 indices; kept for the last epoch asked)."""
        epoch = check_int("epoch", epoch, minimum=0)
        kept, order = self._order  # one read: another thread may replace it (a tuple is replaced whole)
        if kept != epoch:
            n = len(self.store)
            order = self._rng(epoch).permutation(n) if self.shuffle else np.arange(n)
            self._order = (epoch, order)
        return order

    def window_batches(self, epoch, window):
        """Window ``window`` of ``epoch`` as batches: its tweets sorted by length, cut, shuffled (the last is kept)."""
        kept, chunks = self._window
        if kept == (epoch, window):
            return chunks
        size = self.batch_size * self.bucket_batches
        rows = self.epoch_order(epoch)[window * size:(window + 1) * size]
        if self.bucket_batches > 1:
            rows = rows[np.argsort(self.store.lengths_of(rows), kind="stable")]
        chunks = [rows[i:i + self.batch_size] for i in range(0, len(rows), self.batch_size)]
        if self.shuffle:
            chunks = [chunks[j] for j in self._rng(epoch, 1, window).permutation(len(chunks))]
        self._window = ((epoch, window), chunks)
        return chunks

    def batch_rows(self, epoch, index):
        """The store indices of the tweets in this shard's batch ``index`` of ``epoch``."""
        index = check_int("index", index)
        if not 0 <= index < len(self):
            raise IndexError(f"batch index {index} out of range for {len(self)} batches")
        position = self.shard[0] + index * self.shard[1]  # among the epoch's batches over all shards
        return self.window_batches(epoch, position // self.bucket_batches)[position % self.bucket_batches]

    def batch(self, epoch, index):
        """This shard's batch ``index`` of epoch ``epoch``, as arrays (see the class)."""
        rows = self.batch_rows(epoch, index)
        ids = self.store.id_rows(rows).astype(np.int32)
        x, y = ids[:, :-1], ids[:, 1:]
        if not self.emoji:
            return x, y
        emoji_ids = self.store.emoji_of(rows).astype(np.int32)
        emoji_ids[emoji_ids < 0] = self.no_emoji_id
        if self.emoji_dropout:
            hidden = self._rng(epoch, 2, self.shard[0] + index * self.shard[1]).random(len(rows)) < self.emoji_dropout
            emoji_ids[hidden] = self.no_emoji_id
        return (x, emoji_ids[:, None]), y

    def __iter__(self):
        return (self.batch(0, i) for i in range(len(self)))


class WindowBatches(TweetBatches):
    """The seed's batches from the same store: ``convert_tweet_to_xy``'s one-hot ``(x, y)`` of ``dtype`` for each
    ``batch_size`` tweets, left-padded with spaces to the store's ``length``; no length buckets."""

    def __init__(self, store, batch_size=8, window_size=64, step=3, dtype=np.float32, shuffle=True, seed=0):
        super().__init__(store, batch_size=batch_size, shuffle=shuffle, seed=seed, bucket_batches=1)
        _, self.window_size, self.step = check_window_params(self.store.length, window_size, step)
        self.dtype = check_dtype(dtype)

    def fingerprint(self):
        return {**super().fingerprint(), "window_size": self.window_size, "step": self.step, "dtype": self.dtype.name}

    def batch(self, epoch, index):
        padded = padded_from_id_rows(self.store.id_rows(self.batch_rows(epoch, index), trim=False), self.store.length)
        return one_hot_windows(padded, self.window_size, self.step, self.dtype)

"""``TweetDataset``: ``TweetBatches`` as a ``keras.utils.PyDataset``, and its ``tf.data`` view.

Why a ``PyDataset`` and not a bare Python generator (``fit_generator`` is gone in Keras 3;
``fit`` takes a generator, but): a ``PyDataset`` has a length, so Keras knows where an
epoch ends and shows progress; each batch is asked for by index, so every tweet is seen
exactly once per epoch, even with ``workers > 1`` fetching batches in parallel threads;
and ``on_epoch_end`` reshuffles. A generator shared by several workers can repeat or
skip batches.
"""

import itertools

import keras
import numpy as np
import tensorflow as tf

from .batches import TweetBatches


def variable_shape_signature(batch):
    """``tf.TensorSpec``s matching ``batch``'s structure and dtypes, every dimension variable."""
    def spec(array):
        return tf.TensorSpec((None,) * np.ndim(array), tf.as_dtype(np.asarray(array).dtype))
    return keras.tree.map_structure(spec, batch)


def _serve(batches, first_step, n_steps, pass_length):
    """Steps ``first_step .. first_step + n_steps - 1`` of the endless run of epochs.

    Global step ``g`` is batch ``g % pass_length`` of epoch ``g // pass_length``; the
    epoch is set as the run reaches it.
    """
    for step in range(first_step, first_step + n_steps):
        epoch, index = divmod(step, pass_length)
        if batches.epoch != epoch:
            batches.set_epoch(epoch)
        yield batches[index]


def tf_dataset(batches, first_step, n_steps, advance=False, pass_length=None, sized=True, prefetch=2):
    """``n_steps`` batches of ``batches`` from global step ``first_step`` as a ``tf.data.Dataset``.

    The one ``tf.data`` builder, for one process and for each worker of several. Every
    non-batch dimension is declared variable (trimmed batches change width). With
    ``advance=True`` each new pass over the dataset (Keras makes one per epoch) serves the
    next ``n_steps`` steps; the epoch is set when a pass starts, because Keras stops
    pulling after the last step and a pass may never reach its end. ``sized`` declares
    the number of batches (Keras then shows progress); with several workers leave it out
    and give ``fit`` its ``steps_per_epoch``. Auto-sharding is off: each worker already
    reads only its own shard. ``prefetch`` batches are prepared ahead in the background.
    A pass over ``batches`` is its first ``pass_length`` batches (default: all of them).
    """
    pass_length = len(batches) if pass_length is None else pass_length
    batches.set_epoch(first_step // pass_length)
    signature = variable_shape_signature(batches[first_step % pass_length])
    passes = itertools.count()

    def generate():
        start = first_step + (next(passes) * n_steps if advance else 0)
        return _serve(batches, start, n_steps, pass_length)

    data = tf.data.Dataset.from_generator(generate, output_signature=signature)
    if sized:
        data = data.apply(tf.data.experimental.assert_cardinality(n_steps))
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF
    return data.with_options(options).prefetch(prefetch)


class TweetDataset(TweetBatches, keras.utils.PyDataset):
    """Batches of tweets for ``model.fit``; see ``TweetBatches`` for the arguments.

    ``workers``, ``use_multiprocessing`` and ``max_queue_size`` go to
    ``keras.utils.PyDataset``. Keras fixes a ``PyDataset``'s shapes from its first two
    batches, so feed trimmed batches (``trim=True``) to ``fit`` through
    ``as_tf_dataset()``, which declares the width as variable.
    """

    def __init__(self, tweets, batch_size=64, workers=1, use_multiprocessing=False, max_queue_size=10,
                 **batch_options):
        TweetBatches.__init__(self, tweets, batch_size=batch_size, **batch_options)
        keras.utils.PyDataset.__init__(self, workers=workers, use_multiprocessing=use_multiprocessing,
                                       max_queue_size=max_queue_size)

    def as_tf_dataset(self, prefetch=2):
        """This dataset as a ``tf.data.Dataset``: pass ``k`` serves epoch ``self.epoch + k``."""
        return tf_dataset(self, self.epoch * len(self), len(self), advance=True, prefetch=prefetch)

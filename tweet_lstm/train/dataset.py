"""``TweetDataset`` and ``WindowDataset``: the batches as ``keras.utils.PyDataset``s, and ``tf_dataset``.

Why a ``PyDataset`` and not a bare Python generator (``fit_generator`` is gone in Keras 3;
``fit`` takes a generator, but): a ``PyDataset`` has a length, so Keras knows where an
epoch ends and shows progress; each batch is asked for by index, so every tweet is seen
exactly once per epoch, even with ``workers > 1`` threads fetching batches in parallel
(in Keras 3 the workers belong to the ``PyDataset``); and ``on_epoch_end`` moves to the
next epoch's order.
"""

import keras
import numpy as np
import tensorflow as tf

from ..store.batches import TweetBatches, WindowBatches
from ..checks import check_int


def variable_shape_signature(batch):
    """``tf.TensorSpec``s matching ``batch``'s structure and dtypes, every dimension variable."""
    def spec(array):
        return tf.TensorSpec((None,) * np.ndim(array), tf.as_dtype(np.asarray(array).dtype))
    return keras.tree.map_structure(spec, batch)


def tf_dataset(batches, first_step, n_steps, pass_length=None, sized=True, prefetch=2):
    """Global steps ``first_step .. first_step + n_steps - 1`` of ``batches`` as a ``tf.data.Dataset``.

    Step ``g`` is ``batches.batch(g // pass_length, g % pass_length)``: batch ``g % n`` of
    epoch ``g // n``, where ``n`` is ``pass_length`` (default: ``len(batches)``), so a
    training epoch may be shorter or longer than a pass over the tweets. Every
    non-batch dimension is declared variable (batches are trimmed to their tweets'
    width); ``sized`` declares the number of steps (Keras then shows progress; with several
    workers leave it out and give ``fit`` its ``steps_per_epoch``); auto-sharding is off
    (each worker's ``batches`` is already its shard); ``prefetch`` batches are prepared ahead in a background thread while the model trains.
    """
    first_step = check_int("first_step", first_step, minimum=0)
    n_steps = check_int("n_steps", n_steps, minimum=1)
    pass_length = len(batches) if pass_length is None else check_int("pass_length", pass_length, minimum=1)
    if pass_length > len(batches):
        raise ValueError(f"pass_length ({pass_length}) must be at most the {len(batches)} batches of a pass")
    signature = variable_shape_signature(batches.batch(first_step // pass_length, first_step % pass_length))

    def generate():
        for step in range(first_step, first_step + n_steps):
            yield batches.batch(step // pass_length, step % pass_length)

    data = tf.data.Dataset.from_generator(generate, output_signature=signature)
    if sized:
        data = data.apply(tf.data.experimental.assert_cardinality(n_steps))
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF
    return data.with_options(options).prefetch(prefetch)


class TweetDataset(TweetBatches, keras.utils.PyDataset):
    """``TweetBatches`` for ``model.fit``; see it for the arguments.

    ``workers``, ``use_multiprocessing`` and ``max_queue_size`` go to
    ``keras.utils.PyDataset``. Keras fixes a ``PyDataset``'s shapes from its first
    batches, and these change width: train through ``fit_with_backups``/``train_resumably``
    (or ``tf_dataset``), which declare the width variable.
    """

    def __init__(self, store, batch_size=64, workers=1, use_multiprocessing=False, max_queue_size=10, **options):
        TweetBatches.__init__(self, store, batch_size=batch_size, **options)
        keras.utils.PyDataset.__init__(self, workers=workers, use_multiprocessing=use_multiprocessing,
                                       max_queue_size=max_queue_size)


class WindowDataset(WindowBatches, keras.utils.PyDataset):
    """``WindowBatches`` (the seed's one-hot windows, from the same store) for ``model.fit``."""

    def __init__(self, store, batch_size=8, workers=1, use_multiprocessing=False, max_queue_size=10, **options):
        WindowBatches.__init__(self, store, batch_size=batch_size, **options)
        keras.utils.PyDataset.__init__(self, workers=workers, use_multiprocessing=use_multiprocessing,
                                       max_queue_size=max_queue_size)

"""``tf_dataset``: the one adapter to Keras, for any batch source with ``len`` and a pure ``batch(epoch, index)``. Not a
``keras.utils.PyDataset`` (chapters 02 and 05 write one): Keras fixes its shapes from the first batches, and ours change
width; and its epoch is a counter that ``on_epoch_end`` moves, where here the step says which batch comes."""

import itertools

import keras
import numpy as np
import tensorflow as tf

from ..checks import check_int
from .positions import Positions


def variable_shape_signature(batch):
    """``tf.TensorSpec``s matching ``batch``'s structure and dtypes, every dimension variable."""
    def spec(array):
        return tf.TensorSpec((None,) * np.ndim(array), tf.as_dtype(np.asarray(array).dtype))
    return keras.tree.map_structure(spec, batch)


def tf_dataset(batches, start=0, steps=None, batches_per_epoch=None, sized=True):
    """Global steps ``start``, ``start + 1``, ... of ``batches`` as a ``tf.data.Dataset``: step ``g`` is batch ``g % n``
    of epoch ``g // n`` (``n``: ``batches_per_epoch``, default ``len(batches)``), one epoch running into the next.
    ``steps`` steps, or endless (give ``fit`` its ``steps_per_epoch``); iterated again, the same steps. Every dimension
    is declared variable; ``sized`` declares the steps (leave it out with several workers); auto-sharding is off (a
    worker's ``batches`` is its shard); two batches are made ahead in a background thread while the model trains."""
    start = check_int("start", start, minimum=0)
    if steps is not None:
        steps = check_int("steps", steps, minimum=1)
    positions = Positions(len(batches) if batches_per_epoch is None else batches_per_epoch)
    if positions.batches_per_epoch > len(batches):
        raise ValueError(f"batches_per_epoch ({positions.batches_per_epoch}) must be at most the {len(batches)} "
                         "batches of an epoch")
    signature = variable_shape_signature(batches.batch(*positions.batch_of(start)))

    def generate():
        for step in itertools.count(start) if steps is None else range(start, start + steps):
            yield batches.batch(*positions.batch_of(step))

    data = tf.data.Dataset.from_generator(generate, output_signature=signature)
    if sized and steps is not None:
        data = data.apply(tf.data.experimental.assert_cardinality(steps))
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF
    return data.with_options(options).prefetch(2)

"""Several devices or machines: ``tf.distribute`` strategies, shards, and one Keras workaround (``multi_worker_fit``),
the package's only use of private Keras names, guarded by the Keras version it was written for."""

import contextlib
import json
import os

import keras
import tensorflow as tf

from ..checks import check_choice

DISTRIBUTION_STRATEGIES = ("default", "mirrored", "multi_worker")
WORKAROUND_KERAS_VERSIONS = ("3.15.",)
"""Keras versions ``multi_worker_fit``'s patch was written and tested for."""


def tf_config_shard(tf_config=None):
    """``(index, count)``: this process among the workers of ``tf_config`` (default: ``$TF_CONFIG``), the cluster's
    ``chief`` (if any), then its ``worker`` tasks, numbered as ``MultiWorkerMirroredStrategy`` numbers them; ``(0, 1)``
    without ``TF_CONFIG``. Give it to ``TweetBatches(shard=...)``. Raises ``ValueError`` naming ``TF_CONFIG`` if it is
    not JSON or names no such task."""
    if tf_config is None:
        tf_config = os.environ.get("TF_CONFIG", "")
    if not tf_config.strip():
        return (0, 1)
    try:
        config = json.loads(tf_config)
    except json.JSONDecodeError as err:
        raise ValueError(f"TF_CONFIG is not valid JSON ({err}): {tf_config!r}") from None
    cluster, task = config.get("cluster", {}), config.get("task", {})
    chiefs, workers = list(cluster.get("chief", [])), list(cluster.get("worker", []))
    count = len(chiefs) + len(workers)
    kind, index = task.get("type"), task.get("index", 0)
    if kind not in ("chief", "worker") or count == 0:
        raise ValueError(f"TF_CONFIG must list 'chief'/'worker' tasks and name one of them as this "
                         f"task; got cluster {sorted(cluster)} and task {task}")
    position = index if kind == "chief" else len(chiefs) + index
    if not 0 <= position < count:
        raise ValueError(f"TF_CONFIG task {task} is not in its cluster of {count} worker(s)")
    return (position, count)


def distribution_strategy(name="default", devices=None):
    """``(strategy, shard)`` for one device (``"default"``), every local GPU or ``devices`` (``"mirrored"``: a copy of
    the model on each, every batch split between them and their gradients summed) or the machines ``TF_CONFIG`` lists
    (``"multi_worker"``, one process each). ``shard``, ``(index, count)``, goes to ``TweetBatches(shard=...)``; build
    and compile the model inside ``with strategy.scope():``. Create the strategy at the start of the program."""
    check_choice("name", name, DISTRIBUTION_STRATEGIES)
    if name == "default":
        return tf.distribute.get_strategy(), (0, 1)
    if name == "mirrored":
        return tf.distribute.MirroredStrategy(devices), (0, 1)
    shard = tf_config_shard()
    return tf.distribute.MultiWorkerMirroredStrategy(), shard


def workers_of(strategy):
    """Number of machines (processes) training in sync under ``strategy``."""
    if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        cluster = strategy.cluster_resolver.cluster_spec().as_dict()
        return max(1, len(cluster.get("chief", [])) + len(cluster.get("worker", [])))
    return 1


@contextlib.contextmanager
def multi_worker_fit(model, strategy):
    """Let ``model.fit`` run inside this block under ``MultiWorkerMirroredStrategy``. Keras 3.15's ``fit`` fails there
    (keras-team/keras#20585, open): its train step reduces each scalar log with ``strategy.reduce("MEAN", value,
    axis=0)``, and its first symbolic build reduces ``(x, y)`` across workers; both raise. Here the train step returns
    each log as a one-element vector, and the model forgets its strategy (private ``_distribute_strategy``, so the build
    is skipped) while ``fit`` runs in ``strategy.scope()``. Both are undone on leaving, as is the compiled train
    function. Raises ``RuntimeError`` on a Keras version it was not written for."""
    if not keras.__version__.startswith(WORKAROUND_KERAS_VERSIONS):
        raise RuntimeError(
            f"multi_worker_fit patches Keras {WORKAROUND_KERAS_VERSIONS} for keras-team/keras#20585; "
            f"Keras {keras.__version__} is installed. Check whether that issue is fixed in it (then "
            "fit without the patch) and update WORKAROUND_KERAS_VERSIONS in tweet_lstm/train/distribute.py")
    train_step, saved_strategy = model.train_step, model._distribute_strategy
    model.train_step = lambda data: {k: tf.reshape(v, [1]) for k, v in train_step(data).items()}
    model._distribute_strategy = None
    model.train_function = None
    try:
        with strategy.scope():
            yield
    finally:
        del model.train_step  # the instance attribute goes; the class's method shows again
        model._distribute_strategy = saved_strategy
        model.train_function = None

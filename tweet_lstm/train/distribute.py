"""Several devices or machines: ``tf.distribute`` strategies, shards, and one Keras workaround.

This is the only module that touches private Keras names, in ``multi_worker_fit`` alone,
guarded by the Keras version it was written for and undone after each ``fit``.
"""

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
    """``(index, count)``: this process's position among the training workers of ``TF_CONFIG``.

    ``tf_config`` is the JSON string (default: the ``TF_CONFIG`` environment variable).
    The workers are the cluster's ``chief`` (if any) then its ``worker`` tasks, numbered
    as ``MultiWorkerMirroredStrategy`` numbers them (the chief is worker 0). Without
    ``TF_CONFIG`` the answer is ``(0, 1)``. Pass the result as ``TweetDataset(shard=...)``
    so that each worker trains its own batches. Raises ``ValueError`` naming
    ``TF_CONFIG`` when it is not JSON or names no such task.
    """
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
    """Return ``(strategy, shard)`` for training on one device, several local devices or several machines.

    ``"default"``: TensorFlow's default strategy (one device, nothing distributed).
    ``"mirrored"``: ``tf.distribute.MirroredStrategy(devices)``, one copy of the model on
    every local GPU (or on ``devices``, e.g. ``["/cpu:0", "/cpu:1"]``); each batch is split
    between the copies and their gradients are summed, so every copy stays identical.
    ``"multi_worker"``: ``tf.distribute.MultiWorkerMirroredStrategy``, the same across the
    machines that ``TF_CONFIG`` lists (one process per machine, each with its own
    ``TF_CONFIG`` task). Create it at the start of the program.

    ``shard`` is ``(index, count)``: ``tf_config_shard()`` for ``"multi_worker"``,
    ``(0, 1)`` otherwise; give it to ``TweetDataset(shard=shard)``. Build and compile the
    model inside ``with strategy.scope():``.
    """
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
    """Let ``model.fit`` run inside this block under ``MultiWorkerMirroredStrategy``.

    Keras 3.15's ``fit`` fails there (keras-team/keras#20585, open): its train step
    averages each scalar log with ``strategy.reduce("MEAN", value, axis=0)``, and its first
    symbolic build reduces the ``(x, y)`` tuple across workers; both raise. Inside this
    block the train step returns each log as a one-element vector, and the model forgets
    its strategy (private ``_distribute_strategy``) so the symbolic build is skipped (the
    model is already built); ``fit`` runs inside ``strategy.scope()``, where Keras finds
    the strategy again. Both changes are undone on leaving, and the compiled train
    function is dropped so a later ``fit`` builds its own. Raises ``RuntimeError`` on a
    Keras version the patch was not written for.
    """
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

"""Training that resumes exactly where it stopped: step backups and ``fit_with_backups``.

A position is ``(epoch, batch)``: batch ``batch`` (0-based) of Keras epoch ``epoch``. An
epoch is ``steps_per_epoch`` batches (default: one pass over the dataset); global step
``epoch * steps_per_epoch + batch`` is batch ``g % n`` of the dataset's pass ``g // n``,
where ``n`` is the batches per pass, so epochs may be shorter or longer than a pass.
"""

import re
import zipfile
from pathlib import Path

import numpy as np

from ..store.batches import TweetBatches
from .callbacks import StepCounter
from ..checks import check_int
from .dataset import tf_dataset
from .distribute import multi_worker_fit, workers_of
from ..files import atomic_path, remove_leftovers

_BACKUP_NAME = re.compile(r"epoch-(\d+)-batch-(\d+)\.weights\.h5")
_SAVING = ".saving-"


def backup_position(backup_dir):
    """``(epoch, batch, path)`` of the newest backup in ``backup_dir``, or ``(0, 0, None)``.

    Training resumes at batch ``batch`` of epoch ``epoch`` from the weights and optimizer
    state in ``path``.
    """
    found = []
    for path in Path(backup_dir).glob("epoch-*-batch-*.weights.h5"):
        match = _BACKUP_NAME.fullmatch(path.name)
        if match:
            found.append((int(match[1]), int(match[2]), path))
    return max(found) if found else (0, 0, None)


class StepBackup(StepCounter):
    """Back up weights and optimizer state every ``every`` batches of an epoch.

    Each backup is ``epoch-E-batch-B.weights.h5`` in ``backup_dir``: resume at batch ``B``
    of epoch ``E``. It is written under a temporary name and renamed, and older backups are
    then deleted, so a kill at any moment leaves a complete backup. With several workers a
    batch is spread over ``workers`` Keras steps. ``fit_with_backups`` also calls ``save``
    at each epoch's end.
    """

    def __init__(self, backup_dir, every, workers=1):
        super().__init__()
        self.every = check_int("every", every, minimum=1)
        self.backup_dir, self.workers = Path(backup_dir), check_int("workers", workers, minimum=1)
        self.saved, self.steps_run = [], 0

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        self.backup_dir.mkdir(parents=True, exist_ok=True)
        remove_leftovers(self.backup_dir, f"{_SAVING}*")

    def on_epoch_begin(self, epoch, logs=None):
        super().on_epoch_begin(epoch, logs)
        self._last = self.step // self.workers

    def on_train_batch_end(self, batch, logs=None):
        super().on_train_batch_end(batch, logs)
        self.steps_run += 1
        if self.step == self.offset + (self.params.get("steps") or -1):
            return  # the epoch's last step: fit_with_backups backs up after its end-of-epoch work
        if self.step % self.workers == 0 and self.step // self.workers - self._last >= self.every:
            self._last = self.step // self.workers
            self.save(self.epoch, self._last)

    @property
    def batches_done(self):
        """Batches of the current epoch done so far, counting those before a resume."""
        return self.step // self.workers

    def save(self, epoch, batch):
        """Write the backup for "resume at batch ``batch`` of epoch ``epoch``"; return its Path."""
        target = self.backup_dir / f"epoch-{epoch:04d}-batch-{batch:08d}.weights.h5"
        with atomic_path(target, prefix=_SAVING, suffix=".weights.h5") as tmp:
            self.model.save_weights(tmp, overwrite=True)
        for old in self.backup_dir.glob("epoch-*-batch-*.weights.h5"):
            if old != target:
                old.unlink(missing_ok=True)
        self.saved.append((epoch, batch))
        return target


def restore_weights(model, path, strategy=None):
    """Load weights and optimizer state from ``path`` into ``model`` under ``strategy`` (default:
    the model's), building the optimizer first if it has not trained yet (an unbuilt optimizer
    skips the saved state); returns ``model``."""
    with (strategy or model.distribute_strategy).scope():
        if model.optimizer is not None and not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)
        try:
            model.load_weights(path)
        except (OSError, ValueError, zipfile.BadZipFile) as err:
            raise ValueError(f"{path} cannot be loaded into this model ({type(err).__name__}: {err}); it is damaged, "
                             "or was saved from a model of another shape: delete it (or the run folder) to train "
                             "again") from None
    return model


def fit_with_backups(model, dataset, backup_dir, epochs=1, backup_every=100, callbacks=(), verbose=0,
                     strategy=None, prefetch=2, steps_per_epoch=None, end_of_epoch=None):
    """Train ``model`` on a ``TweetBatches`` for ``epochs`` epochs; rerun after a crash to resume.

    A backup in ``backup_dir`` is taken every ``backup_every`` batches and after each
    epoch. A rerun loads the newest one and continues with the very next batch of the
    same shuffled order, so an interruption loses only the batches since that backup and
    no batch is trained twice. (Keras' ``BackupAndRestore(save_freq=N)`` restarts an
    interrupted epoch at batch 0.) A finished run's rerun trains nothing. Each epoch is one
    ``model.fit`` on exactly that epoch's remaining batches; the loop stops early when a
    callback sets ``model.stop_training``, and the backup then records the exact batch.

    ``end_of_epoch(epoch, logs)``, if given, runs after each epoch's ``fit`` and before its
    backup (validation, checkpoints); the dict it returns joins that epoch's logs, and it
    may set ``model.stop_training``. ``callbacks`` that are ``StepCounter``s are told the
    steps already done in a resumed epoch.

    ``strategy`` (default: the model's) may span several workers: the dataset must then be
    sharded as ``distribution_strategy`` says, each worker trains the same number of
    batches (the fewest any shard has; each batch is then spread over one step per worker)
    and backs up into ``backup_dir/worker-<index>``. Returns a dict: ``resumed_from``
    ``(epoch, batch)``, ``steps`` (Keras steps run now) and ``history`` (one dict of logs
    per epoch run now). (Beyond the first three, every parameter is a setting with a default.)
    """
    if not isinstance(dataset, TweetBatches):
        raise TypeError(f"dataset must be a TweetDataset (or TweetBatches), got {type(dataset).__name__}")
    epochs = check_int("epochs", epochs, minimum=1)
    strategy = strategy or model.distribute_strategy
    workers = workers_of(strategy)
    if dataset.shard[1] != workers:
        raise ValueError(f"dataset is shard {dataset.shard} but {workers} worker(s) train: build it "
                         f"with TweetDataset(shard=...) from distribution_strategy")
    backup_dir = Path(backup_dir) / (f"worker-{dataset.shard[0]}" if workers > 1 else "")
    per_pass = dataset.batches_per_worker()
    per_epoch = per_pass if steps_per_epoch is None else check_int("steps_per_epoch", steps_per_epoch, minimum=1)
    epoch, batch, path = backup_position(backup_dir)
    if path is not None:
        restore_weights(model, path, strategy)
    resumed_from, history = (epoch, batch), []
    backup = StepBackup(backup_dir, backup_every, workers)
    callbacks = [backup, *callbacks]
    while epoch < epochs:
        for callback in callbacks:
            if isinstance(callback, StepCounter):
                callback.initial_step = batch * workers
        data = tf_dataset(dataset, epoch * per_epoch + batch, per_epoch - batch, pass_length=per_pass,
                          sized=workers == 1, prefetch=prefetch)
        context = multi_worker_fit(model, strategy) if workers > 1 else strategy.scope()
        with context:
            fitted = model.fit(data, epochs=epoch + 1, initial_epoch=epoch, callbacks=callbacks, verbose=verbose,
                               shuffle=False, steps_per_epoch=(per_epoch - batch) * workers if workers > 1 else None)
        logs = {k: float(np.mean(v[-1])) for k, v in fitted.history.items()}
        if end_of_epoch is not None:
            logs.update(end_of_epoch(epoch, logs) or {})
        history.append(logs)
        done = backup.batches_done
        epoch, batch = (epoch + 1, 0) if done >= per_epoch else (epoch, done)
        backup.save(epoch, batch)
        if model.stop_training:  # a callback or end_of_epoch (early stopping, a time budget) ended training
            break
    return {"resumed_from": resumed_from, "steps": backup.steps_run, "history": history}

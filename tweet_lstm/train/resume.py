"""Training that resumes exactly where it stopped: backups named by the global step they resume at (``positions.py``)
hold weights and optimizer state; the data needs nothing more, as the batch of a step is a pure function of it."""

import re
import zipfile
from pathlib import Path

import keras
import numpy as np

from ..checks import check_int
from ..files import atomic_path, remove_leftovers
from .dataset import tf_dataset
from .distribute import multi_worker_fit, workers_of
from .positions import Positions

_BACKUP_NAME = re.compile(r"step-(\d+)\.weights\.h5")
SAVING = ".saving-"
"""The prefix of a weights file being written; one left by a killed run is removed on the next."""


def backup_position(backup_dir):
    """``(step, path)`` of the newest backup in ``backup_dir``, or ``(0, None)``: resume at global step ``step``."""
    found = [(int(m[1]), p) for p in Path(backup_dir).glob("step-*") if (m := _BACKUP_NAME.fullmatch(p.name))]
    return max(found) if found else (0, None)


class StepBackup(keras.callbacks.Callback):
    """Back up weights and optimizer state into ``backup_dir`` every ``every`` global steps; ``fit_with_backups`` makes
    it and sets ``start``, the step each ``fit`` starts at. A backup is written under a temporary name, renamed, then
    the older ones deleted: a kill at any moment leaves a complete one (a partial write goes at the next start)."""

    def __init__(self, backup_dir, every, positions):
        super().__init__()
        self.backup_dir, self.positions = Path(backup_dir), positions
        self.every = check_int("every", every, minimum=1)
        self.start = self.keras_steps = 0

    def on_train_begin(self, logs=None):
        self.backup_dir.mkdir(parents=True, exist_ok=True)
        remove_leftovers(self.backup_dir, f"{SAVING}*")
        self.keras_steps = 0

    @property
    def step(self):
        """The global step reached: steps done before this ``fit`` and in it."""
        return self.start + self.keras_steps // self.positions.workers

    def on_train_batch_end(self, batch, logs=None):
        self.keras_steps += 1
        last = self.keras_steps == self.params.get("steps")  # the round's end: fit_with_backups backs up after it
        if not last and self.keras_steps % self.positions.workers == 0 and self.step % self.every == 0:
            self.save(self.step)

    def save(self, step):
        """Write the backup for "resume at global step ``step``"; return its Path."""
        target = self.backup_dir / f"step-{step:09d}.weights.h5"
        with atomic_path(target, prefix=SAVING, suffix=".weights.h5") as tmp:
            self.model.save_weights(tmp, overwrite=True)
        for old in self.backup_dir.glob("step-*.weights.h5"):
            if old != target:
                old.unlink(missing_ok=True)
        return target


def restore_weights(model, path, strategy=None):
    """``model`` with the weights and optimizer state of ``path`` loaded under ``strategy`` (default: the
    model's), its optimizer built first if it has not trained (an unbuilt one skips the state)."""
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


def fit_with_backups(model, batches, backup_dir, rounds=1, steps_per_round=None, backup_every=100, callbacks=(),
                     strategy=None):
    """Train ``model`` on ``batches`` (a ``TweetBatches``) for ``rounds`` rounds; rerun after a crash to resume. A round
    is ``steps_per_round`` steps (default: an epoch), one ``model.fit`` on exactly its batches through ``tf_dataset``. A
    backup goes to ``backup_dir`` every ``backup_every`` steps and after each round (after its ``on_epoch_end``); a
    rerun continues at the step after the newest, so no step is trained twice, and a finished run trains nothing.
    Training stops early when a callback sets ``model.stop_training``. Under a ``strategy`` of several workers,
    ``batches`` is this worker's shard, every worker trains as many batches an epoch as the smallest shard has, and
    backs up into ``backup_dir/worker-<index>``. Returns a dict: ``resumed_from`` (a global step), ``steps`` (run now)
    and ``history`` (logs a round)."""
    if not callable(getattr(batches, "batch", None)):
        raise TypeError(f"batches must be a batch source with batch(epoch, index), such as TweetBatches; "
                        f"got {type(batches).__name__}")
    rounds = check_int("rounds", rounds, minimum=1)
    strategy = strategy or model.distribute_strategy
    workers = workers_of(strategy)
    if batches.shard[1] != workers:
        raise ValueError(f"batches is shard {batches.shard} but {workers} worker(s) train: build it with "
                         "TweetBatches(shard=...) from distribution_strategy")
    positions = Positions(batches.n_batches // workers, steps_per_round, workers)
    backup_dir = Path(backup_dir) / (f"worker-{batches.shard[0]}" if workers > 1 else "")
    step, path = backup_position(backup_dir)
    if path is not None:
        restore_weights(model, path, strategy)
    resumed_from, history = step, []
    backup = StepBackup(backup_dir, backup_every, positions)
    while positions.round_of(step)[0] < rounds:
        round_, done = positions.round_of(step)
        left = positions.steps_per_round - done
        backup.start = step
        data = tf_dataset(batches, step, left, positions.batches_per_epoch, sized=workers == 1)
        with multi_worker_fit(model, strategy) if workers > 1 else strategy.scope():
            fitted = model.fit(data, epochs=round_ + 1, initial_epoch=round_, callbacks=[backup, *callbacks], verbose=0,
                               shuffle=False, steps_per_epoch=positions.keras_steps(left) if workers > 1 else None)
        history.append({k: float(np.mean(v[-1])) for k, v in fitted.history.items()})
        step = backup.step
        backup.save(step)
        if model.stop_training:  # a callback ended training: early stopping, a time budget
            break
    return {"resumed_from": resumed_from, "steps": step - resumed_from, "history": history}

"""``train_resumably``: a time budget, validation, the best checkpoint and early stopping,
all surviving a restart, on top of ``fit_with_backups``' exact mid-epoch resume.

Everything a rerun needs is in the run folder: ``backup/`` (weights and optimizer state
at an exact batch), ``history.csv`` (one row per epoch: the single record of validation
scores, from which the best score and the early-stopping patience are recomputed; its
``loss`` is Keras' mean over the epoch's steps since the last start, so for an epoch cut
by a restart it covers only the steps after it),
``best.keras`` (the best model so far), ``budget.json`` (training seconds spent) and,
once finished, ``done.json``.
"""

import json
import math
import numbers
import time
from pathlib import Path

import keras
import pandas as pd

from .callbacks import TrainingTimeBudget
from ..checks import check_int, check_number
from ..files import atomic_path, write_csv_atomically, write_json_atomically
from .resume import fit_with_backups, restore_weights

HISTORY_COLUMNS = ["epoch", "steps", "minutes", "loss", "validation", "learning_rate", "best"]


class LearningRateByTime(keras.callbacks.Callback):
    """Before each step, set the optimizer's learning rate to ``schedule(minutes)``.

    ``minutes`` is the training time ``budget`` has counted (across restarts too), so two
    models on the same schedule get the same learning rate after the same training time,
    however fast their steps are. The model must be compiled with a number, not a schedule.
    """

    def __init__(self, schedule, budget):
        super().__init__()
        self.schedule, self.budget = schedule, budget

    def on_train_batch_begin(self, batch, logs=None):
        self.model.optimizer.learning_rate = self.schedule(self.budget.spent / 60)


def read_history(run_dir):
    """``history.csv`` of ``run_dir`` as a DataFrame (empty if there is none), one row per epoch."""
    path = Path(run_dir) / "history.csv"
    if not path.exists():
        return pd.DataFrame(columns=HISTORY_COLUMNS)
    return pd.read_csv(path)


def _end_of_epoch(model, run_dir, validate, budget, patience, keep_epochs, verbose):
    """The function ``fit_with_backups`` calls after each epoch: validate, keep the best, stop early."""
    def end_of_epoch(epoch, logs):
        started = time.perf_counter()
        if keep_epochs:
            with atomic_path(epoch_weights(run_dir, epoch), prefix=".saving-", suffix=".weights.h5") as tmp:
                model.save_weights(tmp)
        score = validate(model)
        if isinstance(score, bool) or not isinstance(score, numbers.Real) or not math.isfinite(score):
            raise ValueError(f"validate returned {score!r} after epoch {epoch + 1}: it must return a finite number "
                             f"(a score, lower is better); nothing of epoch {epoch + 1} was recorded in {run_dir}")
        score = float(score)
        history = read_history(run_dir)
        history = history[history["epoch"] < epoch]  # a rerun of an epoch replaces its row
        improved = history.empty or score < history["validation"].min()
        if improved:
            with atomic_path(run_dir / "best.keras", prefix=".saving-best-", suffix=".keras") as tmp:
                model.save(tmp)
        row = {"epoch": epoch, "steps": int(keras.ops.convert_to_numpy(model.optimizer.iterations)),
               "minutes": budget.spent / 60, "loss": logs.get("loss", math.nan), "validation": score,
               "learning_rate": float(keras.ops.convert_to_numpy(model.optimizer.learning_rate)),
               "best": improved}
        history = pd.concat([history, pd.DataFrame([row])], ignore_index=True)
        write_csv_atomically(history[HISTORY_COLUMNS], run_dir / "history.csv")
        best_epoch = int(history.loc[history["validation"].idxmin(), "epoch"])
        if epoch - best_epoch >= patience:
            model.stop_training = True
        if verbose:
            print(f"epoch {epoch + 1:3d}: {budget.spent / 60:5.1f} min, training loss {row['loss'] / math.log(2):.3f} "
                  f"bits per target, validation {score:.4f}{' (best)' if improved else ''}"
                  f"{'; the time budget ran out during this epoch' if budget.exhausted else ''}"
                  f"  [validated in {time.perf_counter() - started:.0f} s]", flush=True)
        return {"validation": score}
    return end_of_epoch


def epoch_weights(run_dir, epoch):
    """Where ``train_resumably(keep_epochs=True)`` keeps the weights after epoch ``epoch``."""
    return Path(run_dir) / "epochs" / f"epoch-{epoch:04d}.weights.h5"


def load_epoch(model, run_dir, epoch):
    """Load into ``model`` the weights (and optimizer state) ``train_resumably(keep_epochs=True)``
    kept after epoch ``epoch`` in ``run_dir``; returns ``model``."""
    return restore_weights(model, epoch_weights(run_dir, epoch))


def model_fingerprint(model):
    """The model's architecture as JSON values: each layer's class and number of parameters."""
    return [[type(layer).__name__, int(layer.count_params())] for layer in model.layers]


def _check_config(run_dir, config):
    """Record ``config`` in ``run_dir/config.json``, or raise if the folder holds a run with another one."""
    path = run_dir / "config.json"
    if path.exists():
        stored = json.loads(path.read_text())
        differ = sorted(k for k in set(stored) | set(config) if stored.get(k) != config.get(k))
        if differ:
            raise ValueError(f"{run_dir} holds a run with other settings ({', '.join(differ)}: "
                             f"{[stored.get(k) for k in differ]} there, {[config.get(k) for k in differ]} now); "
                             "it belongs to another run: choose a new run_dir, or delete the folder to train again")
    else:
        write_json_atomically(config, path)


def train_resumably(model, train_data, validate, run_dir, time_budget_s, steps_per_epoch=None, max_epochs=100,
                    patience=3, backup_every=100, learning_rate=None, callbacks=(), keep_epochs=False, config=None,
                    verbose=1):
    """Train for at most ``time_budget_s`` seconds of training time, validating after each epoch.

    ``train_data`` is a ``TweetBatches``/``TweetDataset``; an epoch is ``steps_per_epoch``
    batches (default: one pass). ``validate(model)`` returns a score where lower is better
    (e.g. bits per character on validation tweets); it runs after each epoch, outside the
    budget. ``best.keras`` keeps the best-scoring model and is only ever replaced by a
    better one; training stops after ``patience`` epochs without a better score, when the
    budget is spent, or after ``max_epochs``. ``learning_rate``, a function of training
    minutes, sets the optimizer's rate before every step (``LearningRateByTime``). Extra
    ``callbacks`` join the budget's; ``keep_epochs`` keeps every epoch's weights
    (``epoch_weights``); ``config``, a dict of JSON values describing the run (schedule,
    anything else), is kept in ``config.json`` with the budget, the data
    (``train_data.fingerprint()``: which tweets, which batches) and the model's layers
    (``model_fingerprint``), and a rerun with any of them different raises ``ValueError``
    (use a new run_dir) instead of resuming a different run; ``verbose`` prints one line per epoch
    (the training loss, Keras' mean in nats, shown in bits: divided by ln 2).

    Rerun after an interruption, it resumes at the exact batch of the last backup (every
    ``backup_every`` batches), with the budget, the best score and the patience as they
    were; once finished, ``done.json`` makes a rerun skip training. Loads the best weights
    into ``model`` and returns the history (one row per epoch, ``HISTORY_COLUMNS``).

    (The first five parameters are the run; the others are its settings, each with a default,
    which is why there are many.)
    """
    run_dir = Path(run_dir)
    time_budget_s = check_number("time_budget_s", time_budget_s, minimum=0.0)
    max_epochs = check_int("max_epochs", max_epochs, minimum=1)
    patience = check_int("patience", patience, minimum=1)
    if not callable(validate):
        raise TypeError(f"validate must be a function of the model returning a score, got {type(validate).__name__}")
    run_dir.mkdir(parents=True, exist_ok=True)
    _check_config(run_dir, {"time_budget_s": time_budget_s, "steps_per_epoch": steps_per_epoch,
                            "max_epochs": max_epochs, "patience": patience, "data": train_data.fingerprint(),
                            "model": model_fingerprint(model), **(config or {})})
    done, best = run_dir / "done.json", run_dir / "best.keras"
    if not done.exists():
        budget = TrainingTimeBudget(time_budget_s, run_dir / "budget.json")
        callbacks = [budget, *([LearningRateByTime(learning_rate, budget)] if learning_rate else []), *callbacks]
        if not budget.exhausted:
            fit_with_backups(model, train_data, run_dir / "backup", epochs=max_epochs, backup_every=backup_every,
                             callbacks=callbacks, steps_per_epoch=steps_per_epoch,
                             end_of_epoch=_end_of_epoch(model, run_dir, validate, budget, patience, keep_epochs,
                                                                  verbose))
        history = read_history(run_dir)
        best_score = None if history.empty else float(history["validation"].min())
        write_json_atomically({"seconds_spent": budget.spent, "epochs": len(history),
                               "best_validation": best_score}, done)
    if best.exists():
        restore_weights(model, best)
    return read_history(run_dir)

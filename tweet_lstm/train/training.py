"""``train_resumably``: a time budget, validation, the best checkpoint and early stopping, all surviving a restart, on
top of ``fit_with_backups``' exact resume.

The run folder holds all a rerun needs: ``config.json`` (settings, data, model), ``backup/``, ``history.csv`` (a row a
round: validation scores, from which the best and the patience are recomputed; ``loss`` is Keras' mean since the round's
last start), ``best.keras``, ``budget.json`` (training seconds spent) and, once finished, ``done.json``."""

import json
import math
import numbers
import time
from pathlib import Path

import keras
import pandas as pd

from ..files import atomic_path, remove_leftovers, write_csv_atomically, write_json_atomically
from .callbacks import TrainingTimeBudget
from .resume import SAVING, fit_with_backups, restore_weights
from .settings import TrainSettings

HISTORY_COLUMNS = ["round", "steps", "minutes", "loss", "validation", "learning_rate", "best"]


class LearningRateByTime(keras.callbacks.Callback):
    """Before each step, set the optimizer's rate to ``schedule(minutes)``, the training minutes ``budget.spent`` counts
    (restarts too), so that it depends on time, not steps. Compile the model with a number, not a schedule."""

    def __init__(self, schedule, budget):
        super().__init__()
        self.schedule, self.budget = schedule, budget

    def on_train_batch_begin(self, batch, logs=None):
        self.model.optimizer.learning_rate = self.schedule(self.budget.spent / 60)


def read_history(run_dir):
    """``history.csv`` of ``run_dir`` as a DataFrame (empty if there is none), one row per round."""
    path = Path(run_dir) / "history.csv"
    return pd.read_csv(path) if path.exists() else pd.DataFrame(columns=HISTORY_COLUMNS)


def round_weights(run_dir, round_):
    """Where ``train_resumably(keep_rounds=True)`` keeps the weights after round ``round_``."""
    return Path(run_dir) / "rounds" / f"round-{round_:04d}.weights.h5"


def load_round(model, run_dir, round_):
    """Load into ``model`` the weights (and optimizer state) ``train_resumably(keep_rounds=True)`` kept after round
    ``round_`` in ``run_dir``; returns ``model``."""
    return restore_weights(model, round_weights(run_dir, round_))


def round_line(row, budget_ran_out=False):
    """The line ``train_resumably`` prints for a round: ``row`` is the round's row of ``history.csv``."""
    return (f"round {int(row['round']) + 1:3d}: {row['minutes']:5.1f} min, training loss "
            f"{row['loss'] / math.log(2):.3f} bits per target, validation {row['validation']:.4f}"
            f"{' (best)' if row['best'] else ''}"
            f"{'; the time budget ran out during this round' if budget_ran_out else ''}")


class RoundEnd(keras.callbacks.Callback):
    """After each round (Keras' ``on_epoch_end``): validate, write its row of ``history.csv`` (a rerun's replaces it),
    save ``best.keras`` on a best score, stop after ``patience`` rounds without one; with ``verbose``, print a line."""

    def __init__(self, run_dir, validate, budget, patience, keep_rounds=False, verbose=1):
        super().__init__()
        self.run_dir, self.validate, self.budget, self.patience = Path(run_dir), validate, budget, patience
        self.keep_rounds, self.verbose = keep_rounds, verbose
        self.history = read_history(run_dir)

    def on_epoch_end(self, round_, logs=None):
        started = time.perf_counter()
        if self.keep_rounds:
            with atomic_path(round_weights(self.run_dir, round_), prefix=SAVING, suffix=".weights.h5") as tmp:
                self.model.save_weights(tmp)
        score = self.validate(self.model)
        if isinstance(score, bool) or not isinstance(score, numbers.Real) or not math.isfinite(score):
            raise ValueError(f"validate returned {score!r} after round {round_ + 1}: it must return a finite number (a "
                             f"score, lower is better); nothing of round {round_ + 1} was recorded in {self.run_dir}")
        history = self.history[self.history["round"] < round_]
        improved = history.empty or score < history["validation"].min()
        if improved:
            with atomic_path(self.run_dir / "best.keras", prefix=SAVING, suffix=".keras") as tmp:
                self.model.save(tmp)
        row = {"round": round_, "steps": int(keras.ops.convert_to_numpy(self.model.optimizer.iterations)),
               "minutes": self.budget.spent / 60, "loss": (logs or {}).get("loss", math.nan),
               "validation": float(score), "best": improved,
               "learning_rate": float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))}
        self.history = pd.concat([history, pd.DataFrame([row])], ignore_index=True)
        write_csv_atomically(self.history[HISTORY_COLUMNS], self.run_dir / "history.csv")
        if round_ - int(self.history.loc[self.history["validation"].idxmin(), "round"]) >= self.patience:
            self.model.stop_training = True
        if self.verbose:
            print(f"{round_line(row, self.budget.exhausted)}  [validated in {time.perf_counter() - started:.0f} s]",
                  flush=True)
        if logs is not None:
            logs["validation"] = float(score)


def model_fingerprint(model):
    """The model's architecture as JSON values: each layer's class and number of parameters."""
    return [[type(layer).__name__, int(layer.count_params())] for layer in model.layers]


def _check_config(run_dir, config):
    """Record ``config`` in ``run_dir/config.json``, or raise if the folder holds a run with another one."""
    path = run_dir / "config.json"
    if not path.exists():
        write_json_atomically(config, path)
        return
    stored = json.loads(path.read_text())
    differ = sorted(k for k in set(stored) | set(config) if stored.get(k) != config.get(k))
    if differ:
        raise ValueError(f"{run_dir} holds a run with other settings ({', '.join(differ)}: "
                         f"{[stored.get(k) for k in differ]} there, {[config.get(k) for k in differ]} now); "
                         "it belongs to another run: choose a new run folder (run_name), or delete it to train again")


def train_resumably(model, batches, validate, run_dir, settings, callbacks=(), keep_rounds=False, verbose=1):
    """Train ``model`` on ``batches`` for ``settings.minutes`` of training time; return the history (a DataFrame). A
    round is ``settings.validate_every`` steps (default: one epoch), after which ``validate(model)`` scores it (lower is
    better; outside the budget). ``best.keras`` keeps the best model, which is loaded back at the end; training stops
    after ``settings.patience`` rounds without a better score, when the budget is spent, or after
    ``settings.max_rounds``. The rate follows ``settings.learning_rate_at(minutes)``. ``callbacks`` join these;
    ``keep_rounds`` keeps each round's weights (``load_round``); ``verbose`` prints a line a round (for a finished
    run, its rounds again, read back). A rerun with other settings, data (``batches.fingerprint()``) or model layers
    than ``config.json`` records is a ``ValueError`` (``run_name`` names a folder for each); after an interruption, a
    rerun resumes at the last backup's step with the budget, best score and patience as they were; a finished run is
    read back."""
    if not isinstance(settings, TrainSettings):
        raise TypeError(f"settings must be a TrainSettings, got {type(settings).__name__}")
    if not callable(validate):
        raise TypeError(f"validate must be a function of the model returning a score, got {type(validate).__name__}")
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    for folder in (run_dir, run_dir / "rounds", run_dir / "backup"):  # what a killed write left
        remove_leftovers(folder, f"{SAVING}*")
    _check_config(run_dir, {**settings.as_dict(), "data": batches.fingerprint(), "model": model_fingerprint(model)})
    done, best = run_dir / "done.json", run_dir / "best.keras"
    if not done.exists():
        budget = TrainingTimeBudget(settings.minutes * 60, run_dir / "budget.json")
        end = RoundEnd(run_dir, validate, budget, settings.patience, keep_rounds, verbose)
        if not budget.exhausted:
            fit_with_backups(model, batches, run_dir / "backup", rounds=settings.max_rounds,
                             steps_per_round=settings.validate_every, backup_every=settings.backup_every,
                             callbacks=[budget, LearningRateByTime(settings.learning_rate_at, budget), *callbacks, end])
        best_score = None if end.history.empty else float(end.history["validation"].min())
        write_json_atomically({"seconds_spent": budget.spent, "rounds": len(end.history),
                               "best_validation": best_score}, done)
    elif verbose:  # a finished run: its rounds as they were printed
        history, spent = read_history(run_dir), json.loads(done.read_text())["seconds_spent"]
        print(f"{run_dir.name} was trained before; its rounds, read back from history.csv:")
        for i, row in history.iterrows():
            print(round_line(row, i == len(history) - 1 and spent >= settings.minutes * 60))
    if best.exists():
        restore_weights(model, best)
    return read_history(run_dir)

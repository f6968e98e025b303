"""Keras callbacks that watch training: steps across a restart, memory, progress, a time budget."""

import ctypes
import functools
import json
import math
import sys
import time
from pathlib import Path

import keras
import pandas as pd
import psutil

from ..checks import check_int, check_number
from ..files import write_json_atomically
from ..machine import peak_rss_bytes, rss_kinds_bytes


class StepCounter(keras.callbacks.Callback):
    """Base of the callbacks that count steps across a restart: ``self.step`` is the global step, the optimizer's
    ``iterations``, which a backup saves and a resumed run restores (Keras' batch count starts again at 0).
    ``self.epoch`` is Keras' epoch (a round). Subclasses call ``super()`` first in the hooks they override."""

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch
        self.step = self.first_step = int(keras.ops.convert_to_numpy(self.model.optimizer.iterations))

    def on_train_batch_end(self, batch, logs=None):
        self.step = self.first_step + batch + 1


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                                                     "fsmblks", "uordblks", "fordblks", "keepcost")]


@functools.cache
def _mallinfo2():
    """glibc's ``mallinfo2``, looked up once; None without glibc (macOS, Windows, musl)."""
    try:
        function = ctypes.CDLL(None).mallinfo2
    except (AttributeError, OSError):
        return None
    function.restype = _MallInfo2
    return function


def malloc_heap_mb():
    """``(in_use, free)``: MB the C heap (glibc malloc, every arena) holds in use and holds free; NaNs without
    glibc. A rise of the RSS with none in use is memory the allocator keeps, not data."""
    info = _mallinfo2() and _mallinfo2()()
    return ((info.uordblks + info.hblkhd) / 1e6, info.fordblks / 1e6) if info else (math.nan, math.nan)


class MemoryRecorder(StepCounter):
    """Record this process's resident memory (RSS) and the training loss every ``every`` steps. ``frame()`` holds a
    sample before each round's first step, every ``every`` global steps and after its last: ``epoch`` (the round),
    ``step``, ``tweets`` (``step * tweets_per_step``, at most ``total_tweets``), ``seconds`` since the first ``fit``,
    ``rss_mb`` (1 MB = 10**6 bytes) split into ``anon_mb`` and ``file_mb`` (``rss_kinds_bytes``), ``heap_in_use_mb``,
    ``heap_free_mb`` (``malloc_heap_mb``) and ``loss``, the mean training loss since the previous sample.
    ``peak_rss_mb`` is the highest sample, ``max_rss_mb`` the process's high-water mark."""

    COLUMNS = ["epoch", "step", "tweets", "seconds", "rss_mb", "anon_mb", "file_mb", "heap_in_use_mb",
               "heap_free_mb", "loss"]

    def __init__(self, every=100, tweets_per_step=64, total_tweets=None):
        super().__init__()
        self.every = check_int("every", every, minimum=1)
        self.tweets_per_step = check_int("tweets_per_step", tweets_per_step, minimum=1)
        self.total_tweets, self.rows, self._process = total_tweets, [], psutil.Process()

    def _sample(self):
        steps, losses = self._fit_steps - self._sampled[0], self._loss_sum - self._sampled[1]
        anon, file_backed = (math.nan if v is None else v / 1e6 for v in rss_kinds_bytes())
        self.rows.append(dict(zip(self.COLUMNS, [
            self.epoch, self.step, min(self.step * self.tweets_per_step, self.total_tweets or math.inf),
            time.perf_counter() - self._started, self._process.memory_info().rss / 1e6, anon, file_backed,
            *malloc_heap_mb(), losses / steps if steps else math.nan])))
        self._sampled = (self._fit_steps, self._loss_sum)

    def on_train_begin(self, logs=None):
        if not self.rows:  # seconds count from the first fit (fit_with_backups fits once a round)
            self._started = time.perf_counter()

    def on_epoch_begin(self, epoch, logs=None):
        super().on_epoch_begin(epoch, logs)
        self._fit_steps, self._loss_sum, self._sampled = 0, 0.0, (0, 0.0)  # Keras restarts its mean
        self._sample()

    def on_train_batch_end(self, batch, logs=None):
        super().on_train_batch_end(batch, logs)
        self._fit_steps = batch + 1
        if logs and "loss" in logs:
            self._loss_sum = float(logs["loss"]) * self._fit_steps  # the running mean times its count
        if self.step % self.every == 0:
            self._sample()

    def on_epoch_end(self, epoch, logs=None):
        if (self.rows[-1]["step"], self.rows[-1]["epoch"]) != (self.step, epoch):
            self._sample()

    def frame(self):
        """The samples as a DataFrame, one row each (``COLUMNS``)."""
        return pd.DataFrame(self.rows, columns=self.COLUMNS)

    @property
    def peak_rss_mb(self):
        return max((row["rss_mb"] for row in self.rows), default=math.nan)

    @property
    def max_rss_mb(self):
        return peak_rss_bytes() / 1e6


class ProgressLines(StepCounter):
    """Show progress about ``updates`` times a round: global step, minutes, loss, tweets per second, as plain lines
    ``step s/t`` (``t``: the step the round ends at) that a notebook or a log stores cleanly, or with ``bar`` (for a
    terminal) one line a round redrawn in place with ``\\r`` and a bar of ``#``, at most 4 times a second. Lines go to
    ``stream`` (default ``sys.stdout``)."""

    def __init__(self, updates=10, tweets_per_step=None, bar=False, stream=None):
        super().__init__()
        self.updates = check_int("updates", updates, minimum=1)
        self.tweets_per_step, self.bar, self.stream = tweets_per_step, bool(bar), stream

    def _write(self, text):
        print(text, end="", file=self.stream or sys.stdout, flush=True)

    def on_epoch_begin(self, epoch, logs=None):
        super().on_epoch_begin(epoch, logs)
        self._total = self.first_step + (self.params.get("steps") or 0)
        self._every = max(1, (self._total - self.first_step) // self.updates)
        self._started, self._drawn = time.perf_counter(), -math.inf
        if epoch == 0 and self.first_step:
            self._write(f"resumed at step {self.first_step:,}\n")

    def _line(self, logs):
        elapsed = time.perf_counter() - self._started
        text = f"step {self.step:>{len(f'{self._total:,}')},}/{self._total:,}  {elapsed / 60:5.1f} min"
        if "loss" in (logs or {}):
            text += f"  loss {float(logs['loss']):.4f}"
        if self.tweets_per_step and elapsed > 0:
            text += f"  {(self.step - self.first_step) * self.tweets_per_step / elapsed:,.0f} tweets/s"
        if not self.bar:
            return f"  {text}\n"
        filled = round(30 * (self.step - self.first_step) / max(self._total - self.first_step, 1))
        return f"\rround {self.epoch + 1} [{'#' * filled}{'.' * (30 - filled)}] {text}"

    def on_train_batch_end(self, batch, logs=None):
        super().on_train_batch_end(batch, logs)
        due = time.perf_counter() - self._drawn >= 0.25 if self.bar else not (self.step - self.first_step) % self._every
        if due or self.step == self._total:
            self._write(self._line(logs))
            self._drawn = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        if self.bar:
            self._write("\n")


class TrainingTimeBudget(keras.callbacks.Callback):
    """Stop training once ``seconds`` of training time are spent, counted across restarts: time inside rounds, up to the
    end of each step (validation and checkpoints between rounds do not count). The seconds spent are kept in
    ``state_path`` (JSON, written atomically) at each round's end and every ``save_every_s`` seconds, so a resumed run
    gets only what is left of its budget (at most ``save_every_s`` seconds go uncounted)."""

    def __init__(self, seconds, state_path, save_every_s=10.0):
        super().__init__()
        self.seconds = check_number("seconds", seconds, minimum=0.0)
        self.save_every_s = check_number("save_every_s", save_every_s, minimum=0.0)
        self.state_path = path = Path(state_path)
        self.spent = float(json.loads(path.read_text())["seconds_spent"]) if path.exists() else 0.0
        self.epoch, self._mark, self._saved_at = 0, None, time.perf_counter()

    @property
    def exhausted(self):
        return self.spent >= self.seconds

    def save(self):
        write_json_atomically({"seconds_spent": self.spent, "epoch": self.epoch}, self.state_path)
        self._saved_at = time.perf_counter()

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch, self._mark = epoch, time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        now = time.perf_counter()
        self.spent, self._mark = self.spent + now - self._mark, now
        if self.exhausted:
            self.model.stop_training = True
        if now - self._saved_at >= self.save_every_s:
            self.save()

    def on_epoch_end(self, epoch, logs=None):
        self.epoch = epoch + 1
        self.save()

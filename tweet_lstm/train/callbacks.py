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
    """Base of every callback that counts steps within an epoch, across a restart.

    A run that resumes mid-epoch starts Keras' batch count at 0 again; ``fit_with_backups``
    sets ``initial_step`` to the steps of the epoch done before the restart, and this
    class adds them back: during an epoch ``self.step`` is the steps done in it so far,
    ``self.epoch`` the epoch. Subclasses call ``super()`` first in the hooks they override.
    """

    initial_step = 0

    def on_train_begin(self, logs=None):
        self.offset = self.initial_step

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch, self.step = epoch, self.offset

    def on_train_batch_end(self, batch, logs=None):
        self.step = self.offset + batch + 1

    def on_epoch_end(self, epoch, logs=None):
        self.offset = 0


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                                                     "fsmblks", "uordblks", "fordblks", "keepcost")]


@functools.cache
def _mallinfo2():
    """glibc's ``mallinfo2`` function, or None where there is no glibc (macOS, Windows, musl);
    looked up once per process."""
    try:
        function = ctypes.CDLL(None).mallinfo2
    except (AttributeError, OSError):
        return None
    function.restype = _MallInfo2
    return function


def malloc_heap_mb():
    """``(in_use, free)``: MB the C heap (glibc malloc, all threads' arenas) holds in use, and holds free.

    Free memory stays resident until malloc gives it back, so a rise in RSS with no rise in
    memory in use is memory the allocator keeps, not data. ``(nan, nan)`` without glibc.
    """
    function = _mallinfo2()
    if function is None:
        return float("nan"), float("nan")
    info = function()
    return (info.uordblks + info.hblkhd) / 1e6, info.fordblks / 1e6


class MemoryRecorder(StepCounter):
    """Record this process's resident memory (RSS) and the training loss, every ``every`` steps.

    ``rows`` (and ``frame()``, a DataFrame) hold one sample per ``every`` steps plus one
    before the first and one after the last step: ``epoch``, ``step`` (steps done in the
    epoch, counting those before a resume), ``tweets`` (``step * tweets_per_step``, capped
    at ``total_tweets``), ``seconds`` since the first ``fit`` began, ``rss_mb`` (1 MB =
    10**6 bytes) and its two kinds, ``anon_mb`` and ``file_mb`` (``rss_kinds_bytes``), ``heap_in_use_mb`` and ``heap_free_mb`` (``malloc_heap_mb``) and ``loss``, the
    mean training loss of the steps since the previous sample (from Keras' running mean; NaN
    before the first step). ``peak_rss_mb`` is the highest
    sample; ``max_rss_mb`` is the process's own high-water mark, which also covers moments
    between samples and all it did before.
    """

    def __init__(self, every=100, tweets_per_step=64, total_tweets=None):
        super().__init__()
        self.every = check_int("every", every, minimum=1)
        self.tweets_per_step = check_int("tweets_per_step", tweets_per_step, minimum=1)
        self.total_tweets = total_tweets
        self._process = psutil.Process()
        self.rows = []

    def _sample(self):
        tweets = self.step * self.tweets_per_step
        if self.total_tweets is not None:
            tweets = min(tweets, self.total_tweets)
        steps, total = self._fit_steps - self._sampled[0], self._loss_sum - self._sampled[1]
        self.rows.append({"epoch": self.epoch, "step": self.step, "tweets": tweets,
                          "seconds": time.perf_counter() - self._started,
                          "rss_mb": self._process.memory_info().rss / 1e6,
                          **{key: math.nan if v is None else v / 1e6
                             for key, v in zip(("anon_mb", "file_mb"), rss_kinds_bytes())},
                          **dict(zip(("heap_in_use_mb", "heap_free_mb"), malloc_heap_mb())),
                          "loss": total / steps if steps else float("nan")})
        self._sampled = (self._fit_steps, self._loss_sum)

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        if not self.rows:  # seconds count from the first fit (fit_with_backups fits per epoch)
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
        if self.rows[-1]["step"] != self.step or self.rows[-1]["epoch"] != epoch:
            self._sample()
        super().on_epoch_end(epoch, logs)

    def frame(self):
        """The samples as a DataFrame (columns epoch, step, tweets, seconds, rss_mb, anon_mb, file_mb,
        heap_in_use_mb, heap_free_mb, loss)."""
        return pd.DataFrame(self.rows, columns=["epoch", "step", "tweets", "seconds", "rss_mb", "anon_mb", "file_mb",
                                                "heap_in_use_mb", "heap_free_mb", "loss"])

    @property
    def peak_rss_mb(self):
        return max((row["rss_mb"] for row in self.rows), default=float("nan"))

    @property
    def max_rss_mb(self):
        return peak_rss_bytes() / 1e6


def _loss_and_speed(logs, steps, tweets_per_step, elapsed):
    """The end of a progress line: ``  loss L`` if ``logs`` has it, ``  R tweets/s`` over ``steps``
    steps of ``tweets_per_step`` if that is known and time has passed."""
    text = f"  loss {float(logs['loss']):.4f}" if "loss" in (logs or {}) else ""
    if tweets_per_step and elapsed > 0:
        text += f"  {steps * tweets_per_step / elapsed:,.0f} tweets/s"
    return text


class ProgressLines(StepCounter):
    """Print one plain line about ``updates`` times an epoch: step, loss, tweets per second.

    Keras' ``verbose=1`` bar redraws at every step with colour codes and backspaces, which
    fill a notebook's stored output; these lines store cleanly. ``total_steps`` is the
    epoch's length (default: Keras' count, plus the steps before a resume).
    """

    def __init__(self, updates=10, tweets_per_step=None, total_steps=None):
        super().__init__()
        self.updates = check_int("updates", updates, minimum=1)
        self.tweets_per_step, self.total_steps = tweets_per_step, total_steps

    def on_epoch_begin(self, epoch, logs=None):
        super().on_epoch_begin(epoch, logs)
        self._total = self.total_steps or (self.params.get("steps") or 0) + self.offset
        self._every = max(1, self._total // self.updates)
        self._first, self._started = self.step, time.perf_counter()
        resumed = f" (resumed after step {self.step:,})" if self.step else ""
        print(f"epoch {epoch + 1}: {self._total:,} steps{resumed}", flush=True)

    def on_train_batch_end(self, batch, logs=None):
        super().on_train_batch_end(batch, logs)
        if self.step % self._every and self.step != self._total:
            return
        elapsed = time.perf_counter() - self._started
        line = f"  step {self.step:>{len(f'{self._total:,}')},}/{self._total:,}  {elapsed / 60:5.1f} min"
        print(line + _loss_and_speed(logs, self.step - self._first, self.tweets_per_step, elapsed), flush=True)


class ProgressBar(StepCounter):
    """On a terminal: one line per epoch, redrawn in place (``\\r``) at most ``per_second``
    times a second: a bar, the step, minutes, loss and tweets per second.

    Use ``ProgressLines`` where output is stored (a notebook, a log file): a redrawn line
    leaves carriage returns there. ``stream`` is where the line goes (default ``sys.stdout``).
    """

    def __init__(self, tweets_per_step=None, width=30, per_second=4.0, stream=None):
        super().__init__()
        self.tweets_per_step, self.width = tweets_per_step, check_int("width", width, minimum=1)
        self.per_second = check_number("per_second", per_second, minimum=0.0)
        self.stream = stream

    def on_epoch_begin(self, epoch, logs=None):
        super().on_epoch_begin(epoch, logs)
        self._total = (self.params.get("steps") or 0) + self.offset
        self._first, self._started, self._drawn = self.step, time.perf_counter(), -math.inf
        self._logs = {}

    def _draw(self):
        elapsed = time.perf_counter() - self._started
        done = min(self.step / self._total, 1.0) if self._total else 0.0
        filled = round(done * self.width)
        line = (f"\repoch {self.epoch + 1} [{'#' * filled}{'.' * (self.width - filled)}] "
                f"{self.step:,}/{self._total:,}  {elapsed / 60:4.1f} min")
        stream = self.stream or sys.stdout
        stream.write(line + _loss_and_speed(self._logs, self.step - self._first, self.tweets_per_step, elapsed))
        stream.flush()
        self._drawn = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        super().on_train_batch_end(batch, logs)
        self._logs = logs or {}
        if self.per_second and time.perf_counter() - self._drawn >= 1 / self.per_second:
            self._draw()

    def on_epoch_end(self, epoch, logs=None):
        self._draw()
        (self.stream or sys.stdout).write("\n")
        super().on_epoch_end(epoch, logs)


class TrainingTimeBudget(keras.callbacks.Callback):
    """Stop training once ``seconds`` of training time are spent, counted across restarts.

    Training time is the time inside epochs up to the end of each step; what happens
    between epochs (validation, checkpoints) is not counted. The seconds spent are kept in
    ``state_path`` (JSON, written atomically) at every epoch end and at least every
    ``save_every_s`` seconds between, so a run interrupted mid-epoch and resumed gets only
    what is left of its budget (at most ``save_every_s`` seconds go uncounted).
    """

    def __init__(self, seconds, state_path, save_every_s=10.0):
        super().__init__()
        self.seconds = check_number("seconds", seconds, minimum=0.0)
        self.save_every_s = check_number("save_every_s", save_every_s, minimum=0.0)
        self.state_path = Path(state_path)
        self.spent = 0.0
        if self.state_path.exists():
            self.spent = float(json.loads(self.state_path.read_text())["seconds_spent"])
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
        self.spent += now - self._mark
        self._mark = now
        if self.exhausted:
            self.model.stop_training = True
        if now - self._saved_at >= self.save_every_s:
            self.save()

    def on_epoch_end(self, epoch, logs=None):
        self.epoch = epoch + 1
        self.save()

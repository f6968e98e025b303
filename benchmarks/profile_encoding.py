"""Profile the tweet encoders: eager one-hot vs batches, one fresh Python process per measurement.

    python benchmarks/profile_encoding.py --grid smoke                  # a few tiny points, < 1 min
    python benchmarks/profile_encoding.py --grid standard --out benchmarks/results/profile_encoding.jsonl

Each measurement runs in its own child process. The child imports only the modules it
measures (NumPy, pandas and the encoders, no TensorFlow), reads the first ``n_tweets`` of
``data/tweets.csv``, cleans the text with ``filter_text_for_handles`` and, when the file has
fewer, repeats its 100,000 real tweets until it has ``n_tweets`` (so 1,000,000 tweets are
the same 100,000 tweets ten times over). Only then does it take its baseline: the peak
resident set size (RSS) is reset to the current RSS (``/proc/self/clear_refs``), the work runs once, and
``peak_mb`` is the new peak minus that baseline, i.e. the encoder's own memory and not the
interpreter's, the libraries' or the tweets'. (Before the baseline the encoder is warmed up on
one tweet, so lazy imports are not counted, and malloc's freed memory is handed back.) The time
is the best of up to ``--repeat`` runs in the same child, fewer for points that take more than
a few seconds. Memory is in MiB (2**20 bytes), as ``%memit`` reports it.

Kinds of measurement (window 64, step 3, tweets padded to 160 characters: 32 windows a tweet):

* ``eager``: ``convert_tweet_to_xy`` on all tweets at once (the seed's way), ``loop`` or
  ``vectorized``, ``float64`` or ``bool``. The peak is predicted from the array sizes (``x``
  and ``y``, plus the loop's per-tweet bool pieces); when it is over ``--cap-mb`` the point is
  not run: a line with ``"predicted": true`` gives the predicted peak instead.
* ``generator``: one full pass of ``convert_tweet_to_xy_generator`` (64 tweets a batch),
  each one-hot batch dropped as soon as it is made. The loop generator stops at 100,000
  tweets (at 1,000,000 it would take several minutes); the vectorized one goes to 1,000,000.
* ``windows_ids``: the vectorized path stopped before the one-hot step: each batch as
  uint8 character ids cut into windows. It shows what vectorising the encoding buys.
* ``ids``: ``encode_tweets_to_ids(trim=True)`` per batch of 64: whole tweets as integer-id
  rows, the input an Embedding layer takes instead of one-hot windows.

Every measurement prints one JSON line (and appends it to ``--out``). Lines of one
invocation share a ``run`` timestamp so repeated runs in one file can be told apart.
"""

import argparse
import ctypes
import gc
import json
import math
import os
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data" / "tweets.csv"
LENGTH, WINDOW, STEP, BATCH = 160, 64, 3, 64
N_CHARS = 93
HEADLINE_N = 2048
SMOKE_N = 128
LOOP_GENERATOR_MAX_N = 100_000
REPEAT_BUDGET_S = 30.0
"""A point is timed again only while its runs so far plus one more fit in this many seconds."""
ITEMSIZE = {"bool": 1, "float32": 4, "float64": 8}


def windows_per_tweet(length=LENGTH, window=WINDOW, step=STEP):
    """Windows cut from one padded tweet (as ``windows_per_tweet`` in ``tweet_lstm.store.windows``)."""
    return math.ceil((length - window) / step)


def eager_output_mb(n_tweets, dtype, window=WINDOW, step=STEP):
    """Size in MiB of the eager ``x`` ``(m, window, 93)`` and ``y`` ``(m, 93)`` for ``n_tweets``."""
    m = n_tweets * windows_per_tweet(LENGTH, window, step)
    return m * (window + 1) * N_CHARS * ITEMSIZE[dtype] / 2**20


def eager_predicted_mb(n_tweets, dtype, method, window=WINDOW, step=STEP):
    """Predicted eager peak in MiB: the output ``x`` and ``y``; the loop also holds every tweet's
    bool one-hot pieces until it has copied them into the output (``convert_tweet_to_xy_loop``)."""
    pieces = eager_output_mb(n_tweets, "bool", window, step) if method == "loop" else 0
    return eager_output_mb(n_tweets, dtype, window, step) + pieces


# ---------------------------------------------------------------------------
# The grids: which points to measure
# ---------------------------------------------------------------------------

def point(kind, method, dtype, n, group):
    """One measurement to make: a dict the child understands."""
    return {"kind": kind, "method": method, "dtype": dtype, "n_tweets": n, "group": group,
            "window": WINDOW, "step": STEP, "length": LENGTH, "batch_size": BATCH}


def headline_points():
    """The seed's experiment at exactly 2,048 tweets, window 64, step 3, with every variant."""
    pts = [point("eager", m, d, HEADLINE_N, "headline")
           for d in ("float64", "bool") for m in ("loop", "vectorized")]
    pts += [point("generator", m, d, HEADLINE_N, "headline")
            for d in ("float64", "bool") for m in ("loop", "vectorized")]
    pts += [point("windows_ids", "vectorized", "uint8", HEADLINE_N, "headline"),
            point("ids", "vectorized", "uint8", HEADLINE_N, "headline")]
    return pts


def grid(name):
    """The list of points for ``--grid standard`` or ``--grid smoke``.

    ``smoke`` is the headline's kinds at 128 tweets (two batches), the streaming kinds also
    at 1,024 tweets, and one predicted eager point. ``standard`` is the headline at 2,048
    tweets, then 1,000 / 10,000 / 100,000 / 1,000,000 tweets for every kind.
    """
    if name == "smoke":
        pts = [point("eager", "loop", "float64", SMOKE_N, "smoke"),
               point("eager", "vectorized", "bool", SMOKE_N, "smoke"),
               point("eager", "vectorized", "bool", 1_000_000, "smoke")]
        pts += [point("generator", m, "bool", SMOKE_N, "smoke") for m in ("loop", "vectorized")]
        pts += [point(kind, "vectorized", "uint8", SMOKE_N, "smoke") for kind in ("windows_ids", "ids")]
        pts += [point(kind, "vectorized", d, 8 * SMOKE_N, "smoke")
                for kind, d in (("generator", "bool"), ("ids", "uint8"))]
        return pts
    sizes = (1_000, 10_000, 100_000, 1_000_000)
    pts = headline_points()
    pts += [point("eager", m, d, n, "scaling")
            for m in ("loop", "vectorized") for d in ("float64", "bool") for n in sizes]
    pts += [point("generator", m, "bool", n, "scaling")
            for m in ("loop", "vectorized") for n in sizes
            if m == "vectorized" or n <= LOOP_GENERATOR_MAX_N]
    pts += [point(kind, "vectorized", "uint8", n, "scaling")
            for kind in ("windows_ids", "ids") for n in sizes]
    return pts


# ---------------------------------------------------------------------------
# The child: one measurement in a fresh process
# ---------------------------------------------------------------------------

class PeakMeter:
    """Peak RSS of this process above a baseline taken when the meter is made.

    On Linux the kernel's high-water mark is reset to the current RSS (write ``5`` to
    ``/proc/self/clear_refs``) and read back from ``VmHWM``: exact, nothing is missed.
    Elsewhere a thread samples RSS every millisecond, and ``ru_maxrss`` is used when the
    work raised it (``ru_maxrss`` is the peak since the process started, baseline included).
    """

    def __init__(self):
        import psutil
        from tweet_lstm.machine import vmhwm_bytes  # imported before the reset, so its memory is baseline
        self._process, self._vmhwm_bytes = psutil.Process(), vmhwm_bytes
        try:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")
            self.method = "vmhwm_reset"
            self.baseline = self._vmhwm()
        except OSError:
            self.method = "sampled"
            self.baseline = self._process.memory_info().rss
            self._ru_before = self._ru_maxrss()
            self._sampled = self.baseline
            self._stop = threading.Event()
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()

    def _vmhwm(self):
        peak = self._vmhwm_bytes()
        if peak is None:
            raise OSError("no VmHWM in /proc/self/status")
        return peak

    @staticmethod
    def _ru_maxrss():
        scale = 1 if sys.platform == "darwin" else 1024  # bytes on macOS, KiB on Linux
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale

    def _sample(self):
        while not self._stop.wait(0.001):
            self._sampled = max(self._sampled, self._process.memory_info().rss)

    def peak_mb(self):
        """Peak RSS since the meter was made, minus the baseline, in MiB."""
        if self.method == "vmhwm_reset":
            peak = self._vmhwm()
        else:
            self._stop.set()
            self._thread.join()
            peak = max(self._sampled, self._process.memory_info().rss)
            ru_after = self._ru_maxrss()
            if ru_after > self._ru_before:  # the work raised the all-time peak: exact
                peak = max(peak, ru_after)
        return (peak - self.baseline) / 2**20


def load_texts(n_tweets):
    """The first ``n_tweets`` cleaned real tweets, the whole file repeated if it has fewer.

    Returns ``(texts, source_tweets, repeats)``: the list of str, how many distinct real
    tweets it holds and how many times they are used over.
    """
    sys.path.insert(0, str(ROOT))
    from tweet_lstm.data.text import filter_text_for_handles
    from tweet_lstm.data.tweet_csv import iter_tweet_data
    texts = []
    for chunk in iter_tweet_data(DATA, chunksize=min(n_tweets, 100_000)):
        texts += filter_text_for_handles(chunk["text"]).tolist()
        if len(texts) >= n_tweets:
            return texts[:n_tweets], n_tweets, 1
    repeats = math.ceil(n_tweets / len(texts))
    return (texts * repeats)[:n_tweets], len(texts), repeats


def make_work(spec, texts):
    """A function that does the measured work once and returns ``(windows, tweets)`` encoded.

    It imports only the modules it measures (NumPy, pandas and the encoders): no TensorFlow.
    """
    import numpy as np
    import pandas as pd
    from tweet_lstm.store import generators, ids as id_rows, windows as one_hot
    kind, method = spec["kind"], spec["method"]
    length, window, step, batch = spec["length"], spec["window"], spec["step"], spec["batch_size"]
    dtype = {"bool": bool, "float32": np.float32, "float64": np.float64}.get(spec["dtype"])
    n_batches = len(texts) // batch

    if kind == "eager":
        frame = pd.DataFrame({"text": texts})

        def work():
            x, y = one_hot.convert_tweet_to_xy(frame, length, window, step, method=method, dtype=dtype)
            return len(x), len(frame)
    elif kind == "generator":
        frame = pd.DataFrame({"text": texts})

        def work():
            batches = generators.convert_tweet_to_xy_generator(frame, length, window, step, batch_size=batch,
                                                               method=method, dtype=dtype)
            windows = 0
            for _ in range(n_batches):
                x, y = next(batches)
                windows += len(x)
            return windows, n_batches * batch
    elif kind == "windows_ids":
        def work():
            windows = 0
            for start in range(0, n_batches * batch, batch):
                padded = one_hot.encode_padded_tweets(texts[start:start + batch], length)
                x_ids, y_ids = one_hot.strided_windows(padded, window, step)
                x_ids = x_ids.reshape(-1, window)  # (windows, window) uint8: copies the strided view
                windows += len(x_ids)
            return windows, n_batches * batch
    elif kind == "ids":
        def work():
            for start in range(0, n_batches * batch, batch):
                ids = id_rows.encode_tweets_to_ids(texts[start:start + batch], length=length, trim=True)
                inputs, targets = ids[:, :-1], ids[:, 1:]
            return None, n_batches * batch
    else:
        raise ValueError(f"unknown kind {kind!r}")
    return work


def release_free_heap():
    """Hand memory that malloc has freed but kept back to the system (glibc only), so that
    loading the data leaves no resident free space for the measured work to reuse unseen."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def measure(spec, repeat):
    """Run one point in this process and return its result dict (the child's job)."""
    start = time.perf_counter()
    texts, source_tweets, repeats = load_texts(spec["n_tweets"])
    work = make_work(spec, texts)
    make_work(dict(spec, batch_size=1), texts[:1])()  # warm up on one tweet: lazy imports, caches
    del texts
    gc.collect()
    release_free_heap()
    setup_s = time.perf_counter() - start

    meter = PeakMeter()
    t0 = time.perf_counter()
    windows, tweets = work()
    times = [time.perf_counter() - t0]
    peak_mb = meter.peak_mb()
    while len(times) < repeat and sum(times) + times[-1] <= REPEAT_BUDGET_S:
        t0 = time.perf_counter()
        work()
        times.append(time.perf_counter() - t0)
    best = min(times)
    return dict(spec, seconds=best, runs=len(times), seconds_all=times, peak_mb=peak_mb,
                baseline_mb=meter.baseline / 2**20, peak_method=meter.method,
                windows=windows, tweets_encoded=tweets,
                windows_per_s=None if windows is None else windows / best,
                tweets_per_s=tweets / best, source_tweets=source_tweets, repeats=repeats,
                setup_s=setup_s, predicted=False)


# ---------------------------------------------------------------------------
# The parent: predict or spawn, collect JSON lines
# ---------------------------------------------------------------------------

def predicted_eager(spec, cap_mb):
    """The predicted line for an eager point whose peak would be over ``cap_mb``, else None."""
    out_mb = eager_output_mb(spec["n_tweets"], spec["dtype"], spec["window"], spec["step"])
    peak = eager_predicted_mb(spec["n_tweets"], spec["dtype"], spec["method"], spec["window"], spec["step"])
    if peak <= cap_mb:
        return None
    return dict(spec, seconds=None, runs=0, seconds_all=[], peak_mb=peak, output_mb=out_mb,
                windows=spec["n_tweets"] * windows_per_tweet(spec["length"], spec["window"], spec["step"]),
                tweets_encoded=spec["n_tweets"], windows_per_s=None, tweets_per_s=None, predicted=True,
                note=f"not run: predicted peak {peak:,.0f} MiB is over the cap of {cap_mb:,.0f} MiB")


def run_child(spec, repeat):
    """Measure ``spec`` in a fresh Python process and return its result dict."""
    env = dict(os.environ)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", json.dumps(spec),
           "--repeat", str(repeat)]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
    if done.returncode != 0:
        raise RuntimeError(f"measurement {spec} failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_grid(points, repeat, cap_mb, out=None):
    """Measure (or predict) every point, print each JSON line and append it to ``out``."""
    run_id = time.strftime("%Y-%m-%dT%H:%M:%S")
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    for spec in points:
        spec = dict(spec, run=run_id)
        result = None
        if spec["kind"] == "eager":
            result = predicted_eager(spec, cap_mb)
        if result is None:
            result = run_child(spec, repeat)
            if spec["kind"] == "eager":
                n, dtype, window, step = spec["n_tweets"], spec["dtype"], spec["window"], spec["step"]
                result["output_mb"] = eager_output_mb(n, dtype, window, step)
                result["predicted_mb"] = eager_predicted_mb(n, dtype, spec["method"], window, step)
        line = json.dumps(result)
        print(line, flush=True)
        if out is not None:
            with open(out, "a", encoding="utf-8") as f:
                f.write(line + "\n")
    total = time.perf_counter() - start
    print(f"{len(points)} points in {total:.1f} s", file=sys.stderr, flush=True)
    return total


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grid", choices=("standard", "smoke"), default="smoke")
    parser.add_argument("--out", type=Path, help="append the JSON lines to this file too")
    parser.add_argument("--repeat", type=int, default=3, help="time = best of this many runs (default 3)")
    parser.add_argument("--cap-mb", type=float, default=4096,
                        help="eager points predicted to peak above this many MiB are not run (default 4096)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    if args.child:
        print(json.dumps(measure(json.loads(args.child), args.repeat)), flush=True)
        return 0
    run_grid(grid(args.grid), args.repeat, args.cap_mb, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())

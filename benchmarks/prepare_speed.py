"""Time ``prepare_tweets`` against ``pd.read_csv`` of the same CSV: how many reads a prepare costs.

    python benchmarks/prepare_speed.py                      # builds data/tweets_1024000.csv once
    python benchmarks/prepare_speed.py --csv big.csv --repeat 3

The CSV (unless ``--csv`` names one) is the training tweets of ``data/tweets.csv`` repeated to
``--rows`` rows (``repeat_tweets_csv``). Each round reads it with ``pd.read_csv`` under the CSV
contract's options, prepares it into a fresh store folder (nothing reused) and opens that store;
it prints one line of seconds, wall clock and CPU time of this process, and the ratio prepare /
read_csv of each. Run it on an idle machine: on a shared one the wall-clock figures vary from round
to round (the spread of the rounds shows how much); the CPU times vary less.
"""

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tweet_lstm.data.tweet_csv import read_csv_options, repeat_tweets_csv  # noqa: E402
from tweet_lstm.store.prepare import prepare_tweets  # noqa: E402
from tweet_lstm.store.store import TweetStore  # noqa: E402

DATA = ROOT / "data" / "tweets.csv"


def seconds(work):
    """``((wall seconds, CPU seconds), result)`` of calling ``work()`` once."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = work()
    return (time.perf_counter() - wall, time.process_time() - cpu), result


def spread(values):
    return f"{min(values):.1f} to {max(values):.1f}"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--csv", type=Path, help="the CSV to time (default: data/tweets_<rows>.csv, built once)")
    parser.add_argument("--rows", type=int, default=1_024_000, help="rows of the CSV built from data/tweets.csv")
    parser.add_argument("--repeat", type=int, default=2, help="rounds of read_csv, prepare and open")
    args = parser.parse_args(argv)
    csv_path = args.csv or ROOT / "data" / f"tweets_{args.rows}.csv"
    if not csv_path.exists():
        print(f"building {csv_path}: the training tweets of {DATA} repeated to {args.rows:,} rows", flush=True)
        repeat_tweets_csv(DATA, csv_path, args.rows, split="train")
    print(f"{csv_path}: {csv_path.stat().st_size / 2**20:,.0f} MiB")
    ratios = []
    for round_ in range(1, args.repeat + 1):
        read_s, frame = seconds(lambda: pd.read_csv(csv_path, **read_csv_options()))
        del frame
        folder = Path(tempfile.mkdtemp(prefix="prepare_speed-"))
        try:
            prepare_s, store = seconds(lambda: prepare_tweets(csv_path, folder / "store"))
            open_s, _ = seconds(lambda: TweetStore.open(folder / "store"))
        finally:
            shutil.rmtree(folder)
        ratios.append([prepare / read for prepare, read in zip(prepare_s, read_s)])
        print(f"round {round_} (wall, cpu seconds): read_csv {read_s[0]:.2f}, {read_s[1]:.2f}; prepare_tweets "
              f"{prepare_s[0]:.2f}, {prepare_s[1]:.2f} ({len(store):,} tweets); open {open_s[0]:.3f}, {open_s[1]:.3f}; "
              f"prepare / read_csv {ratios[-1][0]:.1f}, {ratios[-1][1]:.1f}", flush=True)
    walls, cpus = zip(*ratios)
    print(f"prepare / read_csv over {len(ratios)} rounds: wall {spread(walls)}, cpu {spread(cpus)}")


if __name__ == "__main__":
    main()

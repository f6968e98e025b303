"""The ``make-data`` command: build ``data/tweets.csv`` from TweetEval emoji or Sentiment140.

    python data_load_utils.py make-data [--dataset tweeteval|sentiment140] [--out CSV]
                                        [--source DIR_OR_FILE] [--base-url URL]

(or ``python -m tweet_lstm.make_data make-data ...``, which does not import TensorFlow).
On success it prints one summary line and returns 0; on an expected failure it prints
``make-data: <message>`` to stderr and returns 1.
"""

import argparse
import os
import sys

from .data import sentiment140, tweeteval
from .data.download import DataError

DATASETS = {"tweeteval": tweeteval, "sentiment140": sentiment140}


def build_parser():
    """Return the argument parser; the ``--source`` default is ``$TWEETS_SOURCE`` as it is now."""
    parser = argparse.ArgumentParser(prog="data_load_utils.py", description="Build the tweets CSV.")
    sub = parser.add_subparsers(dest="command", required=True)
    make = sub.add_parser("make-data", help="build data/tweets.csv (download, or copy from $TWEETS_SOURCE)")
    make.add_argument("--dataset", choices=tuple(DATASETS), default="tweeteval",
                      help="tweeteval: text,emoji,split (100,000 tweets); "
                           "sentiment140: text,polarity,split (1,600,000 tweets)")
    make.add_argument("--out", default=None,
                      help=f"the CSV to write (default: {tweeteval.OUT_PATH}, "
                           f"or {sentiment140.OUT_PATH} for sentiment140)")
    make.add_argument("--source", default=os.environ.get("TWEETS_SOURCE") or None,
                      help="local folder (or, for sentiment140, file) to read instead of downloading "
                           "(default: $TWEETS_SOURCE)")
    make.add_argument("--base-url", default=None,
                      help="where to download from (default: the dataset's public address)")
    return parser


def describe(summary):
    """Return the one-line summary of a dataset's ``make_csv`` result."""
    splits = ", ".join(f"{split} {rows:,}" for split, rows in summary["splits"].items())
    total = sum(summary["splits"].values())
    return f"wrote {summary['path']}: {total:,} tweets ({splits}); " + "; ".join(summary["notes"])


def main(argv=None):
    """Run ``make-data`` with ``argv`` (default: ``sys.argv[1:]``); return the exit status, 0 or 1."""
    args = build_parser().parse_args(argv)
    dataset = DATASETS[args.dataset]
    try:
        summary = dataset.make_csv(args.out or dataset.OUT_PATH, source=args.source,
                                   base_url=args.base_url or dataset.BASE_URL)
    except DataError as err:
        print(f"make-data: {err}", file=sys.stderr)
        return 1
    except OSError as err:
        print(f"make-data: {err}: check that the path exists and that you may read or write it",
              file=sys.stderr)
        return 1
    print(describe(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())

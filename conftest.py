"""Shared fixtures: the real tweets (``data/tweets.csv``), and markers for the test tiers.

Tests that use ``data/tweets.csv`` skip without it, except under ``make test``
(``REQUIRE_DATA=1``), where they fail. ``make check`` runs the fast tier: every test not
marked ``slow`` (notebook smoke runs and training in subprocesses are slow).
"""

import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # TensorFlow's C++ log: fatal errors only

ROOT = Path(__file__).resolve().parent
DATA = ROOT / "data" / "tweets.csv"
SHARED = ROOT.parent / "shared" / "data"


def require_data():
    if not DATA.exists():
        message = f"{DATA} is missing: run `make data` (with TWEETS_SOURCE set offline)"
        if os.environ.get("REQUIRE_DATA") == "1":
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="session")
def real_tweets():
    """``data/tweets.csv`` as ``read_tweet_data`` reads it."""
    require_data()
    from tweet_lstm.tweet_csv import read_tweet_data
    return read_tweet_data(DATA)


@pytest.fixture(scope="session")
def clean_2048(real_tweets):
    """The first 2,048 real tweets with handles and out-of-set characters removed (the seed's filter)."""
    from tweet_lstm.text import filter_text_for_handles
    head = real_tweets.head(2048)
    return head.assign(text=filter_text_for_handles(head["text"])).reset_index(drop=True)

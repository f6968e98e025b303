"""Shared fixtures: the real tweets (``data/tweets.csv``), and the test tiers.

Tests that use ``data/tweets.csv`` skip without it, except under ``make test``
(``REQUIRE_DATA=1``), where they fail. ``make check`` runs the fast tier
(``FAST_TIER=1``): every test not marked ``tf`` (needs TensorFlow or Keras) or ``slow``
(notebook smoke runs, training in subprocesses, long runs on real tweets). In the fast
tier, importing TensorFlow or Keras is an ImportError that names the test to mark, so the
tier can never load them; property tests run a tenth of their examples (``examples``).
"""

import importlib.abc
import os
import sys
from pathlib import Path

import pytest

FAST_TIER = os.environ.get("FAST_TIER") == "1"
TENSORFLOW_PACKAGES = ("tensorflow", "keras", "tf_keras")


class _NoTensorFlow(importlib.abc.MetaPathFinder):
    """A finder that refuses TensorFlow and Keras: installed first on ``sys.meta_path``."""

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in TENSORFLOW_PACKAGES:
            raise ImportError(f"the fast tier (make check) imports no TensorFlow, but {name} was imported: "
                              "mark the test that needs it with @pytest.mark.tf")
        return None


if FAST_TIER:
    sys.meta_path.insert(0, _NoTensorFlow())


def pytest_ignore_collect(collection_path, config):
    """In the fast tier, leave out the test files whose every test needs TensorFlow (``pytestmark``)."""
    if FAST_TIER and collection_path.suffix == ".py" and collection_path.name.startswith("test_"):
        return "\npytestmark = pytest.mark.tf" in collection_path.read_text() or None
    return None


def examples(n):
    """How many examples a property test draws: ``n`` under ``make test``, a tenth in the fast tier."""
    return max(10, n // 10) if FAST_TIER else n


def pytest_sessionfinish(session, exitstatus):
    if FAST_TIER:
        loaded = sorted(name for name in sys.modules if name.split(".")[0] in TENSORFLOW_PACKAGES)
        if loaded:
            print(f"\nfast tier: TensorFlow was imported ({loaded[:3]})")
            session.exitstatus = 1
        else:
            print("\nfast tier: TensorFlow and Keras were never imported")

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
    from tweet_lstm.data.tweet_csv import read_tweet_data
    return read_tweet_data(DATA)


@pytest.fixture(scope="session")
def clean_2048(real_tweets):
    """The first 2,048 real tweets with handles and out-of-set characters removed (the seed's filter)."""
    from tweet_lstm.data.text import filter_text_for_handles
    head = real_tweets.head(2048)
    return head.assign(text=filter_text_for_handles(head["text"])).reset_index(drop=True)

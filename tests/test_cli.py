"""``python -m tweet_lstm train`` and ``generate`` on a small CSV, and their errors."""

import subprocess
import sys

import pandas as pd
import pytest

from tests.helpers import ROOT, SUBPROCESS_ENV, tweets_frame


def tweet_lstm(*args, timeout=300):
    """Run ``python -m tweet_lstm ARGS`` from the repository; the CompletedProcess."""
    return subprocess.run([sys.executable, "-m", "tweet_lstm", *map(str, args)], cwd=ROOT, env=SUBPROCESS_ENV,
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli")
    frame = tweets_frame(120)
    frame["split"] = ["val" if i % 10 == 0 else "train" for i in range(len(frame))]
    frame.to_csv(folder / "tweets.csv", index=False)
    done = tweet_lstm("train", folder / "tweets.csv", "--minutes", 0.05, "--units", 8, "--out", folder / "model")
    return folder, done


@pytest.mark.slow
def test_train_writes_a_model_and_reports_validation_bits_per_character(trained):
    folder, done = trained
    assert done.returncode == 0, done.stderr
    assert "validation:" in done.stdout and "bits per character" in done.stdout
    assert (folder / "model" / "model.keras").is_file() and (folder / "model" / "store" / "manifest.json").is_file()
    again = tweet_lstm("train", folder / "tweets.csv", "--minutes", 0.05, "--units", 8, "--out", folder / "model")
    assert again.returncode == 0 and "validation:" in again.stdout, "a finished run is reused, not trained again"


@pytest.mark.slow
def test_generate_writes_n_tweets_that_start_with_the_start_text_for_an_emoji(trained):
    folder, _ = trained
    done = tweet_lstm("generate", folder / "model", "--n", 3, "--start", "tweet", "--emoji", "🔥", "--seed", 1)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 3 and all(line.startswith("tweet") for line in lines)
    again = tweet_lstm("generate", folder / "model", "--n", 3, "--start", "tweet", "--emoji", "🔥", "--seed", 1)
    assert again.stdout == done.stdout, "the same seed writes the same tweets"


@pytest.mark.parametrize("args, message", [
    (["train", "missing.csv", "--minutes", "1", "--out", "m"], "missing.csv: no such file"),
    (["train", "{no_text}", "--minutes", "1", "--out", "m"], "missing column(s) ['text']"),
    (["train", "{no_text}", "--minutes", "0", "--out", "m"], "--minutes: must be more than 0"),
    (["train", "{no_text}", "--out", "m"], "--minutes"),
    (["generate", "nowhere"], "holds no trained model"),
])
def test_bad_arguments_end_with_a_clear_message_and_exit_code_2_not_a_traceback(tmp_path, args, message):
    no_text = tmp_path / "no_text.csv"
    pd.DataFrame({"tweet": ["a", "b"]}).to_csv(no_text, index=False)
    args = [str(no_text) if a == "{no_text}" else str(tmp_path / a) if a in ("missing.csv", "m", "nowhere") else a
            for a in args]
    done = tweet_lstm(*args, timeout=120)
    assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr

"""Helpers for training a character-level LSTM on tweets without running out of memory.

The notebooks import this module as ``util``. It is a table of contents: each name below
lives in a small module of the ``tweet_lstm`` package, in the order the data flows.
Reading, cleaning, encoding and the seed's generators need only NumPy and pandas; the
names that need TensorFlow import it the first time they are used, so
``import data_load_utils`` stays fast.

Build the data with ``python -m tweet_lstm data`` (``python data_load_utils.py make-data``
is the same command under its old name).
"""

import importlib
import sys

# 1. Get the data: TweetEval emoji (or Sentiment140) to data/tweets.csv -------------
from tweet_lstm.data.tweeteval import make_csv as make_tweeteval_csv  # noqa: F401
from tweet_lstm.data.sentiment140 import make_csv as make_sentiment140_csv  # noqa: F401
from tweet_lstm.files import write_csv_atomically, write_json_atomically  # noqa: F401

# 2. Read and clean ------------------------------------------------------------------
from tweet_lstm.data.tweet_csv import iter_tweet_data, read_tweet_data, repeat_tweets_csv  # noqa: F401
from tweet_lstm.data.text import (CHARACTERS, LATIN_FOLDING, PUNCTUATION_FOLDING, clean_tweet_text, drop_empty_tweets,  # noqa: F401
                             filter_text_for_handles,
                             filter_tweets_min_count, get_emojis_list, get_unique_chars_list,
                             get_universal_chars_list, pad_text)

# 3. Characters and ids ----------------------------------------------------------------
from tweet_lstm.store.ids import (END_ID, ID_VOCAB, PAD_ID, SPECIAL_TOKENS, START_ID, UNK_ID,  # noqa: F401
                            decode_ids_to_text, encode_tweets_to_ids)

# 4. The seed's windows and one-hot arrays, loop and vectorised --------------------------
from tweet_lstm.store.windows import (METHODS, ONE_HOT_DTYPES, convert_tweet_to_xy, convert_tweet_to_xy_loop,  # noqa: F401
                                convert_tweet_to_xy_vectorized, emoji_one_hot, encode_padded_tweets, one_hot_windows,
                                padded_from_id_rows,
                                get_series_data_from_tweet, get_x_bool_array, get_y_bool_array,
                                strided_windows, windows_per_tweet, x_y_bool_array_to_sentence)

# 5. Batches: the seed's generators; tweets prepared once into a store, batch i read by index --
from tweet_lstm.store.generators import batch_generator, convert_tweet_to_xy_generator  # noqa: F401
from tweet_lstm.store.store import TweetStore  # noqa: F401
from tweet_lstm.store.prepare import prepare_tweets  # noqa: F401
from tweet_lstm.store.batches import TweetBatches, WindowBatches  # noqa: F401
from tweet_lstm.train.positions import Positions  # noqa: F401
from tweet_lstm.train.settings import TrainSettings, run_name  # noqa: F401

# 6. Evaluation without TensorFlow: bits per character, n-gram and xz baselines --------------
from tweet_lstm.train.evaluate import (CharNGramModel, sequence_bits_per_character,  # noqa: F401
                                 window_bits_per_character, xz_bits_per_character)

# 7. The machine behind a measurement -----------------------------------------------------------
from tweet_lstm.machine import machine_description, rss_kinds_bytes  # noqa: F401

# 8. Names that need TensorFlow, imported quietly on first use ------------------------------------
from tweet_lstm.quiet import import_tensorflow_quietly  # noqa: F401

_NEEDS_TENSORFLOW = {
    "tweet_lstm.train.dataset": ("tf_dataset",),
    "tweet_lstm.train.model": ("build_sequence_model", "layer_table", "sample_tweets"),
    "tweet_lstm.train.callbacks": ("MemoryRecorder", "ProgressLines", "StepCounter", "TrainingTimeBudget"),
    "tweet_lstm.train.resume": ("StepBackup", "backup_position", "fit_with_backups"),
    "tweet_lstm.train.training": ("LearningRateByTime", "load_round", "read_history", "round_weights",
                                  "train_resumably"),
    "tweet_lstm.train.distribute": ("DISTRIBUTION_STRATEGIES", "distribution_strategy", "tf_config_shard"),
}
_LAZY = {name: module for module, names in _NEEDS_TENSORFLOW.items() for name in names}


def __getattr__(name):
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import_tensorflow_quietly()
    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))


if __name__ == "__main__":  # the old name of ``python -m tweet_lstm data``
    from tweet_lstm.cli import main

    arguments = sys.argv[1:]
    sys.exit(main(["data", *arguments[1:]] if arguments[:1] == ["make-data"] else arguments))

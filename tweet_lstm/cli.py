"""``python -m tweet_lstm data|train|generate``: the data, then a tweet model of your own CSV.

data builds the tweets CSV, downloaded or copied from --source (default: $TWEETS_SOURCE).

train prepares the CSV once into OUT/store, validates on its val split (or every twentieth training tweet, then
not trained on; test tweets never), and trains chapter 04's model B (the defaults of TrainSettings, told each tweet's
emoji if there is an emoji column) for MINUTES of training; rerun after an interruption, it resumes. It writes
OUT/settings.json and OUT/model.keras, each atomically.

Every argument is checked before any work: a bad one or an unusable file ends in one line naming it, exit code 2.
"""

import argparse
import dataclasses
import json
import math
import os
import sys
from pathlib import Path

import numpy as np

from .data import sentiment140, tweeteval
from .data.download import DataError
from .files import atomic_path, write_json_atomically
from .train.settings import TrainSettings

DATASETS = {"tweeteval": tweeteval, "sentiment140": sentiment140}
VALIDATION_TWEETS = 2_000  # at most this many validation tweets are scored after each round
VALIDATE_EVERY = 500  # steps between validations, at most
GENERATE_BATCH = 1_024  # tweets sampled at once
EMOJIS_SHOWN = 10  # emojis listed in an error


class UsageError(ValueError):
    """A bad argument or an unusable file: one line naming it, exit code 2."""


def _number(kind, minimum, maximum=None, strict=False):
    """An argparse type: ``kind`` (int or float), finite, at least ``minimum`` (above it if ``strict``)."""
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {'an integer' if kind is int else 'a number'}") from None
        if not math.isfinite(value) or value < minimum or (strict and value == minimum):
            raise argparse.ArgumentTypeError(f"must be {'more than' if strict else 'at least'} {minimum}, got {text}")
        if maximum is not None and value > maximum:
            raise argparse.ArgumentTypeError(f"must be at most {maximum:,.0f}, got {text}")
        return value
    return parse


def build_parser():
    parser = argparse.ArgumentParser(prog="python -m tweet_lstm", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    data = commands.add_parser("data", help="build the tweets CSV: download it, or copy it from --source",
                               description=__doc__.split("\n\n")[1])
    data.add_argument("--dataset", choices=tuple(DATASETS), default="tweeteval",
                      help="tweeteval: text,emoji,split (100,000 tweets); sentiment140: text,polarity,split (1.6M)")
    data.add_argument("--out", type=Path, default=None, help=f"the CSV to write (default: {tweeteval.OUT_PATH}, "
                                                              f"or {sentiment140.OUT_PATH} for sentiment140)")
    data.add_argument("--source", default=os.environ.get("TWEETS_SOURCE") or None,
                      help="a local folder (or, for sentiment140, file) to read instead of downloading "
                           "(default: $TWEETS_SOURCE)")
    data.add_argument("--base-url", default=None, help="where to download from (default: the published address)")
    train = commands.add_parser("train", help="train a model on a tweets CSV (a text column; emoji and split optional)",
                                description=__doc__.split("\n\n")[2],
                                epilog="example: python -m tweet_lstm train my_tweets.csv --minutes 30 --out my_model")
    train.add_argument("csv", type=Path, help="the tweets: a UTF-8 CSV with a header row and a text column")
    train.add_argument("--minutes", type=_number(float, 0, 1e6, strict=True), required=True,
                       help="training time budget in minutes")
    train.add_argument("--out", type=Path, required=True, help="folder for the store, the run and the model")
    train.add_argument("--units", type=_number(int, 1, 10_000), default=256, help="LSTM size (default: 256)")
    train.add_argument("--batch-size", type=_number(int, 1, 100_000), default=32, help="tweets per step (default: 32)")
    train.add_argument("--seed", type=_number(int, 0), default=0, help="random seed (default: 0)")
    generate = commands.add_parser("generate", help="write tweets with a model that train made",
                                   description="Write tweets with a model made by python -m tweet_lstm train.",
                                   epilog='example: python -m tweet_lstm generate my_model --n 5 --start "Sunday"')
    generate.add_argument("model_dir", type=Path, help="the --out folder of train")
    generate.add_argument("--n", type=_number(int, 1, 10_000_000), default=5, help="how many tweets (default: 5)")
    generate.add_argument("--temperature", type=_number(float, 0), default=0.5,
                          help="0: always the likeliest character; 1: the model's own odds (default: 0.5)")
    generate.add_argument("--start", default="", help="text every tweet starts with")
    generate.add_argument("--emoji", default=None, help="the emoji to write for (a model trained with emoji)")
    generate.add_argument("--seed", type=_number(int, 0), default=None, help="random seed, for the same tweets again")
    return parser


def data(args):
    dataset = DATASETS[args.dataset]
    try:
        summary = dataset.make_csv(args.out or dataset.OUT_PATH, source=args.source,
                                   base_url=args.base_url or dataset.BASE_URL)
    except OSError as err:
        raise UsageError(f"{err}: check that the path exists and that you may read or write it") from None
    splits = ", ".join(f"{split} {rows:,}" for split, rows in summary["splits"].items())
    print(f"wrote {summary['path']}: {sum(summary['splits'].values()):,} tweets ({splits}); "
          + "; ".join(summary["notes"]))
    return 0


def split_for_training(store):
    """``(train, validation, note)``: views of ``store``, and a line saying where validation comes from: the ``val``
    split, or without one every twentieth tweet of the rest (then not trained on); never ``test`` tweets."""
    names = store.splits or []
    test, val = (np.flatnonzero(store.split == names.index(name)) if name in names else np.zeros(0, np.int64)
                 for name in ("test", "val"))
    rest = np.setdiff1d(np.arange(len(store)), np.concatenate([test, val]))
    note = "its val split"
    if not len(val):
        val, rest = rest[::20], np.setdiff1d(rest, rest[::20])
        note = "every twentieth training tweet (the CSV has no val split)"
    if len(test):
        note += f"; its {len(test):,} test tweets are left out"
    return store.take(rest), store.take(val[:VALIDATION_TWEETS]), note


def _source(csv):
    from .store.prepare import source_stamp
    return {"path": str(csv), **{key: value for key, value in source_stamp(csv).items() if key != "mtime_ns"}}


def _check_out(args, settings):
    """Refuse ``--out`` before any work if it is a file, or holds a model of another CSV or settings."""
    if args.out.exists() and not args.out.is_dir():
        raise UsageError(f"--out {args.out} is a file; give a folder (new, or one train made)")
    path = args.out / "settings.json"
    if path.exists():
        before = json.loads(path.read_text(encoding="utf-8"))
        now = {"source": _source(args.csv), "settings": settings.as_dict()}
        differ = [what for key, what in (("source", "another CSV"), ("settings", "other settings"))
                  if before.get(key) != now[key]]
        if differ:
            raise UsageError(f"--out {args.out} holds a model of {' and '.join(differ)} ({path}); "
                             "choose a new --out, or delete that folder to train again")


def train(args):
    if not args.csv.is_file():
        raise UsageError(f"{args.csv}: no such file")
    settings = TrainSettings(minutes=args.minutes, units=args.units, batch_size=args.batch_size, seed=args.seed)
    _check_out(args, settings)
    from .store.prepare import prepare_tweets
    print(f"preparing {args.csv} into {args.out / 'store'} ...", flush=True)
    store = prepare_tweets(args.csv, args.out / "store")
    train_store, val_store, note = split_for_training(store)
    if len(train_store) == 0 or len(val_store) == 0:
        raise UsageError(f"{args.csv}: {len(store)} usable tweet(s) are too few to train and validate on")
    print(f"{len(store):,} tweets ({store.manifest['dropped']} left out); training on {len(train_store):,}, "
          f"validating on {len(val_store):,}: {note}", flush=True)
    from .quiet import import_tensorflow_quietly
    import_tensorflow_quietly()
    import keras

    from .store.batches import TweetBatches
    from .train.callbacks import ProgressLines
    from .train.evaluate import sequence_bits_per_character
    from .train.model import build_sequence_model
    from .train.training import train_resumably
    emojis = store.emojis or None
    write_json_atomically({"source": _source(args.csv), "settings": settings.as_dict(), "emojis": emojis,
                           "length": store.length}, args.out / "settings.json")
    batches = TweetBatches(train_store, batch_size=settings.batch_size, seed=settings.seed, emoji=bool(emojis),
                           emoji_dropout=settings.emoji_dropout if emojis else 0.0)
    settings = dataclasses.replace(settings, validate_every=min(len(batches), VALIDATE_EVERY))
    keras.utils.set_random_seed(settings.seed)
    model = build_sequence_model(units=settings.units, n_emojis=len(emojis) + 1 if emojis else None,
                                 dropout=settings.dropout, learning_rate=settings.learning_rate)
    val = TweetBatches(val_store, batch_size=64, shuffle=False, emoji=bool(emojis),
                       emoji_dropout=1.0 if emojis else 0.0)
    progress = ProgressLines(updates=2, tweets_per_step=settings.batch_size, bar=sys.stdout.isatty())
    history = train_resumably(model, batches, lambda m: sequence_bits_per_character(m, val)[0], args.out / "run",
                              settings, callbacks=[progress])
    with atomic_path(args.out / "model.keras", suffix=".keras") as tmp:
        model.save(tmp)
    best = history.loc[history["validation"].idxmin()]
    print(f"validation: {best['validation']:.3f} bits per character (best of {len(history)} rounds, after "
          f"{best['minutes']:.1f} min); wrote {args.out / 'model.keras'}", flush=True)
    return 0


def _emoji_id(emojis, emoji):
    """The model's id for ``--emoji`` (its "no emoji" id for None)."""
    if emoji is None:
        return len(emojis) if emojis else None
    if not emojis:
        raise UsageError("--emoji: this model was trained without emojis")
    if emoji not in emojis:
        more = f" ... ({len(emojis):,} in all)" if len(emojis) > EMOJIS_SHOWN else ""
        shown = " ".join(emojis[:EMOJIS_SHOWN]) + more
        raise UsageError(f"--emoji {emoji!r} is not one the model knows: {shown}")
    return emojis.index(emoji)


def generate(args):
    path, settings_path = args.model_dir / "model.keras", args.model_dir / "settings.json"
    if not (path.is_file() and settings_path.is_file()):
        raise UsageError(f"{args.model_dir}: holds no trained model (model.keras and settings.json); "
                         "make one with: python -m tweet_lstm train CSV --minutes M --out DIR")
    from .data.text import OUTSIDE_CHARACTERS
    settings = json.loads(settings_path.read_text(encoding="utf-8"))
    if len(args.start) > settings["length"]:
        raise UsageError(f"--start has {len(args.start)} characters, more than the model's {settings['length']}")
    if outside := sorted(set(OUTSIDE_CHARACTERS.findall(args.start))):
        raise UsageError(f"--start has characters the model never saw (outside its 93): {''.join(outside)!r}")
    emoji_id = _emoji_id(settings["emojis"], args.emoji)
    from .quiet import import_tensorflow_quietly
    import_tensorflow_quietly()
    import keras

    from .train.model import sample_tweets
    model, rng = keras.models.load_model(path), np.random.default_rng(args.seed)
    for first in range(0, args.n, GENERATE_BATCH):
        n = min(GENERATE_BATCH, args.n - first)
        print("\n".join(sample_tweets(model, n=n, seed_text=args.start, temperature=args.temperature,
                                      emoji_id=emoji_id, max_length=settings["length"], rng=rng)), flush=True)
        if args.n > GENERATE_BATCH:
            print(f"generated {first + n:,} of {args.n:,} tweets", file=sys.stderr, flush=True)
    return 0


def main(argv=None):
    """Run a command with ``argv`` (default: ``sys.argv[1:]``); return the exit status: 0, or 2 on bad input."""
    args = build_parser().parse_args(argv)
    try:
        return {"data": data, "train": train, "generate": generate}[args.command](args)
    except (UsageError, DataError, ValueError, FileNotFoundError) as err:
        print(f"python -m tweet_lstm {args.command}: {err}", file=sys.stderr)
        return 2

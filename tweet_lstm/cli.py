"""``python -m tweet_lstm train|generate``: a tweet model of your own CSV, chapter 04's model B.

    python -m tweet_lstm train my_tweets.csv --minutes 30 --out my_model
    python -m tweet_lstm generate my_model --n 5 --temperature 0.5 --start "Sunday brunch" --emoji 🎄

``train`` prepares the CSV once into ``OUT/store`` (``prepare_tweets``), validates on its
``val`` split (or, without one, on every twentieth tweet, which it then does not train on),
and trains the whole-sequence LSTM for a budget of training minutes with ``train_resumably``:
a learning rate on a cosine in minutes, the best model kept, early stopping; rerun after an
interruption, it resumes where it stopped. With an ``emoji`` column the model is told each
tweet's emoji (and, a quarter of the time, "no emoji"). It writes ``OUT/model.keras`` and
``OUT/settings.json``. Bad arguments and unusable files end with a message and exit code 2.
"""

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np

VALIDATION_TWEETS = 2_000  # at most this many validation tweets are scored after each epoch
EMOJI_DROPOUT = 0.25


def _positive(kind):
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not (math.isfinite(value) and value > 0):
            raise argparse.ArgumentTypeError(f"must be more than 0, got {text}")
        return value
    return parse


def build_parser():
    parser = argparse.ArgumentParser(prog="python -m tweet_lstm",
                                     description="Train a character-level LSTM on your tweets, then write new ones.")
    commands = parser.add_subparsers(dest="command", required=True)
    train = commands.add_parser("train", help="train a model on a tweets CSV (a text column; emoji and split optional)",
                                description=" ".join(__doc__.split("\n\n")[2].split()),
                                epilog="example: python -m tweet_lstm train my_tweets.csv --minutes 30 --out my_model")
    train.add_argument("csv", type=Path, help="the tweets: a UTF-8 CSV with a header row and a text column")
    train.add_argument("--minutes", type=_positive(float), required=True, help="training time budget in minutes")
    train.add_argument("--out", type=Path, required=True, help="folder for the store, the run and the model")
    train.add_argument("--units", type=_positive(int), default=256, help="LSTM size (default: 256)")
    train.add_argument("--batch-size", type=_positive(int), default=32, help="tweets per step (default: 32)")
    train.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    generate = commands.add_parser("generate", help="write tweets with a model that train made",
                                   epilog='example: python -m tweet_lstm generate my_model --n 5 --start "Sunday brunch"')
    generate.add_argument("model_dir", type=Path, help="the --out folder of train")
    generate.add_argument("--n", type=_positive(int), default=5, help="how many tweets (default: 5)")
    generate.add_argument("--temperature", type=float, default=0.5,
                          help="0: always the likeliest character; 1: the model's own odds (default: 0.5)")
    generate.add_argument("--start", default="", help="text every tweet starts with")
    generate.add_argument("--emoji", default=None, help="the emoji to write for (a model trained with emoji)")
    generate.add_argument("--seed", type=int, default=None, help="random seed, for the same tweets again")
    return parser


def _split(store):
    """``(train, validation)`` views of ``store``: ``val`` for validation and all but ``val`` and ``test`` for
    training, or without a ``val`` split every twentieth tweet for validation and the rest for training."""
    if store.splits is not None and "val" in store.splits:
        held_out = [store.splits.index(name) for name in ("val", "test") if name in store.splits]
        train, val = store.take(~np.isin(store.split, held_out)), store.split_of("val")
    else:
        held = np.arange(len(store)) % 20 == 0
        train, val = store.take(~held), store.take(held)
    return train, val.take(np.arange(min(len(val), VALIDATION_TWEETS)))


def train(args):
    from .store.prepare import prepare_tweets
    from .quiet import import_tensorflow_quietly
    if not args.csv.is_file():
        raise ValueError(f"{args.csv}: no such file")
    print(f"preparing {args.csv} into {args.out / 'store'} ...", flush=True)
    store = prepare_tweets(args.csv, args.out / "store")
    train_store, val_store = _split(store)
    if len(train_store) == 0 or len(val_store) == 0:
        raise ValueError(f"{args.csv}: {len(store)} usable tweet(s) are too few to train and validate on")
    print(f"{len(store):,} tweets ({store.manifest['dropped']} left out); training on {len(train_store):,}, "
          f"validating on {len(val_store):,}", flush=True)
    import_tensorflow_quietly()
    import keras

    from .store.batches import TweetBatches
    from .train.callbacks import ProgressBar, ProgressLines
    from .train.dataset import TweetDataset
    from .train.evaluate import sequence_bits_per_character
    from .train.model import build_sequence_model
    from .train.training import train_resumably
    keras.utils.set_random_seed(args.seed)
    emojis = store.emojis or None
    model = build_sequence_model(units=args.units, n_emojis=len(emojis) + 1 if emojis else None, dropout=0.4,
                                 learning_rate=4e-3)
    data = TweetDataset(train_store, batch_size=args.batch_size, seed=args.seed, emoji=bool(emojis),
                        emoji_dropout=EMOJI_DROPOUT if emojis else 0.0)
    val = TweetBatches(val_store, batch_size=64, shuffle=False, emoji=bool(emojis), emoji_dropout=1.0 if emojis else 0.0)
    budget = args.minutes

    def learning_rate(minutes):
        return 4e-3 * (0.05 + 0.95 * (1 + math.cos(math.pi * min(minutes / budget, 1.0))) / 2)

    progress = (ProgressBar(tweets_per_step=args.batch_size) if sys.stdout.isatty()  # a bar on a terminal,
                else ProgressLines(updates=2, tweets_per_step=args.batch_size))  # plain lines in a log
    history = train_resumably(model, data, lambda m: sequence_bits_per_character(m, val)[0], args.out / "run",
                              budget * 60, steps_per_epoch=min(len(data), 500), learning_rate=learning_rate,
                              patience=4, callbacks=[progress],
                              config={"units": args.units, "minutes": budget})
    model.save(args.out / "model.keras")
    settings = {"emojis": emojis, "length": store.length, "units": args.units, "source": str(args.csv)}
    (args.out / "settings.json").write_text(json.dumps(settings, ensure_ascii=False, indent=1), encoding="utf-8")
    best = history.loc[history["validation"].idxmin()]
    print(f"validation: {best['validation']:.3f} bits per character (best of {len(history)} epochs, after "
          f"{best['minutes']:.1f} min); wrote {args.out / 'model.keras'}", flush=True)
    return 0


def generate(args):
    path, settings_path = args.model_dir / "model.keras", args.model_dir / "settings.json"
    if not (path.is_file() and settings_path.is_file()):
        raise ValueError(f"{args.model_dir}: holds no trained model (model.keras and settings.json); "
                         "make one with: python -m tweet_lstm train CSV --minutes M --out DIR")
    if not math.isfinite(args.temperature) or args.temperature < 0:
        raise ValueError(f"--temperature must be 0 or more, got {args.temperature}")
    settings = json.loads(settings_path.read_text(encoding="utf-8"))
    emojis, emoji_id = settings["emojis"], None
    if args.emoji is not None and not emojis:
        raise ValueError(f"--emoji: {path} was trained without emojis")
    if emojis:
        if args.emoji is not None and args.emoji not in emojis:
            raise ValueError(f"--emoji {args.emoji!r} is not one the model knows: {' '.join(emojis)}")
        emoji_id = emojis.index(args.emoji) if args.emoji is not None else len(emojis)
    from .quiet import import_tensorflow_quietly
    import_tensorflow_quietly()
    import keras

    from .train.model import sample_tweets
    model = keras.models.load_model(path)
    for tweet in sample_tweets(model, n=args.n, seed_text=args.start, temperature=args.temperature,
                               emoji_id=emoji_id, max_length=settings["length"], rng=args.seed):
        print(tweet)
    return 0


def main(argv=None):
    """Run a command with ``argv`` (default: ``sys.argv[1:]``); return the exit status: 0, or 2 on bad input."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return {"train": train, "generate": generate}[args.command](args)
    except (ValueError, FileNotFoundError) as err:
        print(f"python -m tweet_lstm {args.command}: {err}", file=sys.stderr)
        return 2

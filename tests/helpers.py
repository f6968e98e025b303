"""Small toy data and helpers shared by the tests."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent

TOY = pd.DataFrame({
    "text": [
        "red and yellow and pink and green, orange and purple and blue, I can sing a rainbow, "
        "sing a rainbow, sing a rainbow too",
        "sweet dreams are made of this, who am I to disagree, travel the world and the even "
        "seas, every body's looking for someone",
    ],
    "emoji": [":rainbow:", ":gay_pride_flag:"],
})
"""The seed's two toy tweets."""

# Training scripts run in a fresh Python: TensorFlow's devices must be configured before it
# starts, and a run is killed with SIGKILL, as a crash would.
SUBPROCESS_ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONHASHSEED": "0"}


def tweets_frame(n, emojis=("🔥", "🎄")):
    """``n`` toy tweets of different lengths with alternating emojis."""
    return pd.DataFrame({"text": [f"tweet number {i} " + "x" * (1 + i % 50) for i in range(n)],
                         "emoji": [emojis[i % len(emojis)] for i in range(n)]})


def toy_store(n, emojis=("🔥", "🎄")):
    """``tweets_frame(n)`` as an in-memory ``TweetStore``."""
    from tweet_lstm.store.store import TweetStore
    return TweetStore.from_frame(tweets_frame(n, emojis))


def served_texts(batches, epoch=0):
    """Every text a ``TweetBatches`` serves in ``epoch``, in serving order."""
    return [t for i in range(len(batches)) for t in batches.store.texts(batches.batch_rows(epoch, i))]


def tiny_next_char_model():
    """A small compiled Keras model from id batches to next-id logits."""
    import keras
    from tweet_lstm.store.ids import ID_VOCAB
    model = keras.Sequential([keras.Input((None,), dtype="int32"),
                              keras.layers.Embedding(len(ID_VOCAB), 8),
                              keras.layers.Dense(len(ID_VOCAB))])
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def run_script(folder, source, *args, timeout=180):
    """Run ``source`` as a Python script in a fresh process with the repository on its path."""
    script = Path(folder) / "script.py"
    script.write_text(source)
    return subprocess.run([sys.executable, str(script), str(ROOT), *map(str, args)], env=SUBPROCESS_ENV,
                          capture_output=True, text=True, timeout=timeout)


def start_script(script, *args, env=None):
    """Start ``script`` in a fresh process (stdout discarded, stderr piped); the Popen."""
    return subprocess.Popen([sys.executable, str(script), str(ROOT), *map(str, args)], env=env or SUBPROCESS_ENV,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def load_weights(path):
    """The arrays of an ``np.savez`` file, in order."""
    with np.load(path) as arrays:
        return [arrays[f"arr_{i}"] for i in range(len(arrays.files))]

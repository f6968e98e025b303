import json

import keras
import numpy as np
import pandas as pd
import pytest

from tests.helpers import load_weights, run_script, start_script, toy_store, tweets_frame
from tests.test_dataset import LoggedBatches
from tweet_lstm.store.batches import TweetBatches
from tweet_lstm.train.callbacks import MemoryRecorder
from tweet_lstm.files import write_csv_atomically
from tweet_lstm.train.model import build_sequence_model
from tweet_lstm.train.resume import StepBackup, backup_position, fit_with_backups

pytestmark = pytest.mark.tf  # every test here needs TensorFlow or Keras


def test_fit_with_backups_records_memory_and_a_finished_run_trains_nothing_again(tmp_path):
    data = TweetBatches(toy_store(100), batch_size=10)
    model = build_sequence_model(units=8, embedding_dim=4)
    memory = MemoryRecorder(every=3, tweets_per_step=10, total_tweets=150)
    result = fit_with_backups(model, data, tmp_path / "backup", rounds=2, backup_every=4, callbacks=[memory])
    assert result["resumed_from"] == 0 and result["steps"] == 20 and len(result["history"]) == 2
    assert backup_position(tmp_path / "backup")[0] == 20
    assert [p.name for p in (tmp_path / "backup").iterdir()] == ["step-000000020.weights.h5"]
    frame = memory.frame()
    assert {"epoch", "step", "tweets", "seconds", "rss_mb", "loss"} <= set(frame.columns)
    assert frame["step"].tolist() == [0, 3, 6, 9, 10, 10, 12, 15, 18, 20], "global steps, across rounds"
    assert frame["tweets"].max() == 150 and (frame["rss_mb"] > 0).all()
    round_0 = frame.query("epoch == 0")
    steps = round_0["step"].diff().iloc[1:]
    assert np.average(round_0["loss"].iloc[1:], weights=steps) == pytest.approx(result["history"][0]["loss"], rel=1e-4)
    assert memory.max_rss_mb >= memory.peak_rss_mb > 0
    again = fit_with_backups(model, data, tmp_path / "backup", rounds=2)
    assert again == {"resumed_from": 20, "steps": 0, "history": []}


def test_rounds_of_a_fixed_number_of_steps_run_across_epochs_and_end_before_their_backup(tmp_path):
    data = LoggedBatches(toy_store(50), batch_size=10)  # 5 batches an epoch
    model = build_sequence_model(units=8, embedding_dim=4)
    seen = []

    class AtRoundEnd(keras.callbacks.Callback):
        def on_epoch_end(self, round_, logs=None):
            seen.append((round_, backup_position(tmp_path / "b")[0]))

    result = fit_with_backups(model, data, tmp_path / "b", rounds=3, steps_per_round=3, backup_every=100,
                              callbacks=[AtRoundEnd()])
    assert int(keras.ops.convert_to_numpy(model.optimizer.iterations)) == 9 and result["steps"] == 9
    assert data.pipeline_batches == [(0, 0), (0, 1), (0, 2), (0, 3), (0, 4), (1, 0), (1, 1), (1, 2), (1, 3)], \
        "global steps 0..8: epoch 0's five batches, then epoch 1's"
    assert seen == [(0, 0), (1, 3), (2, 6)], "each round ends before its backup"


def test_a_stop_mid_round_backs_up_the_exact_step(tmp_path):
    class StopAtFour(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 3:
                self.model.stop_training = True

    data = LoggedBatches(toy_store(100), batch_size=10)
    model = build_sequence_model(units=8, embedding_dim=4)
    fit_with_backups(model, data, tmp_path / "b", rounds=2, callbacks=[StopAtFour()])
    assert backup_position(tmp_path / "b")[0] == 4
    data.pipeline_batches.clear()
    result = fit_with_backups(model, data, tmp_path / "b", rounds=1)
    assert result["resumed_from"] == 4 and result["steps"] == 6
    assert data.pipeline_batches == [(0, i) for i in range(4, 10)], "the rerun starts at the step after the stop"


def test_a_backup_a_killed_run_was_writing_is_removed_at_the_next_start(tmp_path):
    leftover = tmp_path / "b" / ".saving-3f2a.weights.h5"
    leftover.parent.mkdir()
    leftover.write_bytes(b"half a backup")
    fit_with_backups(build_sequence_model(units=8, embedding_dim=4), TweetBatches(toy_store(20), batch_size=10),
                     tmp_path / "b")
    assert not leftover.exists() and [p.name for p in (tmp_path / "b").iterdir()] == ["step-000000002.weights.h5"]


def test_fit_with_backups_bad_input_names_the_argument(tmp_path):
    model = build_sequence_model(units=8, embedding_dim=4)
    with pytest.raises(TypeError, match="batches"):
        fit_with_backups(model, [1, 2, 3], tmp_path)
    with pytest.raises(ValueError, match="shard"):
        fit_with_backups(model, TweetBatches(toy_store(100), batch_size=10, shard=(0, 2)), tmp_path)
    with pytest.raises(ValueError, match="rounds"):
        fit_with_backups(model, TweetBatches(toy_store(100), batch_size=10), tmp_path, rounds=0)
    with pytest.raises(ValueError, match="every"):
        fit_with_backups(model, TweetBatches(toy_store(100), batch_size=10), tmp_path, backup_every=0)


RESUME_SCRIPT = """
import json, os, signal, sys
sys.path.insert(0, sys.argv[1])
csv, store_dir, backup_dir, out = sys.argv[2:6]
kill_step = int(sys.argv[6])
import keras, numpy as np, tensorflow as tf
from tweet_lstm.train.callbacks import StepCounter
from tweet_lstm.store.batches import TweetBatches
from tweet_lstm.train.model import build_sequence_model
from tweet_lstm.train.resume import fit_with_backups
from tweet_lstm.store.prepare import prepare_tweets
tf.config.experimental.enable_op_determinism()
keras.utils.set_random_seed(0)
if kill_step == -2:  # die while preparing the store: when its second chunk of 50 tweets is read
    import tweet_lstm.store.prepare
    read, chunks = tweet_lstm.store.prepare.iter_tweet_data, []
    def dying(*args, **kwargs):
        for chunk in read(*args, **kwargs):
            chunks.append(len(chunk))
            if len(chunks) == 2:
                os.kill(os.getpid(), signal.SIGKILL)
            yield chunk
    tweet_lstm.store.prepare.iter_tweet_data = dying
data = TweetBatches(prepare_tweets(csv, store_dir, chunksize=50), batch_size=10, bucket_batches=3, seed=5)
model = build_sequence_model(units=8, embedding_dim=4)

class Trace(StepCounter):
    def on_train_batch_end(self, batch, logs=None):
        super().on_train_batch_end(batch, logs)
        with open(out + ".steps", "a") as f:
            f.write(f"{self.step}\\n")
        if self.step == kill_step:
            os.kill(os.getpid(), signal.SIGKILL)

result = fit_with_backups(model, data, backup_dir, rounds=2, backup_every=4, callbacks=[Trace()])
np.savez(out + ".npz", *model.get_weights())
with open(out + ".json", "w") as f:
    json.dump(result, f)
"""


@pytest.mark.slow
def test_a_killed_run_resumes_at_its_last_backup_and_trains_every_batch_exactly_once(tmp_path):
    """120 tweets in batches of 10: 12 steps an epoch, 2 epochs, a backup every 4 steps.

    The first run is killed at global step 7 (backup at step 4), the second at step 18, in
    epoch 1 (backup at step 16); the third finishes. Each resumes right after its backup, so
    together they train each step once, as an uninterrupted run does, and end with the same
    weights (op determinism on, same shuffled order). Before them a run is killed while it
    prepares the CSV: it leaves no store (only a partial folder beside it); the first run
    prepares a whole one and the others reuse it.
    """
    csv = write_csv_atomically(tweets_frame(120), tmp_path / "t.csv")
    script = tmp_path / "resume.py"
    script.write_text(RESUME_SCRIPT)

    def steps(name):
        return [int(line) for line in (tmp_path / f"{name}.steps").read_text().split()]

    reference = start_script(script, csv, tmp_path / "reference_store", tmp_path / "reference_backup",
                             tmp_path / "reference", -1)
    preparing = start_script(script, csv, tmp_path / "store", tmp_path / "backup", tmp_path / "preparing", -2)
    _, stderr = preparing.communicate(timeout=180)
    assert preparing.returncode == -9, stderr[-3000:]
    assert not (tmp_path / "store").exists() and list(tmp_path.glob(".store.partial-*")), "killed mid-write"
    positions, stores = [], []
    for name, kill in [("first", 7), ("second", 18), ("third", -1)]:
        process = start_script(script, csv, tmp_path / "store", tmp_path / "backup", tmp_path / name, kill)
        _, stderr = process.communicate(timeout=180)
        assert process.returncode == (-9 if kill >= 0 else 0), stderr[-3000:]
        positions.append(backup_position(tmp_path / "backup")[0])
        files = sorted((tmp_path / "store").iterdir())
        stores.append([(p.name, p.stat().st_ino, p.stat().st_mtime_ns) for p in files])
    _, stderr = reference.communicate(timeout=180)
    assert reference.returncode == 0, stderr[-3000:]

    assert positions == [4, 16, 24]
    assert stores[0] == stores[1] == stores[2] and "manifest.json" in [name for name, *_ in stores[0]], \
        "the store is prepared once and reused untouched by the runs after a kill"
    assert not list(tmp_path.glob(".store.partial-*")), "the half-written one was cleared away"
    assert steps("reference") == list(range(1, 25))
    assert steps("first") == list(range(1, 8))
    assert steps("second") == list(range(5, 19))
    assert steps("third") == list(range(17, 25))
    kept = steps("first")[:4] + steps("second")[:-2] + steps("third")
    assert kept == steps("reference"), "every step up to each backup is kept, none is trained twice"
    result = json.loads((tmp_path / "third.json").read_text())
    assert result["resumed_from"] == 16 and result["steps"] == 8
    for resumed, uninterrupted in zip(load_weights(tmp_path / "third.npz"), load_weights(tmp_path / "reference.npz")):
        np.testing.assert_allclose(resumed, uninterrupted, rtol=1e-5, atol=1e-7)


MIRRORED_SCRIPT = """
import json, sys
sys.path.insert(0, sys.argv[1])
csv, out = sys.argv[2], sys.argv[3]
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import keras, numpy as np
from tweet_lstm.store.batches import TweetBatches
from tweet_lstm.train.distribute import distribution_strategy
from tweet_lstm.train.model import build_sequence_model
from tweet_lstm.train.resume import fit_with_backups
from tweet_lstm.store.prepare import prepare_tweets
keras.utils.set_random_seed(0)
initial = build_sequence_model(units=16, embedding_dim=8).get_weights()
np.savez(out + "-initial.npz", *initial)
results = {}
for name, devices in [("default", None), ("mirrored", ["/cpu:0", "/cpu:1"])]:
    strategy, shard = distribution_strategy(name, devices=devices)
    data = TweetBatches(prepare_tweets(csv, out + "-store"), batch_size=16, shuffle=False, shard=shard)
    with strategy.scope():
        model = build_sequence_model(units=16, embedding_dim=8)
    model.set_weights(initial)
    result = fit_with_backups(model, data, f"{out}-{name}", rounds=2, backup_every=100)
    np.savez(f"{out}-{name}.npz", *model.get_weights())
    results[name] = {"replicas": strategy.num_replicas_in_sync, "steps": result["steps"],
                     "loss": [epoch["loss"] for epoch in result["history"]]}
with open(out + ".json", "w") as f:
    json.dump(results, f)
"""


@pytest.mark.slow
def test_mirrored_training_on_two_cpus_matches_one_device(tmp_path):
    """Two replicas each take half of every batch of 16 and their gradients are summed.

    Every tweet here has the same length, so both halves hold the same number of real
    (unmasked) characters and the mean of the two halves' masked losses equals the loss of
    the whole batch: the updates agree up to float32 rounding, far below 1e-4 relative.
    """
    frame = pd.DataFrame({"text": [f"tweet {i:03d} about the same length" for i in range(64)]})
    csv = write_csv_atomically(frame, tmp_path / "t.csv")
    done = run_script(tmp_path, MIRRORED_SCRIPT, csv, tmp_path / "run")
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads((tmp_path / "run.json").read_text())
    assert results["default"]["replicas"] == 1 and results["mirrored"]["replicas"] == 2
    assert results["default"]["steps"] == results["mirrored"]["steps"] == 8
    np.testing.assert_allclose(results["mirrored"]["loss"], results["default"]["loss"], rtol=1e-4)
    single, mirrored = load_weights(tmp_path / "run-default.npz"), load_weights(tmp_path / "run-mirrored.npz")
    initial = load_weights(tmp_path / "run-initial.npz")
    assert min(np.abs(a - a0).max() for a, a0 in zip(single, initial)) > 1e-3, "every weight was trained"
    for a, b in zip(single, mirrored):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-6)

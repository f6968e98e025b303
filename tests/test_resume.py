import json

import keras
import numpy as np
import pandas as pd
import pytest

from tests.helpers import load_weights, run_script, start_script, toy_store, tweets_frame
from tests.test_dataset import LoggedDataset
from tweet_lstm.train.dataset import TweetDataset
from tweet_lstm.train.callbacks import MemoryRecorder
from tweet_lstm.files import write_csv_atomically
from tweet_lstm.train.model import build_sequence_model
from tweet_lstm.train.resume import StepBackup, backup_position, fit_with_backups

pytestmark = pytest.mark.tf  # every test here needs TensorFlow or Keras


def test_fit_with_backups_records_memory_and_a_finished_run_trains_nothing_again(tmp_path):
    data = TweetDataset(toy_store(100), batch_size=10)
    model = build_sequence_model(units=8, embedding_dim=4)
    memory = MemoryRecorder(every=3, tweets_per_step=10, total_tweets=100)
    result = fit_with_backups(model, data, tmp_path / "backup", epochs=2, backup_every=4, callbacks=[memory])
    assert result["resumed_from"] == (0, 0) and result["steps"] == 20 and len(result["history"]) == 2
    assert backup_position(tmp_path / "backup")[:2] == (2, 0)
    assert [p.name for p in (tmp_path / "backup").iterdir()] == ["epoch-0002-batch-00000000.weights.h5"]
    frame = memory.frame()
    assert {"epoch", "step", "tweets", "seconds", "rss_mb", "loss"} <= set(frame.columns)
    assert frame.query("epoch == 0")["step"].tolist() == [0, 3, 6, 9, 10]
    assert frame["tweets"].max() == 100 and (frame["rss_mb"] > 0).all()
    epoch_0 = frame.query("epoch == 0")
    steps = epoch_0["step"].diff().iloc[1:]
    assert np.average(epoch_0["loss"].iloc[1:], weights=steps) == pytest.approx(result["history"][0]["loss"], rel=1e-4)
    assert memory.max_rss_mb >= memory.peak_rss_mb > 0
    again = fit_with_backups(model, data, tmp_path / "backup", epochs=2)
    assert again == {"resumed_from": (2, 0), "steps": 0, "history": []}


def test_epochs_of_a_fixed_number_of_steps_run_across_passes_and_call_end_of_epoch_first(tmp_path):
    data = LoggedDataset(toy_store(50), batch_size=10)  # 5 batches a pass
    model = build_sequence_model(units=8, embedding_dim=4)
    seen = []

    def end_of_epoch(epoch, logs):
        seen.append((epoch, backup_position(tmp_path / "b")[:2]))
        return {"score": float(epoch)}

    result = fit_with_backups(model, data, tmp_path / "b", epochs=3, steps_per_epoch=3, backup_every=100,
                              end_of_epoch=end_of_epoch)
    assert int(keras.ops.convert_to_numpy(model.optimizer.iterations)) == 9
    assert data.pipeline_batches == [(0, 0), (0, 1), (0, 2), (0, 3), (0, 4), (1, 0), (1, 1), (1, 2), (1, 3)], \
        "global steps 0..8: pass 0's five batches, then pass 1's"
    assert seen == [(0, (0, 0)), (1, (1, 0)), (2, (2, 0))], "each epoch's backup comes after end_of_epoch"
    assert [h["score"] for h in result["history"]] == [0.0, 1.0, 2.0]


def test_a_stop_mid_epoch_backs_up_the_exact_batch(tmp_path):
    class StopAtFour(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 3:
                self.model.stop_training = True

    data = LoggedDataset(toy_store(100), batch_size=10)
    model = build_sequence_model(units=8, embedding_dim=4)
    fit_with_backups(model, data, tmp_path / "b", epochs=2, callbacks=[StopAtFour()])
    assert backup_position(tmp_path / "b")[:2] == (0, 4)
    data.pipeline_batches.clear()
    result = fit_with_backups(model, data, tmp_path / "b", epochs=1)
    assert result["resumed_from"] == (0, 4) and result["steps"] == 6
    assert data.pipeline_batches == [(0, i) for i in range(4, 10)], "the rerun starts at the batch after the stop"


def test_fit_with_backups_bad_input_names_the_argument(tmp_path):
    model = build_sequence_model(units=8, embedding_dim=4)
    with pytest.raises(TypeError, match="dataset"):
        fit_with_backups(model, [1, 2, 3], tmp_path)
    with pytest.raises(ValueError, match="shard"):
        fit_with_backups(model, TweetDataset(toy_store(100), batch_size=10, shard=(0, 2)), tmp_path)
    with pytest.raises(ValueError, match="epochs"):
        fit_with_backups(model, TweetDataset(toy_store(100), batch_size=10), tmp_path, epochs=0)
    with pytest.raises(ValueError, match="every"):
        StepBackup(tmp_path, every=0)


RESUME_SCRIPT = """
import json, os, signal, sys
sys.path.insert(0, sys.argv[1])
csv, store_dir, backup_dir, out = sys.argv[2:6]
kill_epoch, kill_step = int(sys.argv[6]), int(sys.argv[7])
import keras, numpy as np, tensorflow as tf
from tweet_lstm.train.callbacks import StepCounter
from tweet_lstm.train.dataset import TweetDataset
from tweet_lstm.train.model import build_sequence_model
from tweet_lstm.train.resume import fit_with_backups
from tweet_lstm.store.prepare import prepare_tweets
tf.config.experimental.enable_op_determinism()
keras.utils.set_random_seed(0)
if kill_epoch == -2:  # die while preparing the store: after its first chunk of 50 tweets is written
    import tweet_lstm.store.prepare
    to_ids, chunks = tweet_lstm.store.prepare.texts_to_ids, []
    def dying(texts):
        chunks.append(len(texts))
        if len(chunks) == 2:
            os.kill(os.getpid(), signal.SIGKILL)
        return to_ids(texts)
    tweet_lstm.store.prepare.texts_to_ids = dying
data = TweetDataset(prepare_tweets(csv, store_dir, chunksize=50), batch_size=10, bucket_batches=3, seed=5)
model = build_sequence_model(units=8, embedding_dim=4)

class Trace(StepCounter):
    def on_train_batch_end(self, batch, logs=None):
        super().on_train_batch_end(batch, logs)
        with open(out + ".steps", "a") as f:
            f.write(f"{self.epoch} {self.step}\\n")
        if (self.epoch, self.step) == (kill_epoch, kill_step):
            os.kill(os.getpid(), signal.SIGKILL)

result = fit_with_backups(model, data, backup_dir, epochs=2, backup_every=4, callbacks=[Trace()])
np.savez(out + ".npz", *model.get_weights())
with open(out + ".json", "w") as f:
    json.dump(result, f)
"""


@pytest.mark.slow
def test_a_killed_run_resumes_at_its_last_backup_and_trains_every_batch_exactly_once(tmp_path):
    """120 tweets in batches of 10: 12 steps an epoch, 2 epochs, a backup every 4 steps.

    The first run is killed at step 7 of epoch 0 (backup at step 4), the second at step 6
    of epoch 1 (backup at step 4 of that epoch); the third finishes. Each resumes right
    after its backup, so together they train each (epoch, step) once, as an uninterrupted
    run does, and end with the same weights (op determinism on, same shuffled order).
    Before them a run is killed while it prepares the CSV: it leaves no store (only a
    partial folder beside it); the first run prepares a whole one and the others reuse it.
    """
    csv = write_csv_atomically(tweets_frame(120), tmp_path / "t.csv")
    script = tmp_path / "resume.py"
    script.write_text(RESUME_SCRIPT)

    def steps(name):
        lines = (tmp_path / f"{name}.steps").read_text().split()
        return list(zip(map(int, lines[::2]), map(int, lines[1::2])))

    reference = start_script(script, csv, tmp_path / "reference_store", tmp_path / "reference_backup",
                             tmp_path / "reference", -1, -1)
    preparing = start_script(script, csv, tmp_path / "store", tmp_path / "backup", tmp_path / "preparing", -2, -2)
    _, stderr = preparing.communicate(timeout=180)
    assert preparing.returncode == -9, stderr[-3000:]
    assert not (tmp_path / "store").exists() and list(tmp_path.glob(".store.partial-*")), "killed mid-write"
    positions, stores = [], []
    for name, kill in [("first", (0, 7)), ("second", (1, 6)), ("third", (-1, -1))]:
        process = start_script(script, csv, tmp_path / "store", tmp_path / "backup", tmp_path / name, *kill)
        _, stderr = process.communicate(timeout=180)
        assert process.returncode == (-9 if kill[0] >= 0 else 0), stderr[-3000:]
        positions.append(backup_position(tmp_path / "backup")[:2])
        files = sorted((tmp_path / "store").iterdir())
        stores.append([(p.name, p.stat().st_ino, p.stat().st_mtime_ns) for p in files])
    _, stderr = reference.communicate(timeout=180)
    assert reference.returncode == 0, stderr[-3000:]

    assert positions == [(0, 4), (1, 4), (2, 0)]
    assert stores[0] == stores[1] == stores[2] and "manifest.json" in [name for name, *_ in stores[0]], \
        "the store is prepared once and reused untouched by the runs after a kill"
    assert not list(tmp_path.glob(".store.partial-*")), "the half-written one was cleared away"
    epoch = lambda e, first, last: [(e, s) for s in range(first, last + 1)]  # noqa: E731
    assert steps("reference") == epoch(0, 1, 12) + epoch(1, 1, 12)
    assert steps("first") == epoch(0, 1, 7)
    assert steps("second") == epoch(0, 5, 12) + epoch(1, 1, 6)
    assert steps("third") == epoch(1, 5, 12)
    kept = steps("first")[:4] + steps("second")[:-2] + steps("third")
    assert kept == steps("reference"), "every batch up to each backup is kept, none is trained twice"
    result = json.loads((tmp_path / "third.json").read_text())
    assert result["resumed_from"] == [1, 4] and result["steps"] == 8
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
from tweet_lstm.train.dataset import TweetDataset
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
    data = TweetDataset(prepare_tweets(csv, out + "-store"), batch_size=16, shuffle=False, shard=shard)
    with strategy.scope():
        model = build_sequence_model(units=16, embedding_dim=8)
    model.set_weights(initial)
    result = fit_with_backups(model, data, f"{out}-{name}", epochs=2, backup_every=100)
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

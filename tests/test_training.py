import json

import keras
import numpy as np
import pytest

from tests.helpers import load_weights, start_script, toy_store, tweets_frame
from tweet_lstm.train.dataset import TweetDataset
from tweet_lstm.files import write_csv_atomically, write_json_atomically
from tweet_lstm.train.model import build_sequence_model
from tweet_lstm.train.training import HISTORY_COLUMNS, read_history, train_resumably

pytestmark = pytest.mark.tf  # every test here needs TensorFlow or Keras


def scores_by_epoch(scores, steps_per_epoch):
    """A ``validate`` that returns ``scores[e]`` after epoch ``e`` (read from the optimizer's step count)."""
    return lambda model: scores[int(keras.ops.convert_to_numpy(model.optimizer.iterations)) // steps_per_epoch - 1]


def test_the_best_model_is_kept_and_early_stopping_counts_epochs_without_a_better_score(tmp_path):
    data = TweetDataset(toy_store(60), batch_size=10)
    model = build_sequence_model(units=8, embedding_dim=4)
    history = train_resumably(model, data, scores_by_epoch([5.0, 4.0, 4.5, 3.0, 3.5, 3.2, 3.1, 9.0], 3),
                              tmp_path, time_budget_s=600, steps_per_epoch=3, patience=3, verbose=0)
    assert list(history.columns) == HISTORY_COLUMNS
    assert history["validation"].tolist() == [5.0, 4.0, 4.5, 3.0, 3.5, 3.2, 3.1]
    assert history["best"].tolist() == [True, True, False, True, False, False, False]
    assert history["steps"].tolist() == [3, 6, 9, 12, 15, 18, 21]
    done = json.loads((tmp_path / "done.json").read_text())
    assert done["epochs"] == 7 and done["best_validation"] == 3.0
    best = keras.models.load_model(tmp_path / "best.keras")
    assert int(keras.ops.convert_to_numpy(best.optimizer.iterations)) == 12, "best.keras is epoch 3's model"
    again = train_resumably(model, data, lambda m: 0.0, tmp_path, time_budget_s=600, steps_per_epoch=3, patience=3,
                            verbose=0)
    assert again.equals(history), "a finished run is read back, not trained again"


def test_a_spent_budget_carries_over_a_restart_and_trains_nothing(tmp_path):
    write_json_atomically({"seconds_spent": 61.0, "epoch": 3}, tmp_path / "budget.json")
    model = build_sequence_model(units=8, embedding_dim=4)
    history = train_resumably(model, TweetDataset(toy_store(40), batch_size=10), lambda m: 1.0, tmp_path,
                              time_budget_s=60, verbose=0)
    assert history.empty and int(keras.ops.convert_to_numpy(model.optimizer.iterations)) == 0
    assert json.loads((tmp_path / "done.json").read_text())["seconds_spent"] == 61.0


def test_an_epoch_the_budget_cuts_short_is_labelled_as_cut_not_as_a_whole_epoch(tmp_path, capsys):
    model = build_sequence_model(units=8, embedding_dim=4)
    history = train_resumably(model, TweetDataset(toy_store(40), batch_size=10), lambda m: 1.0, tmp_path,
                              time_budget_s=1e-9, steps_per_epoch=3)
    assert history["steps"].tolist() == [1], "the budget stops training after its first step"
    assert "the time budget ran out during this epoch" in capsys.readouterr().out


def test_a_learning_rate_by_minutes_sets_the_optimizer_before_every_step(tmp_path):
    model = build_sequence_model(units=8, embedding_dim=4, learning_rate=1.0)
    history = train_resumably(model, TweetDataset(toy_store(40), batch_size=10), lambda m: 1.0, tmp_path,
                              time_budget_s=600, max_epochs=2, learning_rate=lambda minutes: 1e-3 / (1 + minutes),
                              verbose=0)
    assert np.allclose(history["learning_rate"], 1e-3 / (1 + history["minutes"]), rtol=0.05)


@pytest.mark.parametrize("kwargs,error,name", [
    (dict(validate="bits"), TypeError, "validate"), (dict(time_budget_s=-1), ValueError, "time_budget_s"),
    (dict(patience=0), ValueError, "patience"), (dict(max_epochs=0), ValueError, "max_epochs"),
])
def test_train_resumably_bad_input_names_the_argument(tmp_path, kwargs, error, name):
    params = dict(validate=lambda m: 1.0, time_budget_s=60) | kwargs
    with pytest.raises(error, match=name):
        train_resumably(build_sequence_model(units=4), TweetDataset(toy_store(20), batch_size=10),
                        run_dir=tmp_path, **params)


KILL_SCRIPT = """
import json, os, signal, sys
sys.path.insert(0, sys.argv[1])
csv, run_dir, kill_epoch, kill_step = sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
import keras, numpy as np, tensorflow as tf
from tweet_lstm.train.callbacks import StepCounter
from tweet_lstm.train.dataset import TweetDataset
from tweet_lstm.train.model import build_sequence_model
from tweet_lstm.store.prepare import prepare_tweets
from tweet_lstm.train.training import train_resumably
tf.config.experimental.enable_op_determinism()
keras.utils.set_random_seed(0)
STEPS = 4
SCORES = [5.0, 4.0, 6.0, 7.0, 3.0, 2.0]  # best after epoch 1; epochs 2 and 3 are worse; patience 2 stops after 3

def validate(model):
    epoch = int(keras.ops.convert_to_numpy(model.optimizer.iterations)) // STEPS - 1
    np.savez(f"{run_dir}-epoch-{epoch}.npz", *model.get_weights())
    return SCORES[epoch]

class Kill(StepCounter):
    def on_train_batch_end(self, batch, logs=None):
        super().on_train_batch_end(batch, logs)
        if (self.epoch, self.step) == (kill_epoch, kill_step):
            os.kill(os.getpid(), signal.SIGKILL)

data = TweetDataset(prepare_tweets(csv, run_dir + "-store"), batch_size=10, seed=3)
model = build_sequence_model(units=8, embedding_dim=4)
train_resumably(model, data, validate, run_dir, time_budget_s=600, steps_per_epoch=STEPS, max_epochs=6,
                patience=2, backup_every=1, callbacks=[Kill()], verbose=0)
np.savez(run_dir + "-final.npz", *model.get_weights())
"""


@pytest.mark.slow
def test_a_run_killed_mid_epoch_resumes_with_its_best_model_and_patience_and_ends_like_an_uninterrupted_one(
        tmp_path):
    """4 steps an epoch, scores 5, 4, 6, 7 (...): the best is epoch 1, and patience 2 stops training after epoch 3.

    One run is killed at step 3 of epoch 2 (before epoch 2 is scored), then killed again at
    step 2 of epoch 3 (epoch 2 scored worse than the best, one epoch of patience used), then
    resumed to the end. With Keras' ``BackupAndRestore``, ``ModelCheckpoint`` and
    ``EarlyStopping`` the restarted run would forget its best score (replacing ``best.keras``
    with epoch 2's worse model) and its patience (training on to epoch 4).
    """
    csv = write_csv_atomically(tweets_frame(80), tmp_path / "t.csv")
    script = tmp_path / "kill.py"
    script.write_text(KILL_SCRIPT)
    reference = start_script(script, csv, tmp_path / "reference", -1, -1)
    for kill, code in [((2, 3), -9), ((3, 2), -9), ((-1, -1), 0)]:
        process = start_script(script, csv, tmp_path / "run", *kill)
        _, stderr = process.communicate(timeout=180)
        assert process.returncode == code, stderr[-3000:]
        if kill[0] >= 0:
            best = keras.models.load_model(tmp_path / "run" / "best.keras")
            for saved, epoch_1 in zip(best.get_weights(), load_weights(tmp_path / "run-epoch-1.npz")):
                np.testing.assert_array_equal(saved, epoch_1)
    _, stderr = reference.communicate(timeout=180)
    assert reference.returncode == 0, stderr[-3000:]

    resumed, uninterrupted = read_history(tmp_path / "run"), read_history(tmp_path / "reference")
    assert resumed["validation"].tolist() == uninterrupted["validation"].tolist() == [5.0, 4.0, 6.0, 7.0]
    assert resumed["best"].tolist() == [True, True, False, False]
    assert resumed["steps"].tolist() == uninterrupted["steps"].tolist() == [4, 8, 12, 16]
    np.testing.assert_allclose(resumed["loss"][:2], uninterrupted["loss"][:2], rtol=1e-5)  # epochs never cut
    best = keras.models.load_model(tmp_path / "run" / "best.keras")
    for saved, epoch_1 in zip(best.get_weights(), load_weights(tmp_path / "reference-epoch-1.npz")):
        np.testing.assert_allclose(saved, epoch_1, rtol=1e-5, atol=1e-7)
    for final_resumed, final_reference in zip(load_weights(tmp_path / "run-final.npz"),
                                              load_weights(tmp_path / "reference-final.npz")):
        np.testing.assert_allclose(final_resumed, final_reference, rtol=1e-5, atol=1e-7)


def test_a_run_folder_holding_a_run_with_other_settings_is_an_error_not_a_resume(tmp_path):
    data = TweetDataset(toy_store(40), batch_size=10)
    train_resumably(build_sequence_model(units=4), data, lambda m: 1.0, tmp_path, 60, max_epochs=1,
                    config={"units": 4}, verbose=0)
    with pytest.raises(ValueError, match=r"holds a run with other settings \(model, units: .*, 4\] there, .*, 8\] now\)"):
        train_resumably(build_sequence_model(units=8), data, lambda m: 1.0, tmp_path, 60, max_epochs=1,
                        config={"units": 8}, verbose=0)

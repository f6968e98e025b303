import json

import keras
import numpy as np
import pytest

from tests.helpers import load_weights, start_script, toy_store, tweets_frame
from tweet_lstm.files import write_csv_atomically, write_json_atomically
from tweet_lstm.store.batches import TweetBatches
from tweet_lstm.train.model import build_sequence_model
from tweet_lstm.train.settings import TrainSettings, run_name
from tweet_lstm.train.training import HISTORY_COLUMNS, read_history, train_resumably

pytestmark = pytest.mark.tf  # every test here needs TensorFlow or Keras


def scores_by_round(scores, steps_per_round):
    """A ``validate`` that returns ``scores[r]`` after round ``r`` (read from the optimizer's step count)."""
    return lambda model: scores[int(keras.ops.convert_to_numpy(model.optimizer.iterations)) // steps_per_round - 1]


def settings(**changes):
    return TrainSettings(**{"minutes": 10.0, "units": 8} | changes)


def test_the_best_model_is_kept_and_early_stopping_counts_rounds_without_a_better_score(tmp_path):
    data = TweetBatches(toy_store(60), batch_size=10)
    model = build_sequence_model(units=8, embedding_dim=4)
    history = train_resumably(model, data, scores_by_round([5.0, 4.0, 4.5, 3.0, 3.5, 3.2, 3.1, 9.0], 3),
                              tmp_path, settings(validate_every=3, patience=3), verbose=0)
    assert list(history.columns) == HISTORY_COLUMNS
    assert history["validation"].tolist() == [5.0, 4.0, 4.5, 3.0, 3.5, 3.2, 3.1]
    assert history["best"].tolist() == [True, True, False, True, False, False, False]
    assert history["steps"].tolist() == [3, 6, 9, 12, 15, 18, 21]
    done = json.loads((tmp_path / "done.json").read_text())
    assert done["rounds"] == 7 and done["best_validation"] == 3.0
    best = keras.models.load_model(tmp_path / "best.keras")
    assert int(keras.ops.convert_to_numpy(best.optimizer.iterations)) == 12, "best.keras is round 3's model"
    again = train_resumably(model, data, lambda m: 0.0, tmp_path, settings(validate_every=3, patience=3), verbose=0)
    assert again.equals(history), "a finished run is read back, not trained again"


def test_a_spent_budget_carries_over_a_restart_and_trains_nothing(tmp_path):
    write_json_atomically({"seconds_spent": 61.0, "epoch": 3}, tmp_path / "budget.json")
    model = build_sequence_model(units=8, embedding_dim=4)
    history = train_resumably(model, TweetBatches(toy_store(40), batch_size=10), lambda m: 1.0, tmp_path,
                              settings(minutes=1.0), verbose=0)
    assert history.empty and int(keras.ops.convert_to_numpy(model.optimizer.iterations)) == 0
    assert json.loads((tmp_path / "done.json").read_text())["seconds_spent"] == 61.0


def test_a_round_the_budget_cuts_short_is_labelled_as_cut_not_as_a_whole_round(tmp_path, capsys):
    model = build_sequence_model(units=8, embedding_dim=4)
    history = train_resumably(model, TweetBatches(toy_store(40), batch_size=10), lambda m: 1.0, tmp_path,
                              settings(minutes=1e-11, validate_every=3))
    assert history["steps"].tolist() == [1], "the budget stops training after its first step"
    assert "the time budget ran out during this round" in capsys.readouterr().out


def test_a_finished_run_read_back_prints_the_round_lines_it_printed_when_it_trained(tmp_path, capsys):
    model = build_sequence_model(units=8, embedding_dim=4)
    data = TweetBatches(toy_store(40), batch_size=10)
    train_resumably(model, data, scores_by_round([3.0, 2.0, 2.5], 2), tmp_path, settings(validate_every=2, max_rounds=3))
    trained = [line.split("  [validated")[0] for line in capsys.readouterr().out.splitlines()]
    train_resumably(model, data, lambda m: 0.0, tmp_path, settings(validate_every=2, max_rounds=3))
    read_back = capsys.readouterr().out.splitlines()
    assert read_back[0] == f"{tmp_path.name} was trained before; its rounds, read back from history.csv:"
    assert read_back[1:] == trained and len(trained) == 3 and trained[1].endswith("validation 2.0000 (best)")


def test_the_learning_rate_follows_the_settings_schedule_in_training_minutes(tmp_path):
    model = build_sequence_model(units=8, embedding_dim=4, learning_rate=1.0)
    chosen = settings(minutes=10.0, learning_rate=1e-3, final_fraction=0.1, max_rounds=3)
    history = train_resumably(model, TweetBatches(toy_store(40), batch_size=10), lambda m: 1.0, tmp_path, chosen,
                              verbose=0)
    expected = [chosen.learning_rate_at(minutes) for minutes in history["minutes"]]
    assert np.allclose(history["learning_rate"], expected, rtol=0.05, atol=2e-6)


def test_the_schedule_falls_along_half_a_cosine_to_its_final_fraction_then_stays():
    chosen = TrainSettings(minutes=10, learning_rate=4e-3, final_fraction=0.05, decay_minutes=20)
    assert chosen.learning_rate_at(0) == 4e-3
    assert chosen.learning_rate_at(10) == pytest.approx(4e-3 * (0.05 + 0.95 / 2))
    assert chosen.learning_rate_at(20) == chosen.learning_rate_at(35) == pytest.approx(2e-4)


def test_other_settings_or_other_batches_get_a_run_folder_of_their_own():
    data = TweetBatches(toy_store(40), batch_size=10)
    names = {run_name("B", settings(), data), run_name("B", settings(dropout=0.1), data),
             run_name("B", settings(), TweetBatches(toy_store(40), batch_size=5))}
    assert len(names) == 3 and run_name("B", settings(), data) == run_name("B", settings(), data)


def test_other_validation_tweets_get_a_run_folder_of_their_own():
    data = TweetBatches(toy_store(40), batch_size=10)
    val, other_val = (TweetBatches(toy_store(n), batch_size=5, shuffle=False) for n in (10, 20))
    names = {run_name("B", settings(), data), run_name("B", settings(), data, val),
             run_name("B", settings(), data, other_val)}
    assert len(names) == 3 and run_name("B", settings(), data, val) == run_name("B", settings(), data, val)


@pytest.mark.parametrize("changes,name", [(dict(minutes=-1), "minutes"), (dict(minutes=1e308), "minutes"),
                                          (dict(patience=0), "patience"), (dict(max_rounds=0), "max_rounds"),
                                          (dict(dropout=1.0), "dropout"), (dict(seed=-5), "seed"),
                                          (dict(validate_every=0), "validate_every")])
def test_settings_out_of_range_name_the_setting(changes, name):
    with pytest.raises((TypeError, ValueError), match=name):
        TrainSettings(**changes)


def test_train_resumably_bad_input_names_the_argument(tmp_path):
    data = TweetBatches(toy_store(20), batch_size=10)
    with pytest.raises(TypeError, match="validate"):
        train_resumably(build_sequence_model(units=4), data, "bits", tmp_path, settings())
    with pytest.raises(TypeError, match="settings"):
        train_resumably(build_sequence_model(units=4), data, lambda m: 1.0, tmp_path, {"minutes": 1})


KILL_SCRIPT = """
import json, os, signal, sys
sys.path.insert(0, sys.argv[1])
csv, run_dir, kill_step = sys.argv[2], sys.argv[3], int(sys.argv[4])
import keras, numpy as np, tensorflow as tf
from tweet_lstm.train.callbacks import StepCounter
from tweet_lstm.store.batches import TweetBatches
from tweet_lstm.store.prepare import prepare_tweets
from tweet_lstm.train.model import build_sequence_model
from tweet_lstm.train.settings import TrainSettings
from tweet_lstm.train.training import train_resumably
tf.config.experimental.enable_op_determinism()
keras.utils.set_random_seed(0)
STEPS = 4
SCORES = [5.0, 4.0, 6.0, 7.0, 3.0, 2.0]  # best after round 1; rounds 2 and 3 are worse; patience 2 stops after 3

def validate(model):
    round_ = int(keras.ops.convert_to_numpy(model.optimizer.iterations)) // STEPS - 1
    np.savez(f"{run_dir}-round-{round_}.npz", *model.get_weights())
    return SCORES[round_]

class Kill(StepCounter):
    def on_train_batch_end(self, batch, logs=None):
        super().on_train_batch_end(batch, logs)
        if self.step == kill_step:
            os.kill(os.getpid(), signal.SIGKILL)

data = TweetBatches(prepare_tweets(csv, run_dir + "-store"), batch_size=10, seed=3)
model = build_sequence_model(units=8, embedding_dim=4)
# final_fraction=1: a constant rate, since a rate that falls with training minutes would make two runs differ by
# how fast the machine took their steps, not by the kill
settings = TrainSettings(minutes=10, units=8, validate_every=STEPS, max_rounds=6, patience=2, backup_every=1,
                         final_fraction=1.0)
train_resumably(model, data, validate, run_dir, settings, callbacks=[Kill()], verbose=0)
np.savez(run_dir + "-final.npz", *model.get_weights())
"""


@pytest.mark.slow
def test_a_run_killed_mid_epoch_resumes_with_its_best_model_and_patience_and_ends_like_an_uninterrupted_one(
        tmp_path):
    """4 steps an epoch, scores 5, 4, 6, 7 (...): the best is epoch 1, and patience 2 stops training after epoch 3.

    One run is killed at step 3 of round 2 (before round 2 is scored), then killed again at
    step 2 of round 3 (round 2 scored worse than the best, one round of patience used), then
    resumed to the end. With Keras' ``BackupAndRestore``, ``ModelCheckpoint`` and
    ``EarlyStopping`` the restarted run would forget its best score (replacing ``best.keras``
    with round 2's worse model) and its patience (training on to round 4).
    """
    csv = write_csv_atomically(tweets_frame(80), tmp_path / "t.csv")
    script = tmp_path / "kill.py"
    script.write_text(KILL_SCRIPT)
    reference = start_script(script, csv, tmp_path / "reference", -1)
    for kill, code in [(11, -9), (14, -9), (-1, 0)]:  # step 3 of round 2, step 2 of round 3, none
        process = start_script(script, csv, tmp_path / "run", kill)
        _, stderr = process.communicate(timeout=180)
        assert process.returncode == code, stderr[-3000:]
        if kill >= 0:
            best = keras.models.load_model(tmp_path / "run" / "best.keras")
            for saved, epoch_1 in zip(best.get_weights(), load_weights(tmp_path / "run-round-1.npz")):
                np.testing.assert_array_equal(saved, epoch_1)
    _, stderr = reference.communicate(timeout=180)
    assert reference.returncode == 0, stderr[-3000:]

    resumed, uninterrupted = read_history(tmp_path / "run"), read_history(tmp_path / "reference")
    assert resumed["validation"].tolist() == uninterrupted["validation"].tolist() == [5.0, 4.0, 6.0, 7.0]
    assert resumed["best"].tolist() == [True, True, False, False]
    assert resumed["steps"].tolist() == uninterrupted["steps"].tolist() == [4, 8, 12, 16]
    np.testing.assert_allclose(resumed["loss"][:2], uninterrupted["loss"][:2], rtol=1e-5)  # rounds never cut
    best = keras.models.load_model(tmp_path / "run" / "best.keras")
    for saved, epoch_1 in zip(best.get_weights(), load_weights(tmp_path / "reference-round-1.npz")):
        np.testing.assert_allclose(saved, epoch_1, rtol=1e-5, atol=1e-7)
    for final_resumed, final_reference in zip(load_weights(tmp_path / "run-final.npz"),
                                              load_weights(tmp_path / "reference-final.npz")):
        np.testing.assert_allclose(final_resumed, final_reference, rtol=1e-5, atol=1e-7)


def test_a_run_folder_holding_a_run_with_other_settings_is_an_error_not_a_resume(tmp_path):
    data = TweetBatches(toy_store(40), batch_size=10)
    train_resumably(build_sequence_model(units=4), data, lambda m: 1.0, tmp_path, settings(max_rounds=1, units=4),
                    verbose=0)
    with pytest.raises(ValueError, match=r"holds a run with other settings \(model, units: .*, 4\] there, .*, 8\] now\)"):
        train_resumably(build_sequence_model(units=8), data, lambda m: 1.0, tmp_path,
                        settings(max_rounds=1, units=8), verbose=0)

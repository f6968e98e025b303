import json

import keras
import numpy as np
import pytest

from tests.helpers import SUBPROCESS_ENV, load_weights, start_script, tweets_frame
from tweet_lstm.train.distribute import distribution_strategy, multi_worker_fit, tf_config_shard
from tweet_lstm.files import write_csv_atomically
from tweet_lstm.train.model import build_sequence_model
from tweet_lstm.train.resume import backup_position
from tweet_lstm.store.prepare import prepare_tweets

pytestmark = pytest.mark.tf  # every test here needs TensorFlow or Keras


def test_distribution_strategy_rejects_an_unknown_name_and_default_reads_everything():
    with pytest.raises(ValueError, match="name"):
        distribution_strategy("tpu")
    strategy, shard = distribution_strategy("default")
    assert strategy.num_replicas_in_sync == 1 and shard == (0, 1)


@pytest.mark.parametrize("config,shard", [
    (None, (0, 1)),
    ({"cluster": {"worker": ["a:1", "b:1", "c:1"]}, "task": {"type": "worker", "index": 2}}, (2, 3)),
    ({"cluster": {"chief": ["a:1"], "worker": ["b:1", "c:1"]}, "task": {"type": "chief", "index": 0}}, (0, 3)),
    ({"cluster": {"chief": ["a:1"], "worker": ["b:1", "c:1"]}, "task": {"type": "worker", "index": 0}}, (1, 3)),
])
def test_tf_config_shard_numbers_the_chief_then_the_workers(monkeypatch, config, shard):
    monkeypatch.setenv("TF_CONFIG", json.dumps(config) if config else "")
    assert tf_config_shard() == shard


@pytest.mark.parametrize("config", [
    "{not json", '{"cluster": {"worker": ["a:1"]}, "task": {"type": "ps", "index": 0}}',
    '{"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", "index": 1}}',
])
def test_tf_config_shard_rejects_a_bad_tf_config(config):
    with pytest.raises(ValueError, match="TF_CONFIG"):
        tf_config_shard(config)


def test_the_multi_worker_patch_is_undone_after_fit():
    model = build_sequence_model(units=4, embedding_dim=2)
    strategy, before = model.distribute_strategy, type(model).train_step
    with multi_worker_fit(model, strategy):
        assert "train_step" in vars(model)
    assert "train_step" not in vars(model) and model.train_step.__func__ is before
    assert model.distribute_strategy is strategy


def test_the_multi_worker_patch_refuses_a_keras_it_was_not_written_for(monkeypatch):
    model = build_sequence_model(units=4, embedding_dim=2)
    monkeypatch.setattr(keras, "__version__", "3.99.0")
    with pytest.raises(RuntimeError, match=r"keras-team/keras#20585; Keras 3\.99\.0 is installed"):
        with multi_worker_fit(model, model.distribute_strategy):
            pass
    assert "train_step" not in vars(model)


MULTI_WORKER_SCRIPT = """
import json, os, sys
sys.path.insert(0, sys.argv[1])
csv, store_dir, out, index, ports = sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), sys.argv[6].split(",")
os.environ["TF_CONFIG"] = json.dumps({"cluster": {"worker": [f"localhost:{p}" for p in ports]},
                                      "task": {"type": "worker", "index": index}})
import keras, numpy as np
from tweet_lstm.store.batches import TweetBatches
from tweet_lstm.train.distribute import distribution_strategy
from tweet_lstm.train.model import build_sequence_model
from tweet_lstm.train.resume import fit_with_backups
from tweet_lstm.store.prepare import prepare_tweets
served = []

class Logged(TweetBatches):
    def batch(self, epoch, index):
        served.append([epoch, index, self.store.texts(self.batch_rows(epoch, index))])
        return super().batch(epoch, index)

strategy, shard = distribution_strategy("multi_worker")
data = Logged(prepare_tweets(csv, store_dir), batch_size=8, shard=shard, seed=0)
keras.utils.set_random_seed(index)  # different initial weights: the strategy must sync them
with strategy.scope():
    model = build_sequence_model(units=8, embedding_dim=4)
result = fit_with_backups(model, data, out + "-backup", rounds=2, backup_every=2)
np.savez(f"{out}-{index}.npz", *model.get_weights())
with open(f"{out}-{index}.json", "w") as f:
    json.dump({"shard": shard, "replicas": strategy.num_replicas_in_sync, "served": served, **result}, f)
"""


def free_ports(n):
    import socket
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("localhost", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


@pytest.mark.slow
def test_two_workers_on_localhost_train_every_tweet_once_an_epoch_in_sync(tmp_path):
    """Two processes under MultiWorkerMirroredStrategy (TF_CONFIG on localhost ports).

    96 tweets in blocks of 8: each shard has 6 batches an epoch, 12 global steps in 2 epochs,
    each spread over 2 Keras steps (half a batch per worker per step). Between them the workers train every
    tweet exactly once per epoch; they start from different random weights and end with
    the same ones. (With shards of unequal size each worker trains as many batches as the
    smallest shard has, so that they step in sync.)
    """
    frame = tweets_frame(96)
    csv = write_csv_atomically(frame, tmp_path / "t.csv")
    prepare_tweets(csv, tmp_path / "store")  # once, before the workers: each reuses it
    manifest = (tmp_path / "store" / "manifest.json").stat().st_mtime_ns
    script = tmp_path / "worker.py"
    script.write_text(MULTI_WORKER_SCRIPT)
    ports = ",".join(map(str, free_ports(2)))
    env = {k: v for k, v in SUBPROCESS_ENV.items() if k != "TF_CONFIG"}
    workers = [start_script(script, csv, tmp_path / "store", tmp_path / "run", i, ports, env=env) for i in range(2)]
    try:
        for worker in workers:
            _, stderr = worker.communicate(timeout=180)
            assert worker.returncode == 0, stderr[-3000:]
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
    results = [json.loads((tmp_path / f"run-{i}.json").read_text()) for i in range(2)]
    assert (tmp_path / "store" / "manifest.json").stat().st_mtime_ns == manifest
    assert [r["shard"] for r in results] == [[0, 2], [1, 2]]
    assert [r["replicas"] for r in results] == [2, 2] and [r["steps"] for r in results] == [12, 12]
    for epoch in range(2):
        trained = {}
        for r in results:  # each fit also reads its first batch once more, to learn the batch's structure
            for e, index, texts in r["served"]:
                if e == epoch:
                    trained[(r["shard"][0], index)] = texts
        assert len(trained) == 12
        assert sorted(t for texts in trained.values() for t in texts) == sorted(frame["text"])
    for a, b in zip(load_weights(tmp_path / "run-0.npz"), load_weights(tmp_path / "run-1.npz")):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    for i in range(2):
        assert backup_position(tmp_path / "run-backup" / f"worker-{i}")[0] == 12

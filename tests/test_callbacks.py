import io
import json
import time
from pathlib import Path

import psutil
import pytest

from tweet_lstm.train.callbacks import MemoryRecorder, ProgressLines, StepCounter, TrainingTimeBudget
from tweet_lstm.machine import peak_rss_bytes
from tweet_lstm.train.model import build_sequence_model

pytestmark = pytest.mark.tf  # every test here needs TensorFlow or Keras


def test_a_step_counter_goes_on_from_the_optimizers_step_count_after_a_resume():
    model = build_sequence_model(units=4, embedding_dim=2)
    model.optimizer.build(model.trainable_variables)
    model.optimizer.iterations.assign(7)  # as restored from a backup taken after 7 steps
    counter = StepCounter()
    counter.set_model(model)
    counter.on_epoch_begin(3)
    assert (counter.epoch, counter.step) == (3, 7)
    counter.on_train_batch_end(0)
    counter.on_train_batch_end(1)
    assert counter.step == 9, "Keras counts batches from 0 again; the global step goes on"


def test_the_recorders_peak_covers_memory_between_its_samples():
    try:  # Linux: start the high-water mark again from the memory in use now
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pytest.skip("the peak of this process cannot be reset here")
    recorder = MemoryRecorder()
    before = recorder.max_rss_mb
    ballast = bytearray(200_000_000)
    ballast[::4096] = b"\x01" * len(ballast[::4096])  # touch every page, so that it is resident
    del ballast
    assert recorder.max_rss_mb >= before + 190, "the high-water mark saw the 200 MB no sample was taken of"
    assert psutil.Process().memory_info().rss / 1e6 < recorder.max_rss_mb


def fresh_model():
    model = build_sequence_model(units=4, embedding_dim=2)
    model.optimizer.build(model.trainable_variables)
    return model


def test_progress_lines_are_plain_text_without_colour_codes_or_redraws(capsys):
    progress = ProgressLines(updates=4, tweets_per_step=10)
    progress.set_model(fresh_model())
    progress.params = {"steps": 8}
    progress.on_train_begin()
    progress.on_epoch_begin(0)
    for batch in range(8):
        progress.on_train_batch_end(batch, {"loss": 2.5})
    out = capsys.readouterr().out
    assert len(out.splitlines()) == 4 and out.splitlines()[0].startswith("  step 2/8")
    assert "step 8/8" in out and "loss 2.5000" in out and "tweets/s" in out
    assert not set(out) & {"\x1b", "\b", "\r"}


def test_progress_lines_after_a_resume_say_so_and_count_on_from_the_global_step(capsys):
    progress = ProgressLines(updates=2, tweets_per_step=10)
    progress.set_model(fresh_model())
    progress.model.optimizer.iterations.assign(6)
    progress.params = {"steps": 4}
    progress.on_epoch_begin(0)
    for batch in range(4):
        progress.on_train_batch_end(batch, {"loss": 2.5})
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "resumed at step 6" and lines[1].startswith("  step  8/10") and "step 10/10" in lines[2]


def test_a_progress_bar_redraws_one_line_per_round_and_ends_it_before_the_next_output(monkeypatch):
    stream = io.StringIO()
    bar = ProgressLines(tweets_per_step=10, bar=True, stream=stream)
    clock = iter(range(0, 100))
    monkeypatch.setattr("tweet_lstm.train.callbacks.time.perf_counter", lambda: next(clock))  # 1 s a call
    bar.set_model(fresh_model())
    bar.params = {"steps": 4}
    bar.on_train_begin()
    bar.on_epoch_begin(0)
    for batch in range(4):
        bar.on_train_batch_end(batch, {"loss": 2.5})
    bar.on_epoch_end(0)
    out = stream.getvalue()
    assert out.endswith("\n") and out.count("\n") == 1, "one line, finished at the round's end"
    draws = out.rstrip("\n").split("\r")[1:]
    assert len(draws) == 4 and draws[0].startswith("round 1 [" + "#" * 8 + "." * 22 + "] step 1/4")
    assert draws[-1].startswith("round 1 [" + "#" * 30 + "] step 4/4") and "loss 2.5000" in draws[-1]


def test_the_time_budget_counts_time_spent_inside_an_interrupted_epoch(tmp_path):
    state = tmp_path / "budget.json"
    budget = TrainingTimeBudget(60.0, state, save_every_s=0.0)
    budget.set_model(build_sequence_model(units=4, embedding_dim=2))
    budget.on_epoch_begin(0)
    time.sleep(0.2)
    budget.on_train_batch_end(0)  # the process dies here, before the epoch ends
    resumed = TrainingTimeBudget(60.0, state)
    assert resumed.spent >= 0.2 and not resumed.exhausted
    assert json.loads(state.read_text())["epoch"] == 0
    assert not list(tmp_path.glob("*.part")), "written atomically"


@pytest.mark.parametrize("cls,kwargs,name", [
    (MemoryRecorder, dict(every=0), "every"), (ProgressLines, dict(updates=0), "updates"),
    (TrainingTimeBudget, dict(seconds=-1, state_path="x"), "seconds"),
])
def test_callbacks_reject_bad_arguments_naming_them(cls, kwargs, name):
    with pytest.raises(ValueError, match=name):
        cls(**kwargs)


def test_the_c_heap_figures_see_an_array_come_and_go():
    import numpy as np
    from tweet_lstm.train.callbacks import malloc_heap_mb
    before, _ = malloc_heap_mb()
    if before != before:
        pytest.skip("no glibc: the C heap figures are NaN")
    array = np.ones(10**7)  # 80 MB
    during, _ = malloc_heap_mb()
    del array
    after, _ = malloc_heap_mb()
    assert during - before == pytest.approx(80, abs=2) and after == pytest.approx(before, abs=2)

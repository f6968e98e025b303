import io
import json
import time

import psutil
import pytest

from tweet_lstm.train.callbacks import MemoryRecorder, ProgressBar, ProgressLines, StepCounter, TrainingTimeBudget
from tweet_lstm.machine import peak_rss_bytes
from tweet_lstm.train.model import build_sequence_model

pytestmark = pytest.mark.tf  # every test here needs TensorFlow or Keras


def test_a_step_counter_counts_the_steps_done_before_a_resume():
    counter = StepCounter()
    counter.initial_step = 7
    counter.on_train_begin()
    counter.on_epoch_begin(3)
    assert (counter.epoch, counter.step) == (3, 7)
    counter.on_train_batch_end(0)
    counter.on_train_batch_end(1)
    assert counter.step == 9
    counter.on_epoch_end(3)
    counter.on_epoch_begin(4)
    counter.on_train_batch_end(0)
    assert (counter.epoch, counter.step) == (4, 1), "the next epoch starts at step 0 again"


def test_the_recorder_reports_this_process_peak_memory_in_megabytes():
    assert MemoryRecorder().max_rss_mb == pytest.approx(peak_rss_bytes() / 1e6, rel=0.5)


def test_progress_lines_are_plain_text_without_colour_codes_or_redraws(capsys):
    progress = ProgressLines(updates=4, tweets_per_step=10, total_steps=8)
    progress.params = {"steps": 8}
    progress.on_train_begin()
    progress.on_epoch_begin(0)
    for batch in range(8):
        progress.on_train_batch_end(batch, {"loss": 2.5})
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "epoch 1: 8 steps" and len(out.splitlines()) == 5
    assert "step 8/8" in out and "loss 2.5000" in out and "tweets/s" in out
    assert not set(out) & {"\x1b", "\b", "\r"}


def test_a_progress_bar_redraws_one_line_per_epoch_and_ends_it_before_the_next_output():
    stream = io.StringIO()
    bar = ProgressBar(tweets_per_step=10, width=8, per_second=1e9, stream=stream)
    bar.params = {"steps": 4}
    bar.on_train_begin()
    bar.on_epoch_begin(0)
    for batch in range(4):
        bar.on_train_batch_end(batch, {"loss": 2.5})
    bar.on_epoch_end(0)
    out = stream.getvalue()
    assert out.endswith("\n") and out.count("\n") == 1, "one line, finished at the epoch's end"
    draws = out.rstrip("\n").split("\r")[1:]
    assert len(draws) == 5 and draws[0].startswith("epoch 1 [##......] 1/4")
    assert draws[-1].startswith("epoch 1 [########] 4/4") and "loss 2.5000" in draws[-1]


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

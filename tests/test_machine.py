import os
import subprocess
import sys

import psutil
import pytest

from tests.helpers import ROOT
from tweet_lstm import machine
from tweet_lstm.machine import machine_description, peak_rss_bytes


def test_the_peak_memory_figure_is_in_bytes_on_this_platform():
    rss = psutil.Process().memory_info().rss
    assert rss * 0.9 <= peak_rss_bytes() < psutil.virtual_memory().total


@pytest.mark.slow
def test_a_child_process_reports_its_own_peak_memory_not_its_parents():
    """Linux's ru_maxrss carries a parent's peak into a child started from it (a notebook kernel
    started by pytest reported 4,416 MB): the figure must be the child's own."""
    ballast = bytearray(600_000_000)
    ballast[::4096] = b"\x01" * len(ballast[::4096])  # touch every page, so that it is resident
    code = "from tweet_lstm.machine import peak_rss_bytes; print(peak_rss_bytes())"
    child = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert psutil.Process().memory_info().rss > 600e6
    assert int(child.stdout) < 300e6, "the child's peak includes the parent's memory"
    del ballast


@pytest.mark.parametrize("flags, vector", [
    ({"fpu", "avx2", "avx512f"}, "AVX-512"), ({"avx512f", "amx_tile"}, "AVX-512, AMX"),
    ({"fpu", "avx2", "avx512bw"}, "no AVX-512"), (set(), "vector extensions unknown")])
def test_the_machine_line_gives_this_processs_cores_the_memory_and_avx512_iff_the_cpu_flags_have_avx512f(
        monkeypatch, flags, vector):
    monkeypatch.setattr(machine, "cpu_flags", lambda: flags)
    cores, memory = len(os.sched_getaffinity(0)), psutil.virtual_memory().total / 2**30
    assert machine_description() == f"{machine.cpu_name()}, {cores} cores, {vector}, {memory:.0f} GiB of memory"

import subprocess
import sys

import psutil

from tests.helpers import ROOT
from tweet_lstm.machine import machine_description, peak_rss_bytes


def test_the_peak_memory_figure_is_in_bytes_on_this_platform():
    rss = psutil.Process().memory_info().rss
    assert rss * 0.9 <= peak_rss_bytes() < psutil.virtual_memory().total


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


def test_the_machine_line_names_cores_and_memory():
    line = machine_description()
    assert " cores, " in line and line.endswith(" GiB of memory")

"""What machine a measurement ran on (the CPU, its cores and vector extensions, the memory) and
the peak memory of this process."""

import os
import platform
import sys

import psutil


def cpu_name():
    """The CPU's model name (from /proc/cpuinfo on Linux, the platform module elsewhere)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_flags():
    """The CPU's feature flags as a set (Linux only; empty elsewhere)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def machine_description():
    """One line: CPU model, cores this process may use, AVX-512 and AMX support, memory."""
    flags = cpu_flags()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    extensions = [name for name, flag in (("AVX-512", "avx512f"), ("AMX", "amx_tile")) if flag in flags]
    vector = ", ".join(extensions) if extensions else ("no AVX-512" if flags else "vector extensions unknown")
    memory = psutil.virtual_memory().total / 2**30
    return f"{cpu_name()}, {cores} cores, {vector}, {memory:.0f} GiB of memory"


def peak_rss_bytes():
    """This process's peak resident memory so far, in bytes, on Linux, macOS and Windows.

    On Linux it is ``VmHWM`` from ``/proc/self/status``: the high-water mark of this program
    alone. (``ru_maxrss`` is not used there: Linux carries it over from the parent across
    fork and exec, so a notebook kernel started by a large pytest process would report the
    parent's peak.)
    """
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024  # reported in kB (KiB)
    except OSError:
        pass
    try:
        import resource
    except ImportError:  # Windows
        return psutil.Process().memory_info().peak_wset
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # macOS reports bytes, other Unixes KiB

"""What machine a measurement ran on (CPU, cores, vector extensions, memory) and this process's memory."""

import os
import platform
import sys

import psutil


def _first_line_value(path, prefix):
    """What follows the ``:`` on the first line of ``path`` that starts with ``prefix``; None if the file cannot
    be read (not Linux) or has no such line."""
    try:
        with open(path, encoding="utf-8") as f:
            return next((line.split(":", 1)[1].strip() for line in f if line.startswith(prefix)), None)
    except OSError:
        return None


def _status_bytes(key):
    """The ``key`` line of ``/proc/self/status`` (reported in kB, i.e. KiB) in bytes; None where there is none."""
    value = _first_line_value("/proc/self/status", key)
    return None if value is None else int(value.split()[0]) * 1024


def cpu_name():
    """The CPU's model name (from /proc/cpuinfo on Linux, the platform module elsewhere)."""
    return _first_line_value("/proc/cpuinfo", "model name") or platform.processor() or platform.machine()


def cpu_flags():
    """The CPU's feature flags as a set (Linux only; empty elsewhere)."""
    return set((_first_line_value("/proc/cpuinfo", "flags") or "").split())


def machine_description():
    """One line: CPU model, cores this process may use, AVX-512 and AMX support, memory."""
    flags = cpu_flags()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    extensions = [name for name, flag in (("AVX-512", "avx512f"), ("AMX", "amx_tile")) if flag in flags]
    vector = ", ".join(extensions) if extensions else ("no AVX-512" if flags else "vector extensions unknown")
    memory = psutil.virtual_memory().total / 2**30
    return f"{cpu_name()}, {cores} cores, {vector}, {memory:.0f} GiB of memory"


def vmhwm_bytes():
    """Linux's ``VmHWM`` (the high-water mark of this program's resident memory) in bytes; None elsewhere.
    Writing ``5`` to ``/proc/self/clear_refs`` resets it to the current RSS."""
    return _status_bytes("VmHWM:")


def rss_kinds_bytes():
    """``(anonymous, file_backed)`` resident memory of this process in bytes, ``(None, None)`` where ``/proc``
    does not say. File-backed pages (a memory-mapped store) can be dropped and read again by the kernel."""
    return _status_bytes("RssAnon:"), _status_bytes("RssFile:")


def peak_rss_bytes():
    """This process's peak resident memory so far, in bytes, on Linux, macOS and Windows: on Linux ``vmhwm_bytes()``,
    not ``ru_maxrss``, which Linux carries over from the parent across fork and exec (a notebook kernel started by a
    large pytest process would report the parent's peak)."""
    if (peak := vmhwm_bytes()) is not None:
        return peak
    try:
        import resource
    except ImportError:  # Windows
        return psutil.Process().memory_info().peak_wset
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # macOS reports bytes, other Unixes KiB

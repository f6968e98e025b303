"""Import TensorFlow without its start-up log lines: ``TF_CPP_MIN_LOG_LEVEL`` is read only once TensorFlow's libraries
have loaded, so the INFO lines they log while loading (oneDNN, no CUDA driver, absl's notice) escape it;
``import_tensorflow_quietly`` captures stderr (file descriptor 2) for the import alone and passes on everything but
those lines, so warnings and errors still show."""

import os
import re
import sys
import tempfile

_LOG_LINE = re.compile(r"[IWEF]\d{4} [\d:.]+ +\d+ \S+:\d+\] ")
_ABSL_NOTICE = "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"


def without_info_lines(text):
    """``text`` without absl's notice and the INFO-level (``I0000 ...``) log lines and their continuations."""
    kept, dropping = [], False
    for line in text.splitlines(keepends=True):
        if line.startswith(_ABSL_NOTICE):
            continue
        if _LOG_LINE.match(line):
            dropping = line.startswith("I")
        if not dropping:
            kept.append(line)
    return "".join(kept)


def import_tensorflow_quietly():
    """Import TensorFlow (once per process; ``TF_CPP_MIN_LOG_LEVEL`` 3 unless set) without its load-time INFO lines."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if "tensorflow" in sys.modules:
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            import tensorflow  # noqa: F401
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            sys.stderr.write(without_info_lines(captured.read().decode("utf-8", "replace")))
            sys.stderr.flush()

"""Execute the numbered notebooks top to bottom, headless, one progress line each.

    python scripts/run_notebooks.py                              # full run, outputs written back in place
    python scripts/run_notebooks.py --smoke                      # smoke mode, copies in runs/quick/
    python scripts/run_notebooks.py --smoke notebooks/04_train_lstm.ipynb   # one chapter

The kernel gets ``TF_CPP_MIN_LOG_LEVEL=3`` (TensorFlow's C++ log: fatal errors only) unless
it is set already. Smoke mode sets ``SMOKE=1`` and ``SMOKE_DIR`` (where a smoke run may
write: the ``--out`` folder's ``work/``, or the folder the tests give); each notebook's
parameters cell reads them and shrinks its workload (a reader can also set ``SMOKE = True``
in that cell). A smoke run or a changed parameter never writes over a committed notebook: its
copies go to ``--out`` (default ``runs/quick/``). The test suite uses ``execute_notebook`` the
same way.
"""

import argparse
import os
import shutil
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def kernel_environment(smoke, work_dir):
    """The environment a notebook's kernel starts with."""
    env = {**os.environ, "SMOKE": "1" if smoke else "0"}
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if smoke:
        env["SMOKE_DIR"] = str(Path(work_dir).resolve())
    return env


def execute_notebook(path, smoke=False, timeout=None, work_dir=None, changes=None, cwd=None):
    """Execute the notebook at ``path`` in ``cwd`` (default: its own folder); return it.

    In smoke mode the notebook writes only under ``work_dir`` (default: ``runs/smoke``).
    ``changes`` (lines of Python, e.g. a chapter's "Try it" suggestion ``"STEP = 1"``) are
    appended to the parameters cell, as a reader would edit it. A failing cell raises
    ``nbclient.exceptions.CellExecutionError`` with its traceback.
    """
    work_dir = Path(work_dir) if work_dir is not None else ROOT / "runs" / "smoke"
    nb = nbformat.read(path, as_version=4)
    if changes:
        parameters = next(c for c in nb.cells if c.cell_type == "code" and "SMOKE = " in c.source)
        parameters.source += "\n" + changes
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", record_timing=False,
                            resources={"metadata": {"path": str(cwd or Path(path).parent)}})
    client.execute(env=kernel_environment(smoke, work_dir))
    return nb


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="small, fast parameters")
    parser.add_argument("--out", type=Path, help="write executed notebooks here instead of in place "
                                                 "(default with --smoke or --change: runs/quick)")
    parser.add_argument("--change", help='a line for each parameters cell, e.g. "STEP = 1"')
    parser.add_argument("notebooks", nargs="*", type=Path, default=NOTEBOOKS)
    args = parser.parse_args(argv)
    if args.out is None and (args.smoke or args.change):
        args.out = ROOT / "runs" / "quick"  # the committed notebooks keep their full run and their parameters
    total, started = time.perf_counter(), time.time()
    work_dir = (args.out or ROOT / "runs" / "smoke") / "work"
    if args.smoke:
        shutil.rmtree(work_dir, ignore_errors=True)  # a smoke run starts from nothing
    for path in args.notebooks:
        start = time.perf_counter()
        nb = execute_notebook(path, smoke=args.smoke, work_dir=work_dir, changes=args.change)
        target = path if args.out is None else args.out / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, target)
        print(f"{path.name}: executed in {time.perf_counter() - start:.1f} s -> {target}", flush=True)
    print(f"{len(args.notebooks)} notebook(s) in {time.perf_counter() - total:.1f} s", flush=True)
    produced = {}
    for folder in ("runs", "benchmarks/results", "data"):
        for p in (ROOT / folder).rglob("*"):
            if p.is_file() and p.stat().st_mtime >= started:
                produced.setdefault(p.parent.relative_to(ROOT), []).append(p.stat().st_size)
    if produced:
        print("files written by the notebooks:")
        for folder, sizes in sorted(produced.items()):
            print(f"  {folder}/: {len(sizes)} file(s), {sum(sizes) / 1e6:.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())

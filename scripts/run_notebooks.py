"""Execute the numbered notebooks top to bottom, headless, one progress line each.

    python scripts/run_notebooks.py                 # full run, outputs written back in place
    python scripts/run_notebooks.py --smoke --out runs/quick   # smoke mode, copies elsewhere

Smoke mode sets SMOKE=1 in the kernel's environment; each notebook's parameters cell
reads it and shrinks its workload. The test suite uses ``execute_notebook`` the same way.
"""

import argparse
import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def execute_notebook(path, smoke=False, timeout=None):
    """Execute the notebook at ``path`` with ``notebooks/`` as working directory; return it.

    ``SMOKE`` is set to ``1`` or ``0`` for the kernel. A failing cell raises
    ``nbclient.exceptions.CellExecutionError`` with the cell's traceback.
    """
    nb = nbformat.read(path, as_version=4)
    previous = os.environ.get("SMOKE")
    os.environ["SMOKE"] = "1" if smoke else "0"
    try:
        NotebookClient(nb, timeout=timeout, kernel_name="python3", record_timing=False,
                       resources={"metadata": {"path": str(Path(path).parent)}}).execute()
    finally:
        if previous is None:
            os.environ.pop("SMOKE", None)
        else:
            os.environ["SMOKE"] = previous
    return nb


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="small, fast parameters")
    parser.add_argument("--out", type=Path, help="write executed notebooks here instead of in place")
    parser.add_argument("notebooks", nargs="*", type=Path, default=NOTEBOOKS)
    args = parser.parse_args(argv)
    total, started = time.perf_counter(), time.time()
    for path in args.notebooks:
        start = time.perf_counter()
        nb = execute_notebook(path, smoke=args.smoke)
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

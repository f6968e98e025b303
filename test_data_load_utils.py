"""The public API the notebooks rely on (``import data_load_utils as util``), and smoke runs of every notebook.

The package's own tests are in ``tests/``, one file per module.
"""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

import data_load_utils as util
from conftest import DATA, ROOT, SHARED, require_data
from tests.helpers import SUBPROCESS_ENV

NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
NOISE = {"TensorFlow log line": re.compile(r"^[IWEF]0000 ", re.M), "ANSI escape": re.compile("\x1b\\["),
         "backspace": re.compile("\b"), "carriage return": re.compile("\r(?!\n)"),
         "absl notice": re.compile("All log messages before absl::InitializeLog"),
         "object repr": re.compile(r"<[\w.]+ (object )?at 0x[0-9a-f]+>"),
         "Python warning": re.compile(r"\b\w+Warning: "),
         "TensorFlow Python log line": re.compile(r"^(WARNING|ERROR|INFO):(tensorflow|absl):", re.M)}


def python(code, **kwargs):
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=SUBPROCESS_ENV | kwargs,
                          capture_output=True, text=True, timeout=120)


def test_importing_util_to_read_and_clean_tweets_does_not_load_tensorflow():
    done = python("import sys, data_load_utils as util, pandas as pd; "
                  "util.clean_tweet_text(pd.Series(['a @user tweet'])); util.encode_tweets_to_ids(['hi']); "
                  "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules")
    assert done.returncode == 0, done.stderr


@pytest.mark.tf
def test_a_tensorflow_name_loads_on_first_use_without_start_up_log_lines():
    done = python("import sys, data_load_utils as util; util.tf_dataset; assert 'tensorflow' in sys.modules",
                  TF_CPP_MIN_LOG_LEVEL="")
    assert done.returncode == 0, done.stderr
    assert not NOISE["TensorFlow log line"].search(done.stderr) and not NOISE["absl notice"].search(done.stderr)


def notebook_code(path):
    return "\n".join("".join(c["source"]) for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code")


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[nb.name for nb in NOTEBOOKS])
def test_every_util_name_a_notebook_uses_exists_and_is_public(notebook):
    names = set(re.findall(r"\butil\.(\w+)", notebook_code(notebook)))
    assert "read_tweet_data" in names or "prepare_tweets" in names, "it reads the tweets through util"
    assert not [n for n in names if n.startswith("_")], "notebooks use public names only"
    assert [n for n in names if n not in dir(util)] == []  # dir: without importing TensorFlow


@pytest.mark.tf
def test_every_name_that_needs_tensorflow_loads_on_first_use():
    assert [n for n in dir(util) if not hasattr(util, n)] == []


def test_the_make_data_command_builds_the_tweets_csv_from_a_local_folder(tmp_path):
    source = SHARED / "tweeteval_emoji"
    if not source.is_dir():
        pytest.skip(f"{source} is not here")
    done = subprocess.run([sys.executable, "data_load_utils.py", "make-data", "--out", str(tmp_path / "t.csv"),
                           "--source", str(source)], cwd=ROOT, env=SUBPROCESS_ENV, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"wrote {tmp_path / 't.csv'}: 100,000 tweets (train 45,000, val 5,000, test 50,000)")


def test_the_tweets_csv_has_the_tweeteval_splits_and_20_emojis(real_tweets):
    assert len(real_tweets) == 100_000
    assert real_tweets["split"].value_counts().to_dict() == {"train": 45_000, "val": 5_000, "test": 50_000}
    assert real_tweets["emoji"].nunique() == 20
    assert list(real_tweets.columns) == ["text", "emoji", "split"]


def noise_in(outputs):
    """``(kind, excerpt)`` of every kind of noise found in a notebook's outputs."""
    found = []
    for output in outputs:
        texts = [output.get("text", "")] + [v for k, v in output.get("data", {}).items() if k.startswith("text/")]
        for text in texts:
            text = "".join(text) if isinstance(text, list) else text
            for kind, pattern in NOISE.items():
                match = pattern.search(text)
                if match:
                    found.append((kind, text[max(0, match.start() - 40):match.end() + 40]))
    return found


@pytest.mark.slow
@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[nb.name for nb in NOTEBOOKS])
def test_notebook_runs_top_to_bottom_in_smoke_mode_with_clean_outputs_inside_a_temporary_folder(notebook, tmp_path):
    """Each notebook asserts its own invariants; a failing cell raises here with its traceback."""
    require_data()
    sys.path.insert(0, str(ROOT / "scripts"))
    from run_notebooks import execute_notebook
    before = {p for p in (ROOT / "runs").rglob("*")} if (ROOT / "runs").exists() else set()
    executed = execute_notebook(notebook, smoke=True, timeout=600, work_dir=tmp_path)
    outputs = [o for c in executed.cells if c.cell_type == "code" for o in c.outputs]
    assert noise_in(outputs) == []
    after = {p for p in (ROOT / "runs").rglob("*")} if (ROOT / "runs").exists() else set()
    assert after == before, "a smoke run writes only inside its temporary folder"
    assert DATA.exists()


TRY_IT = {"01_explore_tweets.ipynb": "MAX_LENGTH = 100", "02_batch_generator.ipynb": "WINDOW_SIZE = 40",
          "03_profile_eager_vs_generator.ipynb": "BATCH_SIZE = 32", "04_train_lstm.ipynb": "B_BATCH_SIZE = 128",
          "05_a_million_tweets.ipynb": "BUCKET_BATCHES = 1"}
"""One change each chapter's "Try it" section suggests, run by the tests so the suggestion keeps working."""


def try_it_section(notebook):
    """The text of the notebook's "Try it" section ("" if it has none)."""
    cells = json.loads(notebook.read_text())["cells"]
    text = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    return text.split("## Try it", 1)[1].split("\n## ", 1)[0] if "## Try it" in text else ""


@pytest.mark.slow
@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[nb.name for nb in NOTEBOOKS])
def test_a_change_the_chapter_suggests_in_try_it_runs_in_smoke_mode(notebook, tmp_path):
    require_data()
    change = TRY_IT[notebook.name]
    assert f"`{change}`" in try_it_section(notebook), "the change is one the chapter suggests"
    sys.path.insert(0, str(ROOT / "scripts"))
    from run_notebooks import execute_notebook
    executed = execute_notebook(notebook, smoke=True, timeout=600, work_dir=tmp_path, changes=change)
    assert any(c.source.endswith(change) for c in executed.cells if c.cell_type == "code")


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[nb.name for nb in NOTEBOOKS])
def test_every_chapter_ends_with_a_try_it_section_before_its_last_words(notebook):
    assert len(re.findall(r"\n[-*] `", try_it_section(notebook))) >= 2, "two to four concrete changes"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[nb.name for nb in NOTEBOOKS])
def test_committed_notebooks_are_executed_with_clean_outputs(notebook):
    cells = [c for c in json.loads(notebook.read_text())["cells"] if c["cell_type"] == "code"]
    assert all(c["execution_count"] is not None for c in cells), "committed executed, top to bottom"
    assert [c["execution_count"] for c in cells] == list(range(1, len(cells) + 1))
    outputs = [o for c in cells for o in c["outputs"]]
    assert not [o for o in outputs if o["output_type"] == "error"]
    assert noise_in(outputs) == []


def code_lines(notebook):
    return [line for c in json.loads(notebook.read_text())["cells"] if c["cell_type"] == "code"
            for line in "".join(c["source"]).splitlines()]


def fenced_lines(notebook):
    """The lines inside ``` fences of a chapter's markdown cells (commands shown, not run)."""
    lines, inside = [], False
    for cell in json.loads(notebook.read_text())["cells"]:
        if cell["cell_type"] == "markdown":
            for line in "".join(cell["source"]).splitlines():
                if line.startswith("```"):
                    inside = not inside
                elif inside:
                    lines.append(line)
    return lines


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[nb.name for nb in NOTEBOOKS])
def test_no_code_line_of_a_chapter_is_over_88_characters_so_the_website_shows_it_whole(notebook):
    shown = code_lines(notebook) + fenced_lines(notebook)
    assert [line for line in shown if len(line) > 88] == []


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[nb.name for nb in NOTEBOOKS])
def test_a_chapter_tells_how_to_run_it_small_without_touching_the_committed_notebook(notebook):
    lines = code_lines(notebook)
    first = next(i for i, line in enumerate(lines) if line.startswith("SMOKE = "))
    assert lines[first].startswith("SMOKE = False"), "a reader switches smoke mode on in the cell"
    assert lines[first + 1] == 'SMOKE = SMOKE or os.environ.get("SMOKE") == "1"', "or --smoke does"
    text = "\n".join("".join(c["source"]) for c in json.loads(notebook.read_text())["cells"]
                     if c["cell_type"] == "markdown")
    assert f"python ../scripts/run_notebooks.py --smoke {notebook.name}" in text


@pytest.mark.slow
def test_running_a_chapter_the_small_way_it_suggests_leaves_the_committed_notebooks_as_they_are(tmp_path):
    """The smoke command of a chapter, run from notebooks/ as it says, and SMOKE = True set in its cell."""
    require_data()
    before = {nb.name: nb.read_bytes() for nb in NOTEBOOKS}
    done = subprocess.run([sys.executable, "../scripts/run_notebooks.py", "--smoke", NOTEBOOKS[0].name],
                          cwd=ROOT / "notebooks", env=SUBPROCESS_ENV, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (ROOT / "runs" / "quick" / NOTEBOOKS[0].name).exists(), "the copy goes to runs/quick/"
    sys.path.insert(0, str(ROOT / "scripts"))
    from run_notebooks import execute_notebook
    edited = json.loads(NOTEBOOKS[0].read_text())
    parameters = next(c for c in edited["cells"]
                      if c["cell_type"] == "code" and "SMOKE = False" in "".join(c["source"]))
    parameters["source"] = "".join(parameters["source"]).replace("SMOKE = False", "SMOKE = True", 1)
    copy = tmp_path / NOTEBOOKS[0].name
    copy.write_text(json.dumps(edited))
    execute_notebook(copy, smoke=False, timeout=600, work_dir=tmp_path, changes="assert SMOKE",
                     cwd=ROOT / "notebooks")
    assert {nb.name: nb.read_bytes() for nb in NOTEBOOKS} == before


def test_data_path_is_where_the_notebooks_read_it():
    assert all("../data/tweets.csv" in notebook_code(nb) for nb in NOTEBOOKS)
    assert Path(util.__file__).resolve().parent == ROOT


def notebook_outputs_text():
    """Every text output of the committed notebooks, joined."""
    texts = []
    for notebook in NOTEBOOKS:
        for cell in json.loads(notebook.read_text())["cells"]:
            for output in cell.get("outputs", []):
                texts.append("".join(output.get("text", "")))
                texts.append("".join(output.get("data", {}).get("text/plain", "")))
    return "\n".join(texts)


NUMBER = re.compile(r"(?<![\w.,#/+-])\d[\d,]*(?:\.\d+)?(?![\w])")
NOT_A_FIGURE = [re.compile(p, re.S | re.M) for p in (
    r"```.*?```", r"`[^`]*`", r"\]\([^)]*\)", r"^#+ .*$", r"^\s*\d+\.\s",  # code, links, headings, list numbers
    r"\b(?:[Ss]ections?|[Cc]hapters?|[Nn]otebooks?|[Cc]ells?|Python|NumPy|Keras|TensorFlow|pandas|SemEval|Task|U\+[0-9A-F]+)"
    r"\s+[\d.]+(?:\s*(?:,|and|to|-)\s*[\d.]+)*",                              # references and versions
    r"\b(?:19|20)\d\d\b")]                                                     # years


def prose_figures(markdown):
    """The numbers a chapter's prose states: not in code, links, headings, list numbers, references or years."""
    for pattern in NOT_A_FIGURE:
        markdown = pattern.sub("", markdown)
    return NUMBER.findall(markdown)


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[nb.name for nb in NOTEBOOKS])
def test_every_number_in_a_chapters_prose_is_in_its_outputs_or_its_code(notebook):
    cells = json.loads(notebook.read_text())["cells"]
    code = [re.sub(r"(\d)_(\d)", r"\1,\2", "".join(c["source"])) for c in cells if c["cell_type"] == "code"]
    outputs = ["".join(o.get(k, "")) if k == "text" else "".join(o.get("data", {}).get("text/plain", ""))
               for c in cells if c["cell_type"] == "code" for o in c["outputs"] for k in ("text", "data")]
    known = "\n".join(code + outputs)
    unbacked = [(i, figure) for i, c in enumerate(cells) if c["cell_type"] == "markdown"
                for figure in prose_figures("".join(c["source"])) if figure.rstrip(".,") not in known]
    assert unbacked == [], "(cell, figure) in the prose that no output or code of the chapter shows"


def test_every_figure_and_sample_in_the_readme_results_comes_from_a_committed_notebook_output():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    results = readme.split("\n## Results", 1)[1].split("\n## ", 1)[0]
    outputs = notebook_outputs_text()
    figures = re.findall(r"(?<![\w.,#])\d[\d,]*(?:\.\d+)?(?![\w])", results)
    assert len(figures) > 30
    assert [f for f in figures if f not in outputs] == []
    samples = [line[2:].strip() for line in results.splitlines() if line.startswith("> ") and line[2:].strip()]
    assert samples and [s for s in samples if s not in outputs] == []


def test_the_readme_opens_with_a_way_in_a_generated_tweet_then_start_here_with_every_chapter():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    lines = readme.splitlines()
    first_screen = "\n".join(lines[:40])
    tweets = [line[2:].strip() for line in lines[:15] if line.startswith("> ")]
    assert tweets and all(tweet in notebook_outputs_text() for tweet in tweets), "a tweet the model wrote"
    assert "## Start here" in first_screen and "QUICK=1 make run" in first_screen
    before_results = readme.split("\n## Results", 1)[0]
    assert all(f"(notebooks/{nb.name})" in before_results for nb in NOTEBOOKS), "every chapter before the figures"

"""The project's own promises: a complete lock, no data in git, small modules, nothing outside the repository."""

import re
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

from conftest import ROOT


def pins(path):
    """``{name: version}`` of the ``name==version`` lines of a requirements file."""
    found = {}
    for line in Path(path).read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.-]+)==([^\s;#]+)", line)
        if match:
            found[re.sub(r"[-_.]+", "-", match[1]).lower()] = match[2]
    return found


def test_every_direct_dependency_is_pinned_in_the_lock_at_the_same_version():
    direct, lock = pins(ROOT / "requirements.in"), pins(ROOT / "requirements.txt")
    assert len(direct) >= 14 and len(lock) > 100
    assert {name: lock.get(name) for name in direct} == direct


def test_the_website_tool_has_its_own_lock_with_every_direct_dependency_pinned():
    direct, lock = pins(ROOT / "requirements-site.in"), pins(ROOT / "requirements-site.txt")
    assert set(direct) == {"mkdocs", "mkdocs-material", "mkdocs-jupyter"}
    assert {name: lock.get(name) for name in direct} == direct
    assert "tensorflow" not in lock, "the runtime stack stays out of the website's lock"


def test_the_virtual_environment_holds_exactly_the_lock():
    if Path(sys.prefix).resolve() != (ROOT / ".venv").resolve():
        pytest.skip("not running in the project's .venv")
    installed = {re.sub(r"[-_.]+", "-", d.metadata["Name"]).lower(): d.version for d in metadata.distributions()}
    for tool in ("pip", "setuptools", "tweet-lstm"):  # the installers, and this project (make installs it editable)
        installed.pop(tool, None)
    assert installed == pins(ROOT / "requirements.txt")


def test_environment_yml_installs_the_lock_instead_of_repeating_pins():
    text = (ROOT / "environment.yml").read_text()
    assert "-r requirements.txt" in text and "==" not in text


def tracked_files():
    result = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True)
    if result.returncode != 0:
        pytest.skip("not a git checkout")
    return result.stdout.split()


def test_no_data_file_is_tracked_by_git():
    assert [f for f in tracked_files() if f.startswith("data/")] == ["data/README.md"]


def test_no_project_file_refers_to_documents_outside_the_repository():
    design_sketch = "DESIGN" + ".md"  # spelled apart so this file does not name it either
    for name in tracked_files():
        if name.endswith((".md", ".ipynb", ".py")):
            text = (ROOT / name).read_text(encoding="utf-8")
            assert design_sketch not in text, name
            if name.endswith((".md", ".ipynb")):
                assert "../shared" not in text, f"{name}: readers do not have the folder beside the repository"


@pytest.mark.parametrize("path", sorted((ROOT / "tweet_lstm").rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT)))
def test_each_package_module_is_readable_in_one_sitting(path):
    assert len(path.read_text().splitlines()) <= 300


@pytest.mark.slow
def test_pip_installs_the_project_so_that_it_imports_from_any_folder(tmp_path):
    source = tmp_path / "source"  # a copy: building writes build/ and egg-info beside the sources
    shutil.copytree(ROOT / "tweet_lstm", source / "tweet_lstm", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md", "data_load_utils.py"):
        shutil.copy(ROOT / name, source / name)
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                            "--wheel-dir", str(tmp_path / "wheel"), str(source)], capture_output=True, text=True)
    assert built.returncode == 0, built.stderr
    wheel = next((tmp_path / "wheel").glob("tweet_lstm-*.whl"))
    installed = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target",
                                str(tmp_path / "site"), str(wheel)], capture_output=True, text=True)
    assert installed.returncode == 0, installed.stderr
    env = {"PYTHONPATH": str(tmp_path / "site"), "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-c", "import data_load_utils, tweet_lstm.store.store as s; print(s.__file__)"],
                          cwd="/", env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(str(tmp_path / "site")), "imported from the installed copy, not the checkout"



def test_the_fast_tier_guard_refuses_tensorflow_and_keras_naming_the_mark():
    from conftest import _NoTensorFlow
    for name in ("tensorflow", "keras.layers"):
        with pytest.raises(ImportError, match="mark the test that needs it with @pytest.mark.tf"):
            _NoTensorFlow().find_spec(name)
    assert _NoTensorFlow().find_spec("numpy") is None


@pytest.mark.slow
def test_make_check_runs_the_fast_tier_without_ever_importing_tensorflow():
    done = subprocess.run(["make", "--no-print-directory", "check"], cwd=ROOT, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "fast tier: TensorFlow and Keras were never imported" in done.stdout
    assert re.search(r"\d+ passed, \d+ deselected", done.stdout)


def test_notebooks_import_the_installed_package_without_editing_sys_path():
    edits = [path.name for path in sorted((ROOT / "notebooks").glob("*.ipynb")) if "sys.path" in path.read_text()]
    assert edits == []


def test_the_environments_python_imports_data_load_utils_from_the_root_folder():
    env = {"PATH": "/usr/bin:/bin"}  # no PYTHONPATH: found because the project is installed
    done = subprocess.run([sys.executable, "-c", "import data_load_utils; print(data_load_utils.__file__)"],
                          cwd="/", env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(ROOT / "data_load_utils.py")

"""`make site`: the series as a website, built offline from README.md and the committed notebooks."""

import json
import re
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from conftest import ROOT

NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


class Links(HTMLParser):
    """Every href/src of a page, and every id it defines."""

    def __init__(self):
        super().__init__()
        self.links, self.ids = [], set()

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in ("href", "src") and value:
                self.links.append(value)
            elif name == "id" and value:
                self.ids.add(value)


def parse(page):
    links = Links()
    links.feed(page.read_text(encoding="utf-8"))
    return links


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("site") / "out"
    done = subprocess.run(["make", "--no-print-directory", "site", f"SITE_OUT={out}"], cwd=ROOT,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return out


@pytest.mark.slow
def test_every_chapter_has_a_page_with_its_plots_and_the_readme_is_the_home_page(site):
    assert (site / "index.html").exists() and "Tweet-writing LSTM on a laptop" in (site / "index.html").read_text()
    for notebook in NOTEBOOKS:
        page = site / f"{notebook.stem}.html"
        assert page.exists(), f"no page for {notebook.name}"
        plots = sum("image/png" in output.get("data", {}) for cell in json.loads(notebook.read_text())["cells"]
                    for output in cell.get("outputs", []))
        assert page.read_text().count("data:image/png;base64,") >= plots, f"{page.name} lacks plots"
        title = json.loads(notebook.read_text())["cells"][0]["source"][0].removeprefix("# ").strip()
        assert title in (site / "index.html").read_text(), f"the table of contents lacks {title!r}"


@pytest.mark.slow
def test_every_internal_link_and_anchor_of_the_site_resolves(site):
    pages = sorted(site.rglob("*.html"))
    ids = {page: parse(page).ids for page in pages}
    broken = []
    for page in pages:
        for link in parse(page).links:
            parts = urlsplit(link)
            if parts.scheme or link.startswith(("//", "mailto:")):
                continue
            base = site if parts.path.startswith("/") else page.parent  # 404.html links from the site's root
            target = (base / unquote(parts.path).lstrip("/")).resolve() if parts.path else page
            if target.is_dir():
                target = target / "index.html"
            if not target.exists():
                broken.append((page.name, link))
            elif parts.fragment and target.suffix == ".html" and unquote(parts.fragment) not in ids.get(target, set()):
                broken.append((page.name, link))
    assert broken == []


@pytest.mark.slow
def test_no_page_holds_a_path_of_the_machine_that_built_it(site):
    leaks = re.compile("|".join(re.escape(p) for p in (str(ROOT), str(site), "site-docs-", "/root/", "/home/")))
    found = [(page.name, leaks.search(page.read_text(encoding="utf-8", errors="replace"))[0])
             for page in site.rglob("*") if page.is_file() and page.suffix in (".html", ".json", ".xml", ".js")
             and leaks.search(page.read_text(encoding="utf-8", errors="replace"))]
    assert found == []


@pytest.mark.slow
def test_the_site_build_refuses_the_network(site):
    done = subprocess.run([str(ROOT / ".venv-site" / "bin" / "python"), "-c",
                           "import sys; sys.path.insert(0, 'scripts'); import build_site, socket; "
                           "build_site.refuse_network(); socket.create_connection(('pypi.org', 443))"],
                          cwd=ROOT, capture_output=True, text=True)
    assert done.returncode != 0 and "must build offline" in done.stderr

"""`make site`: the series as a website, built offline from README.md and the committed notebooks."""

import base64
import json
import re
import subprocess
import textwrap
from html.parser import HTMLParser
from urllib.parse import unquote, urlsplit

import pytest

from conftest import ROOT

NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
SITE_PYTHON = ROOT / ".venv-site" / "bin" / "python"  # made by `make site` (the `site` fixture)
FIGURE_LINE = re.compile(r"^[ \t]*# Figure:(.*)$", re.MULTILINE)
NO_ALT = "No description has been provided for this image"  # what nbconvert writes when it has none
# nbconvert's HTML display priority: an output shows its first type in this order
DISPLAY_PRIORITY = ("text/html", "application/pdf", "text/latex", "image/svg+xml", "image/png", "image/jpeg",
                    "text/markdown", "text/plain")
DOWNLOAD_TEXT = "Download this notebook"


class Links(HTMLParser):
    """Every href/src of a page, every id it defines, its images (with the link around each) and its links' texts."""

    def __init__(self):
        super().__init__()
        self.links, self.ids, self.images, self.anchors, self.stylesheets = [], set(), [], [], []
        self._open_anchor = None

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        for name, value in attrs:
            if name in ("href", "src") and value:
                self.links.append(value)
            elif name == "id" and value:
                self.ids.add(value)
        if tag == "a":
            self._open_anchor = {"href": attributes.get("href"), "text": "", "offset": self.getpos()}
            self.anchors.append(self._open_anchor)
        elif tag == "img":
            self.images.append({**attributes, "link": self._open_anchor and self._open_anchor["href"]})
        elif tag == "link" and attributes.get("rel") == "stylesheet":
            self.stylesheets.append(attributes.get("href"))

    def handle_endtag(self, tag):
        if tag == "a":
            self._open_anchor = None

    def handle_data(self, data):
        if self._open_anchor is not None:
            self._open_anchor["text"] += data


def parse(page):
    links = Links()
    links.feed(page.read_text(encoding="utf-8"))
    return links


def shown_images(notebook):
    """[(cell index, image bytes)] of the images a notebook's outputs show, in page order."""
    images = []
    for index, cell in enumerate(json.loads(notebook.read_text(encoding="utf-8"))["cells"]):
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            kind = next((k for k in DISPLAY_PRIORITY if k in data), None)
            if kind in ("image/png", "image/jpeg"):
                images.append((index, base64.b64decode("".join(data[kind]))))
    return images


def figure_lines(notebook):
    """{cell index: [description of each `# Figure:` line]} of a notebook's code cells."""
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    return {index: [line.strip() for line in FIGURE_LINE.findall("".join(cell["source"]))]
            for index, cell in enumerate(cells) if cell["cell_type"] == "code"}


def site_python(code, **kwargs):
    """Run ``code`` in the site's own environment, with scripts/ importable (build_site needs mkdocs)."""
    return subprocess.run([str(SITE_PYTHON), "-c", "import sys; sys.path.insert(0, 'scripts')\n" + textwrap.dedent(code)],
                          cwd=ROOT, capture_output=True, text=True, **kwargs)


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
        images = parse(page).images
        plots = shown_images(notebook)
        assert len(images) == len(plots), f"{page.name} shows {len(images)} images, its notebook {len(plots)}"
        for image, (cell, data) in zip(images, plots):
            # each plot is an image file of the site, as the notebook holds it, and a click opens it at full size
            assert (site / image["src"]).read_bytes() == data, f"{page.name}: {image['src']} is not cell {cell}'s image"
            assert image["link"] == image["src"], f"{page.name}: {image['src']} is not a link to itself"
        title = json.loads(notebook.read_text())["cells"][0]["source"][0].removeprefix("# ").strip()
        assert title in (site / "index.html").read_text(), f"the table of contents lacks {title!r}"


@pytest.mark.slow
def test_every_image_of_every_chapter_has_the_alt_text_of_its_cells_figure_line(site):
    """Each code cell that shows figures carries one `# Figure: <description>` line per image, in order."""
    missing, wrong = [], []
    for notebook in NOTEBOOKS:
        images = parse(site / f"{notebook.stem}.html").images
        lines = figure_lines(notebook)
        plots = shown_images(notebook)
        cells = [cell for cell, _ in plots] + [None] * (len(images) - len(plots))  # an image from no output: none
        for number, (image, cell) in enumerate(zip(images, cells), start=1):
            alt = image.get("alt", "").strip()
            if not alt or alt == NO_ALT:
                missing.append(f"notebooks/{notebook.name}, cell {cell} (image {number} of the page)")
            elif cell is not None:
                position = cells[:number - 1].count(cell)  # the cell's n-th image takes its n-th line
                if alt != lines[cell][position]:
                    wrong.append(f"notebooks/{notebook.name}, cell {cell}: alt {alt!r}, line {lines[cell][position]!r}")
    assert missing == [], f"{len(missing)} images lack an alt text (a '# Figure: <description>' line in their cell):\n" \
                          + "\n".join(missing)
    assert wrong == []


@pytest.mark.slow
def test_a_cell_with_more_images_than_figure_lines_stops_the_build(site, tmp_path):
    # the rule itself, on a made-up notebook
    done = site_python("""
        import build_site, json
        def cell(source, images):
            return {"cell_type": "code", "source": source, "metadata": {}, "execution_count": 1,
                    "outputs": [{"output_type": "display_data", "metadata": {},
                                 "data": {"image/png": "iVBORw0KGgo=", "text/plain": "<Figure>"}}] * images}
        annotated = {"cells": [cell("# Figure: one plot\\nplt.show()", 1),
                               cell("x = 1", 0),
                               cell("# Figure: the first of two\\nplt.show()\\nplt.show()", 2),
                               cell("# Figure: a plot\\n# Figure: a plot that is not there\\nplt.show()", 1)]}
        print(json.dumps(build_site.cell_figures(annotated, "notebooks/99_made_up.ipynb")))
        not_yet = {"cells": [cell("plt.show()", 1), cell("plt.show()", 2)]}
        print(json.dumps(build_site.cell_figures(not_yet, "notebooks/98_not_yet.ipynb")))
    """)
    assert done.returncode == 0, done.stderr
    (images, problems, notes), (later_images, later_problems, _) = (json.loads(line) for line in done.stdout.splitlines())
    assert [image[3] for image in images] == ["one plot", "the first of two", None, "a plot"]
    assert problems == ["notebooks/99_made_up.ipynb, cell 2: 2 image(s) but 1 '# Figure: <description>' line(s); "
                        "the cell needs one line per image it shows, in order"]
    # more lines than images (outputs cleared, not run again yet) only warns
    assert notes == ["notebooks/99_made_up.ipynb, cell 3: 2 '# Figure:' line(s) but 1 image(s) in its committed outputs"]
    # a notebook without any `# Figure:` line stops the build as well, naming each cell
    assert [image[3] for image in later_images] == [None, None, None] and len(later_problems) == 2

    # and the build stops, naming the notebook and the cell, before writing anything
    image = {"output_type": "display_data", "metadata": {}, "data": {"image/png": "iVBORw0KGgo=", "text/plain": "<Fig>"}}
    notebook = {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
        {"cell_type": "markdown", "metadata": {}, "source": ["# 99 · Made up"]},
        {"cell_type": "code", "metadata": {}, "execution_count": 1, "source": ["# Figure: a plot\n"], "outputs": [image]},
        {"cell_type": "code", "metadata": {}, "execution_count": 2, "source": ["plt.show()\n"], "outputs": [image]}]}
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "notebooks" / "99_made_up.ipynb").write_text(json.dumps(notebook), encoding="utf-8")
    (tmp_path / "README.md").write_text("# Home\n", encoding="utf-8")
    done = site_python(f"""
        import build_site, pathlib
        build_site.ROOT = pathlib.Path({str(tmp_path)!r})
        sys.exit(build_site.main(["--out", {str(tmp_path / "out")!r}]))
    """)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "notebooks/99_made_up.ipynb, cell 2: 1 image(s) but 0 '# Figure" in done.stderr
    assert not (tmp_path / "out").exists()


def search_tokens(text, separator):
    """The words Material's search worker indexes in a text: markup left out, split by the separator, lowercased."""
    blocks = re.split(r"<[^>]*>", text)
    return {token.lower() for block in blocks for token in re.split(separator, block) if token}


@pytest.mark.slow
@pytest.mark.parametrize("name", ["PyDataset", "TweetBatches"])
def test_search_finds_a_name_written_dotted_as_keras_utils_pydataset(site, name):
    index = json.loads((site / "search" / "search_index.json").read_text(encoding="utf-8"))
    separator = index["config"]["separator"]
    found = {entry["location"].split("#")[0].removesuffix(".html") for entry in index["docs"]
             if name.lower() in search_tokens(entry["title"] + " " + entry["text"], separator)}
    dotted = {notebook.stem for notebook in NOTEBOOKS if re.search(rf"\w\.{name}\b", notebook.read_text(encoding="utf-8"))}
    if name == "PyDataset":  # chapters 02 and 05 write their own keras.utils.PyDataset
        assert {"02_batch_generator", "05_a_million_tweets"} <= dotted
    assert dotted, f"no chapter writes {name} dotted any more: test another name"
    assert dotted <= found, f"searching {name!r} finds {sorted(found)}, not {sorted(dotted - found)}"


@pytest.mark.slow
def test_every_chapter_page_links_to_its_notebook_as_committed(site):
    for notebook in NOTEBOOKS:
        page = site / f"{notebook.stem}.html"
        links = [anchor for anchor in parse(page).anchors if anchor["text"].strip() == DOWNLOAD_TEXT]
        assert [anchor["href"] for anchor in links] == [notebook.name], f"{page.name}: {links}"
        html = page.read_text(encoding="utf-8")
        assert html.index(DOWNLOAD_TEXT) < html.index('<div class="jp-Cell jp-CodeCell'), f"{page.name}: the link is not near the top"
        assert (site / notebook.name).read_bytes() == notebook.read_bytes(), f"{notebook.name} differs from the commit"


@pytest.mark.slow
def test_the_home_page_leaves_out_what_the_readme_marks_site_skip(site):
    readme = textwrap.dedent("""\
        # Title

        Kept before. See `notebooks/01_explore_tweets.ipynb` and [chapter 02](notebooks/02_batch_generator.ipynb).

        <!-- site: skip -->
        Open `build/site/index.html` from disk.
        <!-- /site: skip -->

        Kept between; a marker in running text, `<!-- site: skip -->`, is text.
          <!-- site: skip -->

        ## Only on GitHub
        <!-- /site: skip -->
        Kept after.
        """)
    done = site_python("import build_site; print(build_site.home_page(sys.stdin.read()), end='')", input=readme)
    assert done.returncode == 0, done.stderr
    home = done.stdout
    assert "Kept before" in home and "Kept between" in home and "Kept after" in home
    assert "from disk" not in home and "Only on GitHub" not in home and "<!-- /site" not in home
    assert "[`01_explore_tweets`](01_explore_tweets.ipynb)" in home and "[chapter 02](02_batch_generator.ipynb)" in home
    for broken, line in (("a\n<!-- site: skip -->\nb\n", 2), ("a\n<!-- /site: skip -->\n", 2),
                         ("<!-- site: skip -->\n<!-- site: skip -->\n<!-- /site: skip -->\n", 2)):
        done = site_python("import build_site; build_site.home_page(sys.stdin.read())", input=broken)
        assert done.returncode != 0 and f"README.md, line {line}:" in done.stderr, (broken, done.stderr[-500:])
    # the real README, when it marks passages
    real = (ROOT / "README.md").read_text(encoding="utf-8")
    skipped = re.findall(r"^[ \t]*<!--[ \t]*site:[ \t]*skip[ \t]*-->[ \t]*\n(.*?)^[ \t]*<!--[ \t]*/site:[ \t]*skip",
                         real, re.MULTILINE | re.DOTALL)
    index = (site / "index.html").read_text(encoding="utf-8")
    assert "site: skip" not in index
    for passage in skipped:
        words = re.sub(r"[`*_\[\]()#>|]", " ", passage).split()
        if len(words) >= 6:  # six words in a row of a left-out passage are not on the home page
            assert not re.search(r"\W+".join(map(re.escape, words[:6])), re.sub(r"<[^>]+>", " ", index)), passage[:80]


@pytest.mark.slow
def test_code_and_plots_fit_the_content_width(site):
    """What makes an 88-character code line fit at 1400 px, checked in the built CSS (measured in Chromium once)."""
    css = (site / "stylesheets" / "site.css").read_text(encoding="utf-8")
    for page in [site / "index.html"] + [site / f"{notebook.stem}.html" for notebook in NOTEBOOKS]:
        assert "stylesheets/site.css" in parse(page).stylesheets, f"{page.name} lacks the site's stylesheet"
    for notebook in NOTEBOOKS:  # no In [n]: / Out[n]: column beside the cells
        html = (site / f"{notebook.stem}.html").read_text(encoding="utf-8")
        assert not re.search(r'<div class="jp-(Input|Output)Prompt', html), f"{notebook.stem}.html has prompts"
    # Material at 1400 px: 20 px to the rem, two sidebars of 12.1rem, content margins of 1.2rem; a code cell takes
    # 42 px of the content for its frame, and 88 characters of 13 px monospace (0.61 em each at most) and the
    # block's padding need 718 px
    grid_rem = float(re.search(r"\.md-grid\s*{\s*max-width:\s*([\d.]+)rem", css)[1])
    content = min(1400, grid_rem * 20) - 2 * 12.1 * 20 - 2 * 1.2 * 20
    assert content - 42 >= 88 * 0.61 * 13 + 20, f"a {grid_rem}rem grid leaves {content - 42:.0f} px for code"
    assert re.search(r"\.jp-RenderedImage img\s*{[^}]*\bwidth:\s*100%", css), "plots are not at the content's width"


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
             for page in site.rglob("*") if page.is_file()
             and page.suffix in (".html", ".json", ".xml", ".js", ".css", ".ipynb")
             and leaks.search(page.read_text(encoding="utf-8", errors="replace"))]
    assert found == []


@pytest.mark.slow
def test_the_site_build_refuses_the_network(site):
    done = subprocess.run([str(SITE_PYTHON), "-c",
                           "import sys; sys.path.insert(0, 'scripts'); import build_site, socket; "
                           "build_site.refuse_network(); socket.create_connection(('pypi.org', 443))"],
                          cwd=ROOT, capture_output=True, text=True)
    assert done.returncode != 0 and "must build offline" in done.stderr

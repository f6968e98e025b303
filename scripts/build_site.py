"""Build the series as a static website from README.md and the committed, executed notebooks.

    python scripts/build_site.py --out build/site      (what `make site` runs, in .venv-site)

README.md becomes the home page, less the passages it wraps in ``<!-- site: skip -->`` and
``<!-- /site: skip -->`` (each marker alone on its line: the passages about GitHub and the
repository that make no sense on the site). Each notebook becomes a chapter page with its
outputs as committed (nothing is executed), a "Download this notebook" link under its title
to the notebook itself (copied into the site byte for byte), and its plots as image files,
shown at the content's width and opening at full size when clicked. An image's alt text is
its cell's ``# Figure: <description>`` comment line: one per image the cell outputs, in
order. A cell that shows more images than it has ``# Figure:`` lines stops the build, naming
the notebook and the cell (more lines than images, as in a cell whose outputs were cleared, is
a warning).

The files are staged in a temporary folder, where the links between them are rewritten to
point at pages of the site. The build needs no network, and refuses to use it. Open
OUT/index.html in a browser.
"""

import argparse
import base64
import json
import re
import shutil
import socket
import struct
import sys
import tempfile
from pathlib import Path
from typing import NamedTuple

import mkdocs_jupyter.convert
from bs4 import BeautifulSoup  # pinned in requirements-site.txt (nbconvert's own HTML parser)
from mkdocs.commands.build import build
from mkdocs.config import load_config
from mkdocs.plugins import BasePlugin

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_MENTION = re.compile(r"`notebooks/(\d\d_\w+)\.ipynb`")
NOTEBOOK_LINK = re.compile(r"\]\(notebooks/(\d\d_\w+\.ipynb)\)")
CHAPTER_LINK = re.compile(r"\]\((\d\d_\w+)\.ipynb\)")
SKIP_MARKER = re.compile(r"^[ \t]*<!--[ \t]*(/?)site:[ \t]*skip[ \t]*-->[ \t]*$", re.MULTILINE)
FIGURE_LINE = re.compile(r"^[ \t]*# Figure:(.*)$", re.MULTILINE)
# nbconvert shows an output's first type in this order (its HTML exporter's display priority)
DISPLAY_PRIORITY = ("text/html", "application/pdf", "text/latex", "image/svg+xml", "image/png", "image/jpeg",
                    "text/markdown", "text/plain")
IMAGE_SUFFIX = {"image/png": "png", "image/jpeg": "jpg"}
DOWNLOAD_TEXT = "Download this notebook"
STYLESHEET = "stylesheets/site.css"  # listed in mkdocs.yml's extra_css
SITE_CSS = """\
/* Written by scripts/build_site.py (make site), after the theme's and the notebooks' own styles. */

/* Wider pages. The theme's 61rem grid left 688 px of content at 1400 px wide: 70 characters of
   code. With 72rem (1440 px), and no In/Out prompts beside the cells (mkdocs.yml: no_prompt),
   a code cell shows about 100 characters of its 13 px monospace at 1400 px: 88 and some room. */
.md-grid {
  max-width: 72rem;
}

/* Plots fill the content's width on every screen, whatever their pixel size (they were scaled
   down to 584 px at 1400 px wide, 264 px on a phone); a click or tap opens the image itself. */
.md-content .jupyter-wrapper .jp-RenderedImage img {
  width: 100%;
  max-width: 100%;
  height: auto;
}
.md-content .jupyter-wrapper .jp-RenderedImage a.nb-figure {
  display: block;
  width: 100%;
  cursor: zoom-in;
}

/* The download link under each chapter's title. */
.md-typeset .nb-download {
  margin-top: -0.4em;
  font-size: 0.85em;
}
"""


class SiteError(Exception):
    """Something in README.md or a notebook the site cannot be built from; the message says where."""


class Figure(NamedTuple):
    """An image a chapter shows: where it comes from, its alt text (None: no `# Figure:` line yet), its size."""

    notebook: str
    cell: int
    alt: str | None
    size: tuple[int, int] | None


def refuse_network():
    """Make any network connection from this process an error: the build must need none."""
    def refuse(*args, **kwargs):
        raise OSError("the site build tried to use the network; it must build offline")
    socket.socket.connect = socket.socket.connect_ex = refuse
    socket.create_connection = socket.getaddrinfo = refuse


def chapter_title(path):
    """The notebook's first ``# `` heading (``01 · Exploring the tweets``)."""
    for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
        if cell["cell_type"] == "markdown":
            for line in "".join(cell["source"]).splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    raise ValueError(f"{path}: has no '# ' title in a markdown cell")


def headings_markdown(path):
    """A notebook's markdown cells as one markdown text: what the page's table of contents is made from.

    mkdocs-jupyter 0.26 makes it with ``convert.nb2md``, which drops inline code from headings
    (``## 5. Keras 3: a `PyDataset` ...`` becomes ``a  instead of``), so those entries linked
    to anchors no page has. The markdown cells as written give the anchors the page has.
    """
    cells = json.loads(Path(path).read_text(encoding="utf-8"))["cells"]
    return "\n\n".join("".join(cell["source"]) for cell in cells if cell["cell_type"] == "markdown")


def home_page(readme):
    """README.md's text as the home page's markdown.

    Leaves out every passage from a ``<!-- site: skip -->`` line to the next ``<!-- /site: skip -->``
    line, both included (a marker counts only alone on its line, so a README can still mention
    one in running text), and links each ``notebooks/NN_name.ipynb`` mention, and each markdown link
    to one, to its chapter page.
    A marker without its partner, or a passage opened inside another, is a SiteError.
    """
    kept, start, opened = [], 0, None
    for marker in SKIP_MARKER.finditer(readme):
        line = readme.count("\n", 0, marker.start()) + 1
        closing = marker.group(1) == "/"
        if closing and opened is None:
            raise SiteError(f"README.md, line {line}: <!-- /site: skip --> closes no <!-- site: skip -->")
        if not closing and opened is not None:
            raise SiteError(f"README.md, line {line}: <!-- site: skip --> inside the passage opened on line "
                            f"{opened}, which is not closed yet")
        if closing:
            start, opened = marker.end() + 1, None  # from the line after the marker
        else:
            kept.append(readme[start:marker.start()])
            opened = line
    if opened is not None:
        raise SiteError(f"README.md, line {opened}: <!-- site: skip --> is never closed by <!-- /site: skip -->")
    kept.append(readme[start:])
    home = NOTEBOOK_LINK.sub(r"](\1)", "".join(kept))
    return NOTEBOOK_MENTION.sub(r"[`\1`](\1.ipynb)", home)


def shown_type(output):
    """The type of an output's data that the page shows (None for a stream, an error)."""
    return next((kind for kind in DISPLAY_PRIORITY if kind in output.get("data", {})), None)


def cell_figures(notebook, name):
    """The images a notebook's code cells show, with their alt texts, and what is wrong with them.

    Returns ``(images, problems, notes)``: ``images`` is ``[(cell index, output index, type, alt)]``
    in page order, ``alt`` the description of the cell's n-th ``# Figure:`` line for its n-th
    image. ``problems`` (they stop the build)
    name each cell that shows more images than it has ``# Figure:`` lines, and each line without
    a description; ``notes`` (warnings) each cell with more lines than images, as when its
    outputs were cleared and not run again yet.
    """
    cells = notebook["cells"]
    images, problems, notes = [], [], []
    for index, cell in enumerate(cells):
        if cell["cell_type"] != "code":
            continue
        shown = [(n, shown_type(output)) for n, output in enumerate(cell.get("outputs", []))]
        if any(kind == "image/svg+xml" for _, kind in shown):
            problems.append(f"{name}, cell {index}: shows an SVG image; the site gives alt texts to PNG and JPEG images")
        found = [(n, kind) for n, kind in shown if kind in IMAGE_SUFFIX]
        alts = [line.strip() for line in FIGURE_LINE.findall("".join(cell["source"]))]
        if len(found) > len(alts):
            problems.append(f"{name}, cell {index}: {len(found)} image(s) but {len(alts)} '# Figure: <description>' "
                            "line(s); the cell needs one line per image it shows, in order")
        elif len(alts) > len(found):
            notes.append(f"{name}, cell {index}: {len(alts)} '# Figure:' line(s) but {len(found)} image(s) in its "
                         "committed outputs")
        if any(not alt for alt in alts):
            problems.append(f"{name}, cell {index}: a '# Figure:' line without a description")
        images += [(index, n, kind, alts[k] if k < len(alts) else None) for k, (n, kind) in enumerate(found)]
    return images, problems, notes


def png_size(data):
    """(width, height) of a PNG image, from its header; None for anything else."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR":
        return struct.unpack(">II", data[16:24])
    return None


def stage_notebook(path, docs):
    """Copy a notebook into ``docs`` with its images as files; returns ({src: Figure}, problems, notes)."""
    notebook = json.loads(path.read_text(encoding="utf-8"))
    images, problems, notes = cell_figures(notebook, f"notebooks/{path.name}")
    figures = {}
    for number, (cell, n, kind, alt) in enumerate(images, start=1):
        output = notebook["cells"][cell]["outputs"][n]
        data = base64.b64decode("".join(output["data"][kind]))
        src = f"figures/{path.stem}-{number}.{IMAGE_SUFFIX[kind]}"
        (docs / src).parent.mkdir(exist_ok=True)
        (docs / src).write_bytes(data)
        output["data"][kind] = ""  # nbconvert's template shows the file named here instead
        output.setdefault("metadata", {})["filenames"] = {kind: src}
        figures[src] = Figure(path.name, cell, alt, png_size(data))
    text = json.dumps(notebook, ensure_ascii=False, indent=1).replace("](../README.md)", "](index.html)")
    text = CHAPTER_LINK.sub(r"](\1.html)", text)  # notebook markdown is rendered by nbconvert, not mkdocs
    (docs / path.name).write_text(text, encoding="utf-8")
    return figures, problems, notes


def stage(docs):
    """Copy README.md (as index.md), the notebooks and the stylesheet into ``docs``.

    Returns the nav, the chapters (``{file name: committed notebook}``) and the figures
    (``{src: Figure}``); raises SiteError listing every cell whose figures are wrong, and
    warns of every cell with more ``# Figure:`` lines than images.
    """
    notebooks = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    (docs / "index.md").write_text(home_page(readme), encoding="utf-8")
    figures, problems, notes = {}, [], []
    for path in notebooks:
        found, wrong, noted = stage_notebook(path, docs)
        figures.update(found)
        problems += wrong
        notes += noted
    if notes:
        print("build_site: warning: these '# Figure:' lines have no image to describe:\n  " + "\n  ".join(notes),
              file=sys.stderr)
    if problems:
        raise SiteError("the notebooks' figures and their '# Figure:' lines do not match:\n  " + "\n  ".join(problems))
    (docs / STYLESHEET).parent.mkdir(parents=True, exist_ok=True)
    (docs / STYLESHEET).write_text(SITE_CSS, encoding="utf-8")
    nav = [{"Home": "index.md"}, {"Chapters": [{chapter_title(p): p.name} for p in notebooks]}]
    return nav, {p.name: p for p in notebooks}, figures


class ChapterPages(BasePlugin):
    """What the chapter pages get beyond mkdocs-jupyter's rendering: the download link, the figures' alt texts."""

    def __init__(self, chapters, figures):
        super().__init__()
        self.chapters, self.figures = chapters, figures

    def on_page_content(self, html, *, page, config, files):
        name = page.file.src_uri
        if name not in self.chapters:
            return html
        soup = BeautifulSoup(html, "html.parser")
        title = soup.find("h1")
        if title is None:
            raise SiteError(f"notebooks/{name}: the page has no title to put the download link under")
        link = soup.new_tag("p", attrs={"class": "nb-download"})
        anchor = soup.new_tag("a", attrs={"href": name, "download": name})
        anchor.string = DOWNLOAD_TEXT
        link.append(anchor)
        link.append(f" ({name}, with its outputs, to run in Jupyter)")
        title.insert_after(link)
        for image in soup.select("div.jp-RenderedImage img"):
            figure = self.figures.get(image.get("src"))
            if figure is None:
                raise SiteError(f"notebooks/{name}: the page shows an image the build did not stage "
                                f"({image.get('src', '')[:40]}...)")
            if figure.alt:
                image["alt"] = figure.alt
            if figure.size:
                image["width"], image["height"] = (str(n) for n in figure.size)
            image["loading"] = "lazy"
            image.wrap(soup.new_tag("a", attrs={"href": image["src"], "class": "nb-figure",
                                                "title": "Open the full-size image"}))
        return str(soup)

    def on_post_build(self, *, config):
        for name, path in self.chapters.items():
            shutil.copyfile(path, Path(config.site_dir) / name)  # the committed notebook, byte for byte


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="folder to write the site into (replaced)")
    args = parser.parse_args(argv)
    refuse_network()
    mkdocs_jupyter.convert.nb2md = headings_markdown
    out = args.out.resolve()
    with tempfile.TemporaryDirectory(prefix="site-docs-") as folder:
        docs = Path(folder)
        try:
            nav, chapters, figures = stage(docs)
            config = load_config(str(ROOT / "mkdocs.yml"), docs_dir=str(docs), site_dir=str(out), nav=nav)
            config.plugins["tweet-lstm-chapters"] = ChapterPages(chapters, figures)
            shutil.rmtree(out, ignore_errors=True)
            build(config)
        except SiteError as error:
            print(f"build_site: error: {error}", file=sys.stderr)
            return 1
    missing = [f"notebooks/{f.notebook}, cell {f.cell}" for f in figures.values() if not f.alt]
    if missing:
        print(f"build_site: warning: {len(missing)} of {len(figures)} images have no alt text: their cells need a "
              "'# Figure: <description>' line per image:\n  " + "\n  ".join(missing), file=sys.stderr)
    print(f"wrote {out}: {len(chapters)} chapters, {len(figures)} figures; open {out / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

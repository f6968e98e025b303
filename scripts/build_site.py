"""Build the series as a static website from README.md and the committed, executed notebooks.

    python scripts/build_site.py --out build/site      (what `make site` runs, in .venv-site)

README.md becomes the home page and each notebook a chapter page with its outputs and
plots as committed (nothing is executed). The files are staged in a temporary folder,
where the links between them are rewritten to point at pages of the site. The build needs
no network, and refuses to use it. Open OUT/index.html in a browser.
"""

import argparse
import json
import re
import shutil
import socket
import sys
import tempfile
from pathlib import Path

import mkdocs_jupyter.convert
from mkdocs.commands.build import build
from mkdocs.config import load_config

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_MENTION = re.compile(r"`notebooks/(\d\d_\w+)\.ipynb`")
CHAPTER_LINK = re.compile(r"\]\((\d\d_\w+)\.ipynb\)")


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


def stage(docs):
    """Copy README.md (as index.md) and the notebooks into ``docs``; returns the nav."""
    notebooks = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    (docs / "index.md").write_text(NOTEBOOK_MENTION.sub(r"[`\1`](\1.ipynb)", readme), encoding="utf-8")
    for path in notebooks:
        text = path.read_text(encoding="utf-8").replace("](../README.md)", "](index.html)")
        text = CHAPTER_LINK.sub(r"](\1.html)", text)  # notebook markdown is rendered by nbconvert, not mkdocs
        (docs / path.name).write_text(text, encoding="utf-8")
    return [{"Home": "index.md"}, {"Chapters": [{chapter_title(p): p.name} for p in notebooks]}]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="folder to write the site into (replaced)")
    args = parser.parse_args(argv)
    refuse_network()
    mkdocs_jupyter.convert.nb2md = headings_markdown
    out = args.out.resolve()
    with tempfile.TemporaryDirectory(prefix="site-docs-") as folder:
        docs = Path(folder)
        nav = stage(docs)
        config = load_config(str(ROOT / "mkdocs.yml"), docs_dir=str(docs), site_dir=str(out), nav=nav)
        shutil.rmtree(out, ignore_errors=True)
        build(config)
    print(f"wrote {out}: {len(nav[1]['Chapters'])} chapters; open {out / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

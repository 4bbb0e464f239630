#!/usr/bin/env python3
"""Build the lab notebooks (``labs/*.ipynb``) from their sources (``labs/src/*.py``).

The sources are the single source of truth, in the "percent" format that jupytext and
most editors understand: a line ``# %%`` opens a code cell, ``# %% [markdown]`` a text
cell whose lines start with ``# ``; ``# %% tags=["readme-figure"]`` tags a cell (the
README's figure of that lab: see ``labs/make_figures.py``).  Notebooks are written
without outputs.  ``python labs/build.py --check`` fails if a notebook is out of date
(the test suite runs it).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import nbformat

LABS = Path(__file__).resolve().parent
HEADER = re.compile(r"^# %%(?P<md> \[markdown\])?(?: tags=(?P<tags>\[.*\]))?\s*$")


def cells(source: str) -> list[nbformat.NotebookNode]:
    out: list[nbformat.NotebookNode] = []
    kind, tags, lines = None, [], []

    def flush() -> None:
        text = "\n".join(lines).strip("\n")
        if kind == "markdown":
            text = "\n".join(re.sub(r"^# ?", "", ln) for ln in text.splitlines())
            out.append(nbformat.v4.new_markdown_cell(text))
        elif kind == "code":
            cell = nbformat.v4.new_code_cell(text)
            if tags:
                cell.metadata["tags"] = tags
            out.append(cell)

    for line in source.splitlines():
        m = HEADER.match(line)
        if m:
            flush()
            kind = "markdown" if m["md"] else "code"
            tags, lines = (json.loads(m["tags"]) if m["tags"] else []), []
        elif kind is not None:
            lines.append(line)
    flush()
    return out


def notebook(src: Path) -> str:
    nb = nbformat.v4.new_notebook()
    nb.cells = cells(src.read_text())
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"{src.stem}-{i}"  # stable ids: rebuilding changes nothing
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    return nbformat.writes(nb) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--check", action="store_true", help="fail if a notebook is out of date")
    args = p.parse_args(argv)
    stale = []
    for src in sorted((LABS / "src").glob("*.py")):
        target = LABS / f"{src.stem}.ipynb"
        text = notebook(src)
        if target.exists() and target.read_text() == text:
            continue
        if args.check:
            stale.append(target.name)
        else:
            target.write_text(text)
            print(f"wrote {target.relative_to(LABS.parent)}")
    if stale:
        print(f"out of date (run python labs/build.py): {', '.join(stale)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Run every lab and save the figure of its cell tagged ``readme-figure`` as
``docs/img/lab-NN.png``: the README's "Teaching with xensim" figures come from the labs
themselves, so they stay true.  Usage: ``python labs/make_figures.py [NN ...]`` (all labs,
or those numbered; a few minutes for all).
"""

from __future__ import annotations

import base64
import sys
from pathlib import Path
from typing import Any

from xensim.notebook.labs import execute

LABS = Path(__file__).resolve().parent
OUT = LABS.parent / "docs" / "img"
TAG = "readme-figure"


def figure_of(nb: Any) -> bytes:
    for cell in nb.cells:
        if TAG in cell.get("metadata", {}).get("tags", []):
            for out in cell.get("outputs", []):
                png = out.get("data", {}).get("image/png")
                if png:
                    return base64.b64decode(png)
    raise SystemExit(f"no image in a cell tagged {TAG!r}")


def main(argv: list[str]) -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    for path in sorted(LABS.glob("[0-9][0-9]_*.ipynb")):
        if argv and path.stem[:2] not in argv:
            continue
        target = OUT / f"lab-{path.stem[:2]}.png"
        target.write_bytes(figure_of(execute(path, lab_scale=1)))
        print(f"wrote {target.relative_to(LABS.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

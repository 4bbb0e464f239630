"""Every lab executes, top to bottom, at CI's small scale, with no error in any cell;
and the committed notebooks are exactly what their sources build (no outputs)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from xensim.notebook.labs import execute

ROOT = Path(__file__).resolve().parents[2]
LABS = sorted((ROOT / "labs").glob("[0-9][0-9]_*.ipynb"))
CI_SCALE = 0.05
"""A twentieth of each lab's simulated time: all six run in well under two minutes."""


def test_there_are_six_labs_with_teacher_notes() -> None:
    assert len(LABS) == 6
    for nb in LABS:
        assert (ROOT / "labs" / "solutions" / f"{nb.stem}.md").is_file(), nb.name


def test_notebooks_are_built_from_their_sources_without_outputs() -> None:
    r = subprocess.run([sys.executable, str(ROOT / "labs" / "build.py"), "--check"],
                       capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stderr
    for path in LABS:
        nb = nbformat.read(path, as_version=4)
        assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")


@pytest.mark.parametrize("path", LABS, ids=[p.stem for p in LABS])
def test_lab_executes(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p))
    nb = execute(path, lab_scale=CI_SCALE, timeout_s=120)
    figure_cells = [c for c in nb.cells if "readme-figure" in c.metadata.get("tags", [])]
    assert len(figure_cells) == 1
    assert any("image/png" in o.get("data", {}) for o in figure_cells[0].outputs)

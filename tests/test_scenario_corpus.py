"""A corpus of bad scenario files (tests/scenario_corpus/): each one ends in a clean
``xensim: error: FILE...`` naming what was expected, exit code 2, never a traceback
and never a run without end.  Each file's first line says what its error must contain.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from xensim.cli import main

CORPUS = Path(__file__).resolve().parent / "scenario_corpus"
FILES = sorted(CORPUS.glob("*.toml"))


def _expected(path: Path) -> str:
    first = path.read_bytes().split(b"\n", 1)[0].decode()
    assert first.startswith("# expect: ")
    return first.removeprefix("# expect: ")


def test_the_corpus_is_dozens_of_files():
    assert len(FILES) >= 60


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_bad_scenario_gives_a_clean_located_error_and_exit_2(path: Path, capsys) -> None:
    rc = main(["run", "-q", str(path)])
    err = capsys.readouterr().err
    assert rc == 2
    assert err.startswith(f"xensim: error: {path}")
    assert _expected(path) in err
    assert "Traceback" not in err

"""Every ``xensim ... --help`` prints its help and exits 0 (the top-level one used to
end in a traceback on the "%" of the sweep command's help)."""

from __future__ import annotations

import argparse

import pytest

from xensim.cli import build_parser, main


def _command_paths(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()):
    yield prefix
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _command_paths(sub, (*prefix, name))


PATHS = list(_command_paths(build_parser()))


def test_the_walk_finds_the_nested_commands():
    assert ("sweep",) in PATHS and ("trace", "summary") in PATHS and len(PATHS) > 8


@pytest.mark.parametrize("path", PATHS, ids=lambda p: " ".join(p) or "xensim")
def test_help_prints_and_exits_0(path, capsys):
    if path[:1] == ("xl",):
        pytest.skip("`xensim xl --help` is xl's own help, tested with xl")
    with pytest.raises(SystemExit) as info:
        main([*path, "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: xensim")
    if not path:
        assert "95%" in out and "%%" not in out

"""Re-run the README's real-output blocks of ``xensim`` experiments, and check or refresh them.

A console block whose every command is ``$ xensim compare ...``, ``$ xensim
migrate-sweep ...`` or ``$ xensim run scenarios/...`` (optionally ``| tail -n N``)
is re-run here, command by command, with the 200-column terminal the README's
tables were printed on, and its output compared with the block. Lines that measure
this machine rather than the simulation (``... SimPy events in X s wall``) are compared
by their simulated part only.

Usage: ``python tools/readme_outputs.py [--write] [README]``: without ``--write`` it
prints each block that differs and exits 1; with it, the blocks are rewritten
(the prose around them is yours to re-read).  Figures named by ``--plot`` are
rewritten as the commands run.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BLOCK = re.compile(r"```console\n(\$ .*?)```", re.S)
CHECKED = re.compile(r"xensim (compare|migrate-sweep|run scenarios/)")
WALL = re.compile(r"in [\d.]+ s wall")
"""The wall-clock part of ``N SimPy events in X s wall``: this machine's, not the model's."""


def run(command: str) -> str:
    """The output of one README command line, run from the repository root."""
    words = shlex.split(command.split("|")[0])
    tail = re.search(r"\|\s*tail -n (\d+)", command)
    env = {**os.environ, "COLUMNS": "200"}
    exe = Path(sys.executable).with_name(words[0])
    out = subprocess.run([str(exe), *words[1:]], cwd=ROOT, env=env, capture_output=True,
                         text=True, check=False).stdout
    lines = out.splitlines()
    if tail:
        lines = lines[-int(tail.group(1)):]
    return "\n".join(lines) + "\n"


def same(printed: str, block: str) -> bool:
    """Equal but for wall-clock figures and the blank lines between commands."""
    return WALL.sub("", printed).rstrip("\n") == WALL.sub("", block).rstrip("\n")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("readme", nargs="?", default=str(ROOT / "README.md"))
    p.add_argument("--write", action="store_true", help="rewrite the blocks that differ")
    a = p.parse_args(argv)
    path = Path(a.readme)
    text = path.read_text()
    stale = 0
    for m in reversed(list(BLOCK.finditer(text))):
        steps = re.findall(r"^\$ ([^\n]*)\n(.*?)(?=^\$ |\Z)", m.group(1), re.S | re.M)
        if not all(CHECKED.match(command) for command, _ in steps):
            continue
        printed = [run(command) for command, _ in steps]
        if all(same(p, block) for p, (_, block) in zip(printed, steps, strict=True)):
            print(f"ok      $ {steps[0][0]}")
            continue
        stale += 1
        print(f"differs $ {steps[0][0]}")
        if a.write:
            new = "".join(f"$ {command}\n{p}" + "\n" * (len(block) - len(block.rstrip("\n")) - 1)
                          for (command, block), p in zip(steps, printed, strict=True))
            text = text[:m.start(1)] + new + text[m.end(1):]
    if a.write and stale:
        path.write_text(text)
        print(f"{stale} block(s) rewritten")
        return 0
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())

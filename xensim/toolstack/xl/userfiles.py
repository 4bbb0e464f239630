"""xl's early checks on the user's paths, made by the thin client.

The daemon never opens a user's path: it asks the ``xl`` client for the files a
command reads (``need_files``, see :mod:`xensim.toolstack.hostd.protocol`) and hands
back the ones it writes (``xl save``, ``xl dump-core``).  A few checks xl makes on
a path *before* acting must therefore be made here (:func:`precheck`: xl opens a
save file before it suspends the domain, and stats a CD image before libxl is
asked), and a file that cannot be written gets xl's own message
(:func:`write_failure`).

Thin: the command table (which imports the simulator) is consulted only when the
command word could name one of :data:`PATH_COMMANDS`, so ``xl list`` never loads it.
"""

from __future__ import annotations

import os

PATH_COMMANDS = ("save", "cd-insert", "dump-core")
"""The commands whose paths the client checks or writes with xl's messages."""


def _name(rest: list[str]) -> str | None:
    """The full command name of *rest*'s first word, if it may be one of ours."""
    word = rest[0] if rest else ""
    if not word or not any(name.startswith(word) for name in PATH_COMMANDS):
        return None
    from xensim.toolstack.xl.cmdtable import lookup

    spec = lookup(word)
    return spec.name if spec is not None else None


def _operands(rest: list[str]) -> list[str]:
    """Non-option arguments (after the command)."""
    return [a for a in rest[1:] if not (a.startswith("-") and len(a) > 1)]


def writable(path: str) -> bool:
    """Whether xl's ``open(O_WRONLY|O_CREAT|O_TRUNC)`` of *path* would succeed."""
    if os.path.exists(path):
        return os.access(path, os.W_OK) and not os.path.isdir(path)
    return os.access(os.path.dirname(path) or ".", os.W_OK)


def precheck(rest: list[str]) -> str | None:
    """xl's message if a path check it makes before acting fails, else None."""
    name = _name(rest)
    ops = _operands(rest)
    if name == "save" and len(ops) >= 2 and not writable(os.path.abspath(ops[1])):
        return f"Failed to open temp file {ops[1]} for writing"
    if name == "cd-insert" and len(ops) >= 3 and ops[2] and not os.path.exists(ops[2]):
        return f"Cannot stat file: {ops[2]}"
    return None


def write_failure(rest: list[str], path: str) -> str:
    """What xl prints when the file a command produced cannot be written."""
    if _name(rest) == "dump-core":
        return f"xc: error: Failed to open file {path}\ncore dump failed (rc=-3)"
    return f"Failed to open temp file {path} for writing"

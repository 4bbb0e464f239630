"""Which of a command's arguments are the user's files, for the thin client.

The daemon never opens a user's path: the ``xl`` client reads the files a
command needs and sends them with it (:func:`files_to_send`), writes the
ones the daemon sends back (``xl save``, ``xl dump-core``), and makes xl's
early checks on paths itself (:func:`precheck`: xl opens a save file before
it suspends the domain, and stats a CD image before libxl is asked).
Commands that run in-process read and write directly (see
:meth:`XlContext.read_user_file`).
"""

from __future__ import annotations

import os

from xensim.toolstack.xl.cmdtable import lookup


def _operands(rest: list[str], takes_arg: str = "") -> list[str]:
    """Non-option arguments (after the command), skipping an option's argument."""
    out: list[str] = []
    skip = False
    for a in rest[1:]:
        if skip:
            skip = False
            continue
        if a.startswith("-") and len(a) > 1:
            skip = a[1:] in takes_arg
            continue
        out.append(a)
    return out


def _read(paths: list[str]) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    for arg in paths:
        path = os.path.abspath(arg)
        try:
            with open(path, "rb") as f:
                out[path] = f.read()
        except OSError:
            pass  # the command reports it as xl would
    return out


def files_to_send(rest: list[str]) -> dict[str, bytes]:
    """The user's files command line *rest* (command first) reads, by absolute path."""
    spec = lookup(rest[0]) if rest else None
    if spec is None:
        return {}
    ops = _operands(rest, "f")
    if spec.name == "restore":
        return _read(ops)
    if spec.name == "save":
        return _read(ops[2:3])
    if spec.name == "config-update":
        explicit = [rest[i + 1] for i, a in enumerate(rest[:-1]) if a == "-f"]
        return _read(explicit + [o for o in ops[1:] if "=" not in o])
    return {}


def writable(path: str) -> bool:
    """Whether xl's ``open(O_WRONLY|O_CREAT|O_TRUNC)`` of *path* would succeed."""
    if os.path.exists(path):
        return os.access(path, os.W_OK) and not os.path.isdir(path)
    return os.access(os.path.dirname(path) or ".", os.W_OK)


def precheck(rest: list[str]) -> str | None:
    """xl's message if a path check it makes before acting fails, else None."""
    spec = lookup(rest[0]) if rest else None
    ops = _operands(rest)
    if spec is None:
        return None
    if spec.name == "save" and len(ops) >= 2 and not writable(os.path.abspath(ops[1])):
        return f"Failed to open temp file {ops[1]} for writing"
    if spec.name == "cd-insert" and len(ops) >= 3 and ops[2] and not os.path.exists(ops[2]):
        return f"Cannot stat file: {ops[2]}"
    return None


def write_failure(rest: list[str], path: str) -> str:
    """What xl prints when the file a command produced cannot be written."""
    spec = lookup(rest[0]) if rest else None
    if spec is not None and spec.name == "dump-core":
        return f"xc: error: Failed to open file {path}\ncore dump failed (rc=-3)"
    return f"Failed to open temp file {path} for writing"

"""xl's global options, read before the command (standard library only: the thin client
uses it).

Mirrors: tools/xl/xl.c ``main`` (``getopt(argc, argv, "+vftN")``).
"""

from __future__ import annotations

GLOBAL_OPTS = "vftN"


def split_globals(argv: list[str]) -> tuple[dict[str, int], list[str]] | str:
    """xl's ``getopt(argc, argv, "+vftN")``: options before the command.  Returns the
    flags and the rest, or an error message for an unknown global option."""
    flags = {c: 0 for c in GLOBAL_OPTS}
    i = 0
    while i < len(argv) and argv[i].startswith("-") and argv[i] != "-":
        if argv[i] == "--":
            i += 1
            break
        for c in argv[i][1:]:
            if c not in flags:
                return "unknown global option"
            flags[c] += 1
        i += 1
    return flags, argv[i:]

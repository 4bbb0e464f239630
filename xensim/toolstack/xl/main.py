"""Running one xl command line: look it up in the table, run it, map errors to xl's.

User errors never show a traceback: a bad argument prints the command's
usage on stderr with status 2 (xl's SWITCH_FOREACH_OPT), an unknown
command prints xl's complaint with status 1, and a toolstack failure
prints libxl's message with status 1.
"""

from __future__ import annotations

import shlex
from typing import TYPE_CHECKING, TextIO

from xensim.toolstack.libxl import LibxlError
from xensim.toolstack.xl.cmdtable import lookup, main_help, print_usage
from xensim.toolstack.xl.context import XlContext, XlUsageError

if TYPE_CHECKING:
    from xensim.host import Host


def run_command(host: Host, command: str | list[str], out: TextIO, err: TextIO) -> int:
    argv = shlex.split(command) if isinstance(command, str) else list(command)
    ctx = XlContext(host, out, err)
    if not argv:
        main_help(ctx, [])
        return 1
    spec = lookup(argv[0])
    if spec is None:
        err.write("command not implemented\n")
        main_help(XlContext(host, err, err), [])
        return 1
    ctx.spec = spec
    if "-h" in argv[1:] or "--help" in argv[1:]:
        print_usage(out, spec)
        return 0
    try:
        return spec.fn(ctx, argv[1:])
    except XlUsageError as exc:
        err.write(f"xl {spec.name}: {exc}\n")
        print_usage(err, spec)
        return 2
    except LibxlError as exc:
        err.write(f"{exc}\n")
        return 1

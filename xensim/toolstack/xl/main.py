"""Running one xl command line: global options, table lookup, errors mapped to xl's.

Mirrors: tools/xl/xl.c (``main``: global options ``-v -N -f -t``, "command not
implemented", "command does not implement -N (dryrun) option") and
xl_utils.c ``def_getopt`` (usage on a bad option or missing operands, exit 2).

User errors never show a traceback: a bad argument prints the command's
usage on stderr with status 2, an unknown command prints xl's complaint
with status 1, and a toolstack failure prints libxl's message with status 1.

:func:`start_command` runs a command and returns at once; a command that
waits for the guest leaves ``ctx.waiter``, which the daemon polls as wall
time passes and :func:`run_command` (in-process) drives by running the
simulation itself.
"""

from __future__ import annotations

import io
import shlex
from typing import TYPE_CHECKING, TextIO

from xensim.hypervisor.time import MILLISECS, SECONDS
from xensim.toolstack.libxl import LibxlError
from xensim.toolstack.xl.cmdtable import lookup, main_help, print_usage
from xensim.toolstack.xl.context import XlContext, XlUsageError
from xensim.toolstack.xl.globalopts import split_globals
from xensim.toolstack.xlcfg import XlCfgError

if TYPE_CHECKING:
    from xensim.host import Host

IN_PROCESS_WAIT_LIMIT = SECONDS(600)
"""How much simulated time an in-process ``-w`` may run before giving up."""


def start_command(host: Host | None, command: str | list[str], out: TextIO, err: TextIO, *,
                  cwd: str = "/", live: bool = False,
                  files_in: dict[str, bytes | int] | None = None,
                  waiters_full: bool = False) -> tuple[int, XlContext | None]:
    """Run one command line; *files_in* are the client's (see :class:`XlContext`).  May
    raise :class:`~xensim.toolstack.xl.context.NeedFiles` before the command changes
    anything."""
    argv = shlex.split(command) if isinstance(command, str) else list(command)
    split = split_globals(argv)
    if isinstance(split, str):
        err.write(split + "\n")
        return 1, None
    flags, argv = split
    ctx = XlContext(host, out, err, cwd=cwd, live=live, dryrun=bool(flags["N"]),  # type: ignore[arg-type]
                    force=bool(flags["f"]), verbose=flags["v"], files_in=files_in,
                    waiters_full=waiters_full)
    if not argv:
        main_help(XlContext(host, err, err), [])  # type: ignore[arg-type]
        return 1, None
    spec = lookup(argv[0])
    if spec is None:
        err.write("command not implemented\n")
        return 1, None
    ctx.spec = spec
    if spec.name == "help":
        return main_help(ctx, argv[1:]), ctx
    if "-h" in argv[1:] or "--help" in argv[1:]:
        print_usage(out, spec)
        return 0, ctx
    if ctx.dryrun and not spec.can_dryrun:
        err.write("command does not implement -N (dryrun) option\n")
        return 1, ctx
    if host is None:
        raise RuntimeError(f"xl {spec.name} needs a host")
    try:
        return spec.fn(ctx, argv[1:]), ctx
    except XlUsageError as exc:
        msg = str(exc)
        if msg:
            err.write(msg if msg.endswith("\n") else msg + "\n")
        print_usage(err, spec)
        ctx.waiter = None
        return 2, ctx
    except (LibxlError, XlCfgError) as exc:
        err.write(f"{exc}\n")
        ctx.waiter = None
        return 1, ctx


def run_command(host: Host, command: str | list[str], out: TextIO, err: TextIO, *,
                cwd: str = "/") -> int:
    """Run one command in-process, letting simulated time pass if it must wait."""
    rc, ctx = start_command(host, command, out, err, cwd=cwd)
    if ctx is None or ctx.waiter is None:
        return rc
    deadline = host.now + IN_PROCESS_WAIT_LIMIT
    while True:
        done = ctx.waiter()
        if done is not None:
            return done
        if host.now >= deadline:
            err.write("xl: gave up waiting\n")
            return 1
        host.run(ns=MILLISECS(10))


def capture(host: Host, command: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    rc = run_command(host, command, out, err)
    return rc, out.getvalue(), err.getvalue()

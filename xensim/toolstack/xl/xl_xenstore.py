"""The xenstore-* client tools, run as dom0 against the host's xenstore.

Mirrors: tools/xenstore/xenstore_client.c (one binary, the mode taken from
its name: ``read``, ``write``, ``rm``, ``list``, ``ls``).  They sit in xl's
command table so that a learner can look at what the toolstack and the
split drivers wrote (``xl xenstore-ls /local/domain/1/device``) without a
real dom0 shell.  Wording is the real tools': ``warnx``/``errx`` lines
prefixed with the program name, exit status 1 for every failure, usage
errors included (they do not print xl's usage).

Kept from the real tools: ``read``/``write`` with several paths and
``rm``/``list`` run in one transaction that is aborted on the first
failure (so a failed ``write a 1 /bad 2`` writes nothing), output is
buffered and printed after the warning; ``ls`` runs outside a transaction
and formats as on a pipe (80 columns, permissions padded to column 60
with ``. . .``).  ``-s`` (talk to the socket) is accepted and ignored.
Departure: the requests go straight to the store, not through xenstored's
dom0 vCPU, since the toolstack's time is not simulated (as libxl's own
writes in :mod:`xensim.domains.dom0.iosys`); guests are notified of the watch
events the writes fire at once.
"""

from __future__ import annotations

import errno
import os

from xensim.domains.dom0.xenstore import XenStore, XsError
from xensim.toolstack.xl.context import XlContext, XlUsageError
from xensim.toolstack.xl.getopt import getopt

DOM0 = 0
MAX_WIDTH = 80
"""xenstore-ls' width when stdout is not a terminal (no TIOCGWINSZ)."""
DESIRED_WIDTH = 60
"""Column where ``-p`` puts the permissions when the value is short enough."""
TAG_LEN = len(' = "..."')

USAGE = {
    "read": "[-h] [-p] [-s] key [...]",
    "write": "[-h] [-s] key value [...]",
    "rm": "[-h] [-s] [-t] key [...]",
    "list": "[-h] [-s] key [...]",
    "ls": "[-h] [-s] [path]",
}
LONG = {"help": "h", "socket": "s", "prefix": "p", "tidy": "t"}


class _Exit(Exception):
    """``errx(1, ...)``: the message is already written."""


def _strerror(err: XsError) -> str:
    return os.strerror(getattr(errno, err.name, errno.EINVAL))


def _store(ctx: XlContext) -> XenStore:
    xsd = ctx.libxl.io.xsd
    if xsd is None:  # no dom0 kernel yet: the daemon is not running
        ctx.err.write("xenstore: xs_domain_open: No such file or directory\n")
        raise _Exit
    return xsd.store


def _parse(ctx: XlContext, mode: str, args: list[str]) -> tuple[set[str], list[str]]:
    """The tools' getopt: an option another mode owns is a usage error, as is a
    missing key (or an odd number of arguments to ``write``)."""
    prog = f"xenstore-{mode}"

    def usage() -> _Exit:
        ctx.err.write(f"{prog}: Usage: {prog} {USAGE[mode]}\n")
        return _Exit()

    try:
        opts, ops = getopt(args, "fhsptur", LONG, cmd=prog)
    except XlUsageError:
        raise usage() from None
    flags = {o for o, _ in opts}
    allowed = {"s", "f", "p"} if mode in ("read", "list", "ls") else {"s"}
    if mode == "rm":
        allowed.add("t")
    if flags - allowed or "h" in flags:
        raise usage()
    if mode != "ls" and (not ops or (mode == "write" and len(ops) % 2)):
        raise usage()
    return flags, ops


def _run(ctx: XlContext, mode: str, args: list[str]) -> int:
    try:
        flags, ops = _parse(ctx, mode, args)
        st = _store(ctx)
        if mode == "ls":
            return _ls(ctx, st, ops or ["/"], "p" in flags, "f" in flags)
        return _perform(ctx, st, mode, ops, flags)
    except _Exit:
        return 1
    finally:
        xsd = ctx.libxl.io.xsd
        if xsd is not None:
            xsd.flush()


def _perform(ctx: XlContext, st: XenStore, mode: str, ops: list[str], flags: set[str]) -> int:
    """xenstore_client.c's ``perform`` inside its transaction (when it uses one)."""
    prog = f"xenstore-{mode}"
    use_tx = {"read": len(ops) > 1, "write": len(ops) > 2}.get(mode, True)
    tx = st.transaction_start(DOM0) if use_tx else 0
    out: list[str] = []
    ret = 0
    cur = ""
    try:
        if mode == "read":
            for cur in ops:
                val = st.read(DOM0, cur, tx)
                out.append((f"{cur}: " if "p" in flags else "") + sanitise(val) + "\n")
        elif mode == "write":
            for cur, v in zip(ops[::2], ops[1::2], strict=True):
                st.write(DOM0, cur, unsanitise(v), tx)
        elif mode == "list":
            for cur in ops:
                pre = f"{cur}/" if "p" in flags else ""
                out += [f"{pre}{c}\n" for c in st.directory(DOM0, cur, tx)]
        elif mode == "rm":
            for cur in ops:
                _rm(st, cur, tx, tidy="t" in flags)
    except XsError:
        what = {"read": "couldn't read", "write": "could not write",
                "list": "could not list", "rm": "could not remove"}[mode]
        ctx.err.write(f"{prog}: {what} path {cur}\n")
        ret = 1
    if use_tx:
        st.transaction_end(DOM0, tx, commit=ret == 0)
    ctx.out.write("".join(out))
    return ret


def _rm(st: XenStore, path: str, tx: int, *, tidy: bool) -> None:
    """``-t`` also removes each parent left with no value and no children."""
    while True:
        st.rm(DOM0, path, tx)  # an XsError names the argument, as do_rm's warning
        parent = path.rpartition("/")[0]
        if not tidy or not parent:
            return
        try:
            if st.read(DOM0, parent, tx) or st.directory(DOM0, parent, tx):
                return
        except XsError:
            return
        path = parent


def _ls(ctx: XlContext, st: XenStore, paths: list[str], perms: bool, full: bool) -> int:
    for p in paths:
        try:
            lines = list(_ls_lines(st, p, 0, perms, full))
        except XsError as exc:
            ctx.err.write(f"xenstore-ls: xs_directory ({p}): {_strerror(exc)}\n")
            return 1
        ctx.out.write("".join(lines))
    return 0


def _ls_lines(st: XenStore, path: str, depth: int, perms: bool, full: bool):  # type: ignore[no-untyped-def]
    """``do_ls``: one line per node, children indented one space per level; long
    values cut at the width with ``\\...``; ``-f`` prints whole paths, no cut."""
    max_width = (1 << 30) if full else MAX_WIDTH
    desired = 0 if full else DESIRED_WIDTH
    for name in st.directory(DOM0, path):
        child = path + ("" if path.endswith("/") else "/") + name
        line = child if full else " " * depth + name[:max(max_width - TAG_LEN - depth, 0)]
        width = len(line)
        val = sanitise(st.read(DOM0, child))
        if max_width < width + len(val) + TAG_LEN:
            line += f' = "{val[:max(max_width - TAG_LEN - width, 0)]}\\..."'
        else:
            line += f' = "{val}"'
            width = len(line)
            if perms:
                line += " "
                width += 1
                while width < min(desired, max_width):
                    line += "." if width & 1 else " "
                    width += 1
        if perms:
            line += "  (" + ",".join(st.get_perms(DOM0, child)) + ")"
        yield line + "\n"
        yield from _ls_lines(st, child, depth + 1, perms, full)


def sanitise(val: str) -> str:
    """xs_lib's sanitise_value: printable ASCII as is, backslash doubled, the rest octal."""
    out = []
    for ch in val:
        if ch == "\\":
            out.append("\\\\")
        elif " " <= ch <= "~":
            out.append(ch)
        else:
            out.append(f"\\{ord(ch) & 0xFF:03o}")
    return "".join(out)


def unsanitise(spec: str) -> str:
    """unsanitise_value: ``\\\\`` -> backslash, ``\\ooo`` octal -> that byte."""
    out, i = [], 0
    while i < len(spec):
        ch = spec[i]
        if ch == "\\" and i + 1 < len(spec):
            nxt = spec[i + 1]
            if nxt == "\\":
                out.append("\\")
                i += 2
                continue
            digits = spec[i + 1:i + 4]
            if len(digits) == 3 and all(c in "01234567" for c in digits):
                out.append(chr(int(digits, 8)))
                i += 4
                continue
        out.append(ch)
        i += 1
    return "".join(out)


def main_xs_read(ctx: XlContext, args: list[str]) -> int:
    return _run(ctx, "read", args)


def main_xs_write(ctx: XlContext, args: list[str]) -> int:
    return _run(ctx, "write", args)


def main_xs_rm(ctx: XlContext, args: list[str]) -> int:
    return _run(ctx, "rm", args)


def main_xs_list(ctx: XlContext, args: list[str]) -> int:
    return _run(ctx, "list", args)


def main_xs_ls(ctx: XlContext, args: list[str]) -> int:
    return _run(ctx, "ls", args)

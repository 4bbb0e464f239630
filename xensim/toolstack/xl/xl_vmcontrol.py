"""xl commands that change a domain's life cycle (tools/xl/xl_vmcontrol.c)."""

from __future__ import annotations

from xensim.toolstack.xl.context import XlContext, XlUsageError
from xensim.toolstack.xl.getopt import getopt


def _one_domain(args: list[str], short: str = "") -> tuple[list[tuple[str, str | None]], str]:
    opts, operands = getopt(args, short)
    if len(operands) != 1:
        raise XlUsageError("expected exactly one domain")
    return opts, operands[0]


def main_pause(ctx: XlContext, args: list[str]) -> int:
    _, ident = _one_domain(args)
    ctx.libxl.domain_pause(ctx.libxl.lookup(ident))
    return 0


def main_unpause(ctx: XlContext, args: list[str]) -> int:
    _, ident = _one_domain(args)
    ctx.libxl.domain_unpause(ctx.libxl.lookup(ident))
    return 0


def main_destroy(ctx: XlContext, args: list[str]) -> int:
    opts, ident = _one_domain(args, "f")
    force = any(o == "f" for o, _ in opts)
    d = ctx.libxl.lookup(ident)
    if d.domid == 0 and not force:
        ctx.err.write("Cannot destroy privileged domain 0.\n\n")
        return 1
    ctx.libxl.domain_destroy(d)
    return 0

"""``xl cd-insert`` and ``xl cd-eject`` (tools/xl/xl_cdrom.c).

The image must exist (xl stats it first: "Cannot stat file: PATH"); the
client checks that, since the path is the user's, and inside the daemon the
command trusts it.  libxl's errors are printed and xl exits 1.
"""

from __future__ import annotations

import os

from xensim.toolstack.libxl_cdrom import cdrom_insert
from xensim.toolstack.xl.context import XlContext
from xensim.toolstack.xl.getopt import getopt


def main_cd_insert(ctx: XlContext, args: list[str]) -> int:
    _, ops = getopt(args, "", cmd="cd-insert", reqargs=3)
    d = ctx.libxl.lookup(ops[0])
    path = ops[2]
    if path and not ctx.live and not os.path.exists(ctx.path(path)):
        ctx.err.write(f"Cannot stat file: {path}\n")
        return 1
    cdrom_insert(ctx.libxl, d, ops[1], path)
    return 0


def main_cd_eject(ctx: XlContext, args: list[str]) -> int:
    _, ops = getopt(args, "", cmd="cd-eject", reqargs=2)
    cdrom_insert(ctx.libxl, ctx.libxl.lookup(ops[0]), ops[1], None)
    return 0

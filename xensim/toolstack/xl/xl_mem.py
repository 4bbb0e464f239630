"""xl's memory commands (tools/xl/xl_mem.c): mem-set (balloon target) and mem-max.

Sizes read like xl's ``parse_mem_size_kb``: a number with an optional
suffix b, k, m (the default), g or t.  ``mem-set`` returns as soon as the
target is written: the guest's balloon driver then moves its memory there
over simulated time (see :mod:`xensim.domains.guest.balloon`), so ``xl list``
shows it arriving.  Its ceiling is the config's maxmem (``memory/static-max``),
which ``mem-max`` does not raise, as in libxl.
"""

from __future__ import annotations

from xensim.toolstack.cnum import strtol
from xensim.toolstack.libxl import LibxlError
from xensim.toolstack.xl.context import XlContext
from xensim.toolstack.xl.getopt import getopt

_SHIFT = {"t": 30, "g": 20, "": 10, "m": 10, "k": 0}


def parse_mem_size_kb(text: str) -> int | None:
    """KiB for *text*, or None when xl would say "invalid memory size".

    As xl_parse.c's ``parse_mem_size_kb``: ``strtoll`` (so no digits reads as 0 and a
    number past 2**63 is clamped), then at most one suffix letter.
    """
    got = strtol(text)
    suffix = text[got.end:].lower()
    if len(suffix) > 1 or (suffix not in _SHIFT and suffix != "b"):
        return None
    kib = got.value >> 10 if suffix == "b" else got.value << _SHIFT[suffix]
    kib = (kib + 2**63) % 2**64 - 2**63  # the shift wraps in C's int64_t
    return kib if kib >= 0 else None  # xl passes a negative size on; libxl refuses it


def _mem_cmd(ctx: XlContext, args: list[str], cmd: str) -> int:
    _, ops = getopt(args, "", cmd=cmd, reqargs=2)
    d = ctx.libxl.lookup(ops[0])
    kib = parse_mem_size_kb(ops[1])
    if kib is None:
        ctx.err.write(f"invalid memory size: {ops[1]}\n")
        return 1
    try:
        if cmd == "mem-set":
            ctx.libxl.set_memory_target(d, kib)
        else:
            ctx.libxl.domain_setmaxmem(d, kib)
    except LibxlError as exc:
        which = "dynamic" if cmd == "mem-set" else "static"
        ctx.err.write(f"{exc}\ncannot set domid {d.domid} {which} max memory to : {ops[1]}\n")
        return 1
    return 0


def main_memset(ctx: XlContext, args: list[str]) -> int:
    return _mem_cmd(ctx, args, "mem-set")


def main_memmax(ctx: XlContext, args: list[str]) -> int:
    return _mem_cmd(ctx, args, "mem-max")

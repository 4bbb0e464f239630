"""PCI passthrough from the command line: ``pci-assignable-*`` and ``pci-attach/detach/list``.

Mirrors: tools/xl/xl_pci.c (main_pcilist, main_pciattach, main_pcidetach,
main_pciassignable_add/_remove/_list): each parses its argument with
libxlu (a malformed one exits 2 with xl's message), calls libxl and prints
what xl prints: ``pci-list`` a ``Vdev Device`` table (``%02x.%01x
%04x:%02x:%02x.%01x``), ``pci-assignable-list`` one BDF per line (with
``-n`` its name).  Failures are libxl's lines and exit 1.
"""

from __future__ import annotations

from xensim.hypervisor.passthrough import fmt_bdf, parse_bdf
from xensim.toolstack.libxl import LibxlError
from xensim.toolstack.pcispec import PciSpecError, parse_pci_spec
from xensim.toolstack.xl.context import XlContext
from xensim.toolstack.xl.getopt import getopt


def main_pcilist(ctx: XlContext, args: list[str]) -> int:
    _, ops = getopt(args, "", cmd="pci-list", reqargs=1)
    d = ctx.libxl.lookup(ops[0])
    ctx.out.write("Vdev Device\n")
    for dev in ctx.libxl.pci.device_list(d):
        ctx.out.write(f"{(dev.vdevfn >> 3) & 0x1F:02x}.{dev.vdevfn & 7:01x} {dev.bdf}\n")
    return 0


def _attach_detach(ctx: XlContext, args: list[str], cmd: str) -> int:
    _, ops = getopt(args, "f" if cmd == "pci-detach" else "", cmd=cmd, reqargs=2)
    d = ctx.libxl.lookup(ops[0])
    try:
        spec = parse_pci_spec(ops[1])
    except PciSpecError as exc:
        if str(exc).startswith("Unknown"):  # libxlu reports it without a newline
            ctx.err.write(str(exc))
        ctx.err.write(f"{cmd}: malformed PCI_SPEC_STRING \"{ops[1]}\"\n")
        return 2
    try:
        if cmd == "pci-attach":
            ctx.libxl.pci.device_add(d, spec)
        else:
            ctx.libxl.pci.device_remove(d, spec)
    except LibxlError as exc:
        ctx.err.write(f"{exc}\n")
        return 1
    return 0


def main_pciattach(ctx: XlContext, args: list[str]) -> int:
    return _attach_detach(ctx, args, "pci-attach")


def main_pcidetach(ctx: XlContext, args: list[str]) -> int:
    return _attach_detach(ctx, args, "pci-detach")


def main_pciassignable_list(ctx: XlContext, args: list[str]) -> int:
    opts, _ = getopt(args, "n", {"show-names": "n"}, cmd="pci-assignable-list")
    show_names = any(flag == "n" for flag, _ in opts)
    for bdf, name in ctx.libxl.pci.assignable_list():
        ctx.out.write(f"{bdf} {(name or '') if show_names else ''}\n")
    return 0


def main_pciassignable_add(ctx: XlContext, args: list[str]) -> int:
    opts, ops = getopt(args, "n:", {"name": "n"}, cmd="pci-assignable-add", reqargs=1)
    parsed = parse_bdf(ops[0])
    if parsed is None:
        ctx.err.write(f"pci-assignable-add: malformed BDF \"{ops[0]}\"\n")
        return 2
    try:
        name = next((val for flag, val in opts if flag == "n"), None)
        for line in ctx.libxl.pci.assignable_add(fmt_bdf(*parsed), name):
            ctx.err.write(line + "\n")
    except LibxlError as exc:
        ctx.err.write(f"{exc}\n")
        return 1
    return 0


def main_pciassignable_remove(ctx: XlContext, args: list[str]) -> int:
    _, ops = getopt(args, "r", cmd="pci-assignable-remove", reqargs=1)
    try:
        ctx.libxl.pci.assignable_remove(ops[0])
    except PciSpecError:
        ctx.err.write(f"pci-assignable-remove: malformed BDF '{ops[0]}'\n")
        return 2
    except LibxlError as exc:
        ctx.err.write(f"{exc}\n")
        return 1
    return 0

"""A guest's PV devices: ``network-list/attach/detach`` and ``block-list/attach/detach``.

Mirrors: tools/xl/xl_nic.c (main_networklist, main_networkattach,
main_networkdetach) and xl_block.c (main_blocklist, main_blockattach,
main_blockdetach).  The lists read every column from the *frontend*
directory ``/local/domain/<domid>/device/<vif|vbd>/<devid>`` (``backend``,
``backend-id``, ``state``, ``event-channel``, the ring refs), as dom0, as
libxl_device_nic_getinfo / libxl_device_disk_getinfo do, so what a learner
sees is exactly what ``xl xenstore-ls`` shows there; a key the frontend has
not written yet shows as -1.  block-list's ``handle`` column is the
frontend's domid (libxl fills it from ``frontend_id``), not the device id.

Attach and detach are libxl's asynchronous device operations
(:mod:`xensim.toolstack.libxl_device`): the command returns once libxl is
done (for an attach: the backend is in InitWait and vif-bridge ran; the
guest connects a moment later; for a detach: both ends closed and the
directories are gone), and meanwhile simulated time passes.  The vif spec
and diskspec are xl.cfg's (key=value words, joined with commas); ``-N``
prints the parsed device instead.  ``network-detach`` takes a devid or a
MAC and, if the guest does not let go within 10 s, forces the removal;
``block-detach`` takes a vdev or devid and fails instead, unless ``-f``.

Errors differ between commands, as in xl: network-list, the attaches'
network half and the detaches use find_domain (message with rc, exit 1),
block-list and block-attach libxl_domain_qualifier_to_domid (a bare
message; block-list carries on with the next name and exits 0).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from xensim.toolstack.cnum import ascii_uint, atoi
from xensim.toolstack.diskspec import DiskSpecError, parse_diskspec
from xensim.toolstack.libxl import LibxlError
from xensim.toolstack.libxl_device import disk_dev_number
from xensim.toolstack.vifspec import VifSpecError, parse_vifspec
from xensim.toolstack.xl.context import XlContext
from xensim.toolstack.xl.getopt import getopt

if TYPE_CHECKING:
    from xensim.hypervisor.domain import Domain
    from xensim.toolstack.libxl_device import DeviceOp

NIC_HEADER = "%-3s %-2s %-17s %-6s %-5s %-6s %5s/%-5s %-30s\n" % (
    "Idx", "BE", "Mac Addr.", "handle", "state", "evt-ch", "tx-", "rx-ring-ref", "BE-path")
DISK_HEADER = "%-5s %-3s %-6s %-5s %-6s %-8s %-30s\n" % (
    "Vdev", "BE", "handle", "state", "evt-ch", "ring-ref", "BE-path")


def _num(keys: dict[str, str], key: str) -> int:
    n = ascii_uint(keys.get(key, ""))
    return -1 if n is None else n


def main_networklist(ctx: XlContext, args: list[str]) -> int:
    _, ops = getopt(args, "", cmd="network-list", reqargs=1)
    ctx.out.write(NIC_HEADER)
    for name in ops:
        d = ctx.libxl.lookup(name)  # find_domain: exits on a bad name
        for devid, k in ctx.libxl.device_list(d, "vif").items():
            ctx.out.write("%-3d %-2d %s%6d %5d %6d %5d/%-11d %-30s\n" % (
                devid, _num(k, "backend-id"), k.get("mac", "00:00:00:00:00:00"), devid,
                _num(k, "state"), _num(k, "event-channel"), _num(k, "tx-ring-ref"),
                _num(k, "rx-ring-ref"), k.get("backend", "")))
    return 0


def _qualifier_to_domain(ctx: XlContext, name: str) -> Domain | None:
    try:
        return ctx.libxl.lookup(name)
    except LibxlError:
        ctx.err.write(f"{name} is an invalid domain identifier\n")
        return None


def main_blocklist(ctx: XlContext, args: list[str]) -> int:
    _, ops = getopt(args, "", cmd="block-list", reqargs=1)
    ctx.out.write(DISK_HEADER)
    for name in ops:
        d = _qualifier_to_domain(ctx, name)
        if d is None:
            continue
        for devid, k in ctx.libxl.device_list(d, "vbd").items():
            ctx.out.write("%-5d %-3d %-6d %-5d %-6d %-8d %-30s\n" % (
                devid, _num(k, "backend-id"), d.domid, _num(k, "state"),
                _num(k, "event-channel"), _num(k, "ring-ref"), k.get("backend", "")))
    return 0


# --- attach and detach ------------------------------------------------------------------------
def _wait(ctx: XlContext, op: DeviceOp, failed: str) -> int:
    """Finish now if libxl is done, else leave a waiter; print libxl's lines on failure."""

    def waiter() -> int | None:
        if op.rc is None:
            return None
        for line in op.errors:
            ctx.err.write(line + "\n")
        if op.rc:
            ctx.err.write(failed + "\n")
            return 1
        return 0

    rc = waiter()
    if rc is None:
        ctx.waiter = waiter
        return 0
    return rc


def _add(ctx: XlContext, label: str, spec: Any, add: Callable[[], DeviceOp],
         failed: str) -> int:
    """The attach commands' common end: ``-N`` prints the parsed device, else libxl
    adds it and xl waits for the result."""
    if ctx.dryrun:
        ctx.out.write(f"{label}: " + json.dumps(spec.to_dict(), indent=4) + "\n")
        return 0
    try:
        op = add()
    except LibxlError as exc:
        ctx.err.write(f"{exc}\n{failed}\n")
        return 1
    return _wait(ctx, op, failed)


def main_networkattach(ctx: XlContext, args: list[str]) -> int:
    _, ops = getopt(args, "", cmd="network-attach", reqargs=1)
    d = ctx.libxl.lookup(ops[0])
    try:
        vif, warnings = parse_vifspec(",".join(ops[1:]))
    except VifSpecError as exc:
        ctx.err.write(f"{exc}\n")
        return 1
    for w in warnings:
        ctx.err.write(f"{w}\n")
    return _add(ctx, "vif", vif, lambda: ctx.libxl.device_nic_add(d, vif),
                "libxl_device_nic_add failed.")


def main_networkdetach(ctx: XlContext, args: list[str]) -> int:
    _, ops = getopt(args, "", cmd="network-detach", reqargs=2)
    d = ctx.libxl.lookup(ops[0])
    which = ops[1]
    nics = ctx.libxl.device_list(d, "vif")
    if ":" not in which:  # libxl_devid_to_device_nic
        devid: int | None = atoi(which)
    else:  # libxl_mac_to_device_nic
        want = _mac(which)
        devid = next((i for i, k in nics.items() if want and _mac(k.get("mac", "")) == want),
                     None)
    if devid not in nics:
        ctx.err.write(f"Unknown device {which}.\n")
        return 1
    return _wait(ctx, ctx.libxl.device_nic_remove(d, devid), "libxl_device_nic_del failed.")


def _mac(text: str) -> tuple[int, ...] | None:
    """libxl__parse_mac: six hex bytes separated by colons."""
    parts = text.split(":")
    if len(parts) != 6 or not all(re.fullmatch(r"[0-9a-fA-F]{1,2}", p) for p in parts):
        return None
    return tuple(int(p, 16) for p in parts)


def main_blockattach(ctx: XlContext, args: list[str]) -> int:
    _, ops = getopt(args, "", cmd="block-attach", reqargs=2)
    d = _qualifier_to_domain(ctx, ops[0])
    if d is None:
        return 1
    spec = ",".join(ops[1:])  # xlu_disk_parse takes the words as one spec
    try:
        disk = parse_diskspec(spec)
    except DiskSpecError as exc:
        ctx.err.write(f"command line: config parsing error in disk specification: {exc} "
                      f"in `{spec}'\n")
        return 1
    return _add(ctx, "disk", disk, lambda: ctx.libxl.device_disk_add(d, disk),
                "libxl_device_disk_add failed.")


def main_blockdetach(ctx: XlContext, args: list[str]) -> int:
    opts, ops = getopt(args, "f", {"force": "f"}, cmd="block-detach", reqargs=2)
    force = any(o == "f" for o, _ in opts)
    d = ctx.libxl.lookup(ops[0])
    devid = disk_dev_number(ops[1])  # libxl_vdev_to_device_disk
    if devid < 0 or devid not in ctx.libxl.device_list(d, "vbd"):
        ctx.err.write(f"Error: Device {ops[1]} not connected.\n")
        return 1
    op = ctx.libxl.device_disk_remove(d, devid, force=force)
    return _wait(ctx, op, f"libxl_device_disk_{'destroy' if force else 'safe_remove'} failed.")

"""``xl network-list`` and ``xl block-list``: a guest's PV devices as xenstore records them.

Mirrors: tools/xl/xl_nic.c (main_networklist) and xl_block.c
(main_blocklist), with libxl_device_nic_getinfo / libxl_device_disk_getinfo
behind them: every column comes from the *frontend* directory
``/local/domain/<domid>/device/<vif|vbd>/<devid>`` (``backend``,
``backend-id``, ``state``, ``event-channel``, the ring refs), read as dom0,
so what a learner sees is exactly what ``xl xenstore-ls`` shows there; a
key the frontend has not written yet shows as -1, as libxl's getinfo does.
block-list's ``handle`` column is the frontend's domid (libxl fills it
from ``frontend_id``), not the device id.

Errors differ between the two, as in xl: network-list uses find_domain
(message and exit 1 on the first bad name, after the header), block-list
uses libxl_domain_qualifier_to_domid (a message per bad name, carry on,
exit 0).

There is no network-attach/detach or block-attach/detach: the I/O system
sets devices up only at domain creation and tears them down only with the
whole domain (frontends have no per-device close), so hot-plug could not
be done without leaking grants and ports.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from xensim.domains.xenstore import XenStore, XsError
from xensim.toolstack.libxl import LibxlError
from xensim.toolstack.xl.context import XlContext
from xensim.toolstack.xl.getopt import getopt

if TYPE_CHECKING:
    from xensim.hypervisor.domain import Domain

NIC_HEADER = "%-3s %-2s %-17s %-6s %-5s %-6s %5s/%-5s %-30s\n" % (
    "Idx", "BE", "Mac Addr.", "handle", "state", "evt-ch", "tx-", "rx-ring-ref", "BE-path")
DISK_HEADER = "%-5s %-3s %-6s %-5s %-6s %-8s %-30s\n" % (
    "Vdev", "BE", "handle", "state", "evt-ch", "ring-ref", "BE-path")


def _frontends(st: XenStore, domid: int, kind: str) -> list[tuple[int, dict[str, str]]]:
    """Each device under the domain's ``device/<kind>``, by devid, with its keys."""
    top = f"/local/domain/{domid}/device/{kind}"
    try:
        devids = st.directory(0, top)
    except XsError:
        return []
    out = []
    for devid in sorted((d for d in devids if d.isdigit()), key=int):
        keys: dict[str, str] = {}
        try:
            for k in st.directory(0, f"{top}/{devid}"):
                keys[k] = st.read(0, f"{top}/{devid}/{k}")
        except XsError:
            continue  # removed while we looked: libxl skips it too
        out.append((int(devid), keys))
    return out


def _num(keys: dict[str, str], key: str) -> int:
    val = keys.get(key, "")
    return int(val) if val.isdigit() else -1


def _store(ctx: XlContext) -> XenStore | None:
    xsd = ctx.libxl.io.xsd
    return None if xsd is None else xsd.store


def main_networklist(ctx: XlContext, args: list[str]) -> int:
    _, ops = getopt(args, "", cmd="network-list", reqargs=1)
    ctx.out.write(NIC_HEADER)
    st = _store(ctx)
    for name in ops:
        d = ctx.libxl.lookup(name)  # find_domain: exits on a bad name
        if st is None:
            continue
        for devid, k in _frontends(st, d.domid, "vif"):
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
    st = _store(ctx)
    for name in ops:
        d = _qualifier_to_domain(ctx, name)
        if d is None or st is None:
            continue
        for devid, k in _frontends(st, d.domid, "vbd"):
            ctx.out.write("%-5d %-3d %-6d %-5d %-6d %-8d %-30s\n" % (
                devid, _num(k, "backend-id"), d.domid, _num(k, "state"),
                _num(k, "event-channel"), _num(k, "ring-ref"), k.get("backend", "")))
    return 0

"""event_channel_op and grant_table_op: the hypercall face of the inter-domain modules.

Mirrors: xen/common/event_channel.c (do_event_channel_op) and
xen/common/grant_table.c (do_grant_table_op).  The verbs live in
:mod:`event_channel` and :mod:`grant_table`; here we only check that the
guest's structs are readable (``-EFAULT`` otherwise), dispatch with the
Hypervisor as the domain registry, charge the per-entry cost of grant
operations (map, unmap, copy by length) from the cost table, and count a
refusal of privilege in the domain's ``denied``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from xensim.hypervisor.errno import EFAULT, EPERM
from xensim.hypervisor.evtchn import abi as eva
from xensim.hypervisor.evtchn.event_channel import do_event_channel_op
from xensim.hypervisor.grant import abi as gta
from xensim.hypervisor.grant.grant_table import do_grant_table_op
from xensim.hypervisor.hc_util import batch_ok, c_struct_ok, is_int
from xensim.hypervisor.hypercall import HC, register_hypercall

if TYPE_CHECKING:
    from xensim.hypervisor.hypervisor import Hypervisor
    from xensim.hypervisor.vcpu import VCPU

_EVTCHN_OPS: dict[int, type] = {
    eva.EVTCHNOP.bind_interdomain: eva.EvtchnBindInterdomain,
    eva.EVTCHNOP.bind_virq: eva.EvtchnBindVirq,
    eva.EVTCHNOP.close: eva.EvtchnClose,
    eva.EVTCHNOP.send: eva.EvtchnSend,
    eva.EVTCHNOP.status: eva.EvtchnStatus,
    eva.EVTCHNOP.alloc_unbound: eva.EvtchnAllocUnbound,
    eva.EVTCHNOP.bind_ipi: eva.EvtchnBindIpi,
    eva.EVTCHNOP.bind_vcpu: eva.EvtchnBindVcpu,
    eva.EVTCHNOP.unmask: eva.EvtchnUnmask,
    eva.EVTCHNOP.reset: eva.EvtchnReset,
}


def hc_event_channel_op(hyp: Hypervisor, v: VCPU, cmd: int, op: Any = None) -> int:
    if not is_int(cmd):
        return EFAULT
    want = _EVTCHN_OPS.get(cmd)
    if want is not None and not c_struct_ok(op, (want,)):
        return EFAULT
    rc = do_event_channel_op(hyp.evtchn, v.domain, cmd, op)
    if rc == EPERM:
        v.domain.denied += 1
    return rc


_GNT_OPS: dict[int, tuple[type, ...]] = {
    gta.GNTTABOP.map_grant_ref: (gta.GnttabMapGrantRef,),
    gta.GNTTABOP.unmap_grant_ref: (gta.GnttabUnmapGrantRef,),
    gta.GNTTABOP.setup_table: (gta.GnttabSetupTable,),
    gta.GNTTABOP.copy: (gta.GnttabCopy,),
    gta.GNTTABOP.query_size: (gta.GnttabQuerySize,),
}


def _copy_fields_ok(op: gta.GnttabCopy) -> bool:
    """uint16 len and offsets, as in struct gnttab_copy."""
    return (0 <= op.len <= 0xFFFF and 0 <= op.source.offset <= 0xFFFF
            and 0 <= op.dest.offset <= 0xFFFF)


def hc_grant_table_op(hyp: Hypervisor, v: VCPU, cmd: int, uops: Any = None,
                      count: Any = None) -> int:
    if not is_int(cmd):
        return EFAULT
    if count is None and type(uops) is list:
        count = len(uops)
    types = _GNT_OPS.get(cmd)
    if types is not None:
        if not batch_ok(uops, count, types):
            return EFAULT
        if cmd == gta.GNTTABOP.copy and not all(_copy_fields_ok(o) for o in uops[:count]):
            return EFAULT
    elif type(uops) is not list or not is_int(count):
        return EFAULT
    rc = do_grant_table_op(hyp.gnttab, v.domain, cmd, uops, count)
    if rc == 0 and types is not None:
        _charge(hyp, v, cmd, uops[:count])
    return rc


def _charge(hyp: Hypervisor, v: VCPU, cmd: int, ops: list[Any]) -> None:
    c = hyp.costs
    if cmd == gta.GNTTABOP.map_grant_ref:
        ns = c["grant_map"] * len(ops)
    elif cmd == gta.GNTTABOP.unmap_grant_ref:
        ns = c["grant_unmap"] * len(ops)
    elif cmd == gta.GNTTABOP.copy:
        per4k = c["grant_copy_4k"]
        ns = sum(c["grant_copy"] + (o.len * per4k >> 12 if o.status == 0 else 0) for o in ops)
    else:
        ns = 0
    denied = sum(1 for o in ops if o.status == gta.GNTST.permission_denied)
    if denied:
        v.domain.denied += denied
    hyp.charge(ns)


register_hypercall(HC.event_channel_op, hc_event_channel_op)
register_hypercall(HC.grant_table_op, hc_grant_table_op)

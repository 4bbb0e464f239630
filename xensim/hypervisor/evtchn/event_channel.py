"""Event channels: per-domain port tables and the EVTCHNOP hypercall.

Mirrors: xen/common/event_channel.c (get_free_port, evtchn_alloc_unbound,
evtchn_bind_interdomain, evtchn_bind_virq, evtchn_bind_ipi, evtchn_close,
evtchn_send, evtchn_status, evtchn_bind_vcpu, evtchn_unmask, evtchn_reset,
send_guest_vcpu_virq, send_guest_global_virq, evtchn_destroy, the 'e' debug
key); simplified: no locking, no XSM beyond the dummy policy, no PIRQs, no
Xen-attached consumers, no FIFO ABI, no SCHEDOP_poll pollers.

Each verb takes the host-wide :class:`EventChannels` context, the calling
domain and a typed op, and returns ``0`` or ``-errno`` with the same checks,
in the same order, as event_channel.c (the order decides which error a bad
call sees).  Output fields are written into the op, as Xen copies the struct
back to the guest.  Delivery goes through :mod:`evtchn_2l`; a needed kick
calls ``ctx.notify(domain, vcpu_id)``.

Ports are allocated in buckets of :data:`EVTCHNS_PER_BUCKET` as Xen does, so
``port_is_valid`` (and hence -EINVAL versus a silent no-op on unmask) depends
on how many ports the domain has ever allocated, exactly like the real thing.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from xensim.hypervisor.domctx import (
    DOMID_SELF,
    DomainCounters,
    DomainLike,
    DomainRegistry,
    NotifyFn,
    lookup_any,
    no_notify,
    xsm_target_ok,
)
from xensim.hypervisor.errno import EEXIST, EINVAL, ENOENT, ENOSPC, ENOSYS, EPERM, ESRCH
from xensim.hypervisor.evtchn.abi import (  # noqa: F401 - re-exported
    ECS,
    EVTCHNOP,
    NR_VIRQS,
    VIRQ,
    EvtchnAllocUnbound,
    EvtchnBindInterdomain,
    EvtchnBindIpi,
    EvtchnBindVcpu,
    EvtchnBindVirq,
    EvtchnClose,
    EvtchnReset,
    EvtchnSend,
    EvtchnStat,
    EvtchnStatus,
    EvtchnUnmask,
    virq_is_global,
)
from xensim.hypervisor.evtchn.event_2l import (
    EVTCHN_2L_NR_CHANNELS,
    SharedInfo,
    bit_is_set,
    evtchn_2l_clear_pending,
    evtchn_2l_set_pending,
    evtchn_2l_unmask,
    guest_scan_pending,
    set_bit,
)
from xensim.hypervisor.lazy import LazyEntries

EVTCHNS_PER_BUCKET = 64
"""PAGE_SIZE / sizeof(struct evtchn) rounded to a power of two on x86-64."""

# ---- state -------------------------------------------------------------------


@dataclass(slots=True)
class Evtchn:
    """``struct evtchn``: the union collapsed into plain fields."""

    port: int
    state: ECS = ECS.FREE
    notify_vcpu_id: int = 0
    remote_domid: int = 0  # UNBOUND: who may bind; INTERDOMAIN: peer
    remote_port: int = 0  # INTERDOMAIN only
    virq: int = 0  # VIRQ only


class DomainEvtchn:
    """One domain's port table, shared-info bitmaps and virq_to_evtchn."""

    def __init__(self, domain: DomainLike, max_evtchn_port: int) -> None:
        self.domain = domain
        self.max_evtchn_port = min(max_evtchn_port, EVTCHN_2L_NR_CHANNELS - 1)
        self.max_evtchns = EVTCHN_2L_NR_CHANNELS
        self.ports: LazyEntries[Evtchn] = LazyEntries(Evtchn)
        self._free: list[int] = []
        """A heap holding every FREE port (and some that were taken since)."""
        self.shared = SharedInfo.for_vcpus(domain.max_vcpus)
        self.virq_to_evtchn = [[0] * NR_VIRQS for _ in range(domain.max_vcpus)]
        self._grow()
        self.ports[0].state = ECS.RESERVED

    def _grow(self) -> None:
        base = len(self.ports)
        self.ports.length += EVTCHNS_PER_BUCKET  # ports are made when first touched
        self._free.extend(range(base, base + EVTCHNS_PER_BUCKET))  # sorted: still a heap

    def port_is_valid(self, port: int) -> bool:
        return 0 <= port < min(len(self.ports), self.max_evtchns)

    def get_free_port(self) -> int:
        """Lowest FREE port, growing a bucket if needed; -EINVAL when dying.

        Xen scans the ports from 0; a heap of the ports that became FREE (stale
        entries dropped on the way) finds the same port without the scan, which
        dom0 needs with one store and one console port per guest (NOTE: for
        speed, see benchmarks/).
        """
        if self.domain.is_dying:
            return EINVAL
        free, ports = self._free, self.ports
        while free and ports[free[0]].state != ECS.FREE:
            heapq.heappop(free)
        if free:
            return ENOSPC if free[0] > self.max_evtchn_port else free[0]
        port = len(self.ports)
        if port >= self.max_evtchns or port > self.max_evtchn_port:
            return ENOSPC
        self._grow()
        return port

    def port_freed(self, port: int) -> None:
        """*port* went back to FREE: a candidate for :meth:`get_free_port` again."""
        heapq.heappush(self._free, port)

    def in_use(self) -> list[Evtchn]:
        return [c for c in self.ports.touched() if c.state not in (ECS.FREE, ECS.RESERVED)]


class EventChannels:
    """Host-wide event-channel subsystem: the *ctx* of every verb."""

    def __init__(
        self,
        registry: DomainRegistry,
        notify: NotifyFn = no_notify,
        max_evtchn_port: int = EVTCHN_2L_NR_CHANNELS - 1,
    ) -> None:
        self.registry = registry
        self.notify = notify
        self.max_evtchn_port = max_evtchn_port
        self.counters = DomainCounters()
        self.doms: dict[int, DomainEvtchn] = {}

    def dom(self, d: DomainLike) -> DomainEvtchn:
        """The domain's table, created on first use (Xen's evtchn_init)."""
        de = self.doms.get(d.domid)
        if de is None:
            de = self.doms[d.domid] = DomainEvtchn(d, self.max_evtchn_port)
        return de

    def chn(self, d: DomainLike, port: int) -> Evtchn:
        return self.dom(d).ports[port]


def evtchn_init(ctx: EventChannels, d: DomainLike, max_evtchn_port: int | None = None) -> None:
    """Create the port table now, optionally with libxl's ``event_channels`` limit."""
    limit = ctx.max_evtchn_port if max_evtchn_port is None else max_evtchn_port
    ctx.doms[d.domid] = DomainEvtchn(d, limit)


def _set_pending(ctx: EventChannels, d: DomainLike, vcpu_id: int, chn: Evtchn) -> None:
    ctx.counters.bump(d.domid, "raised")
    if evtchn_2l_set_pending(ctx.dom(d).shared, vcpu_id, chn.port):
        ctx.counters.bump(d.domid, "upcalls")
        ctx.notify(d, vcpu_id)


# ---- verbs ---------------------------------------------------------------------


def evtchn_alloc_unbound(ctx: EventChannels, caller: DomainLike, op: EvtchnAllocUnbound) -> int:
    d = lookup_any(ctx.registry, caller, op.dom)
    if d is None:
        return ESRCH
    de = ctx.dom(d)
    port = de.get_free_port()
    if port < 0:
        return port
    if not xsm_target_ok(caller, d):
        return EPERM
    chn = de.ports[port]
    chn.state = ECS.UNBOUND
    chn.remote_domid = caller.domid if op.remote_dom == DOMID_SELF else op.remote_dom
    op.port = port
    return 0


def evtchn_bind_interdomain(
    ctx: EventChannels, caller: DomainLike, op: EvtchnBindInterdomain
) -> int:
    rdom = caller.domid if op.remote_dom == DOMID_SELF else op.remote_dom
    rd = ctx.registry.get_domain(rdom)
    if rd is None:
        return ESRCH
    lde, rde = ctx.dom(caller), ctx.dom(rd)
    lport = lde.get_free_port()
    if lport < 0:
        return lport
    if not rde.port_is_valid(op.remote_port):
        return EINVAL
    rchn = rde.ports[op.remote_port]
    if rchn.state != ECS.UNBOUND or rchn.remote_domid != caller.domid:
        return EINVAL
    lchn = lde.ports[lport]
    lchn.state, lchn.remote_domid, lchn.remote_port = ECS.INTERDOMAIN, rd.domid, rchn.port
    rchn.state, rchn.remote_domid, rchn.remote_port = ECS.INTERDOMAIN, caller.domid, lport
    # Xen: notifications sent to the unbound end were dropped, so always
    # raise the new local port once.
    _set_pending(ctx, caller, lchn.notify_vcpu_id, lchn)
    op.local_port = lport
    return 0


def evtchn_bind_virq(ctx: EventChannels, caller: DomainLike, op: EvtchnBindVirq) -> int:
    if not 0 <= op.virq < NR_VIRQS:
        return EINVAL
    if virq_is_global(op.virq) and op.vcpu != 0:
        return EINVAL
    if not 0 <= op.vcpu < caller.max_vcpus:
        return ENOENT
    de = ctx.dom(caller)
    if de.virq_to_evtchn[op.vcpu][op.virq] != 0:
        return EEXIST
    port = de.get_free_port()
    if port < 0:
        return port
    chn = de.ports[port]
    chn.state, chn.notify_vcpu_id, chn.virq = ECS.VIRQ, op.vcpu, op.virq
    de.virq_to_evtchn[op.vcpu][op.virq] = op.port = port
    return 0


def evtchn_bind_ipi(ctx: EventChannels, caller: DomainLike, op: EvtchnBindIpi) -> int:
    if not 0 <= op.vcpu < caller.max_vcpus:
        return ENOENT
    de = ctx.dom(caller)
    port = de.get_free_port()
    if port < 0:
        return port
    chn = de.ports[port]
    chn.state, chn.notify_vcpu_id = ECS.IPI, op.vcpu
    op.port = port
    return 0


def _close_port(ctx: EventChannels, d1: DomainLike, port1: int) -> int:
    """``__evtchn_close``: free the port; an interdomain peer falls back to UNBOUND."""
    de = ctx.dom(d1)
    if not de.port_is_valid(port1):
        return EINVAL
    chn = de.ports[port1]
    if chn.state in (ECS.FREE, ECS.RESERVED):
        return EINVAL
    if chn.state == ECS.VIRQ:
        for per_vcpu in de.virq_to_evtchn:
            if per_vcpu[chn.virq] == port1:
                per_vcpu[chn.virq] = 0
    elif chn.state == ECS.INTERDOMAIN:
        d2 = ctx.registry.get_domain(chn.remote_domid)
        peer = ctx.dom(d2).ports[chn.remote_port] if d2 is not None else None
        if peer is not None:
            peer.state, peer.remote_domid, peer.remote_port = ECS.UNBOUND, d1.domid, 0
    evtchn_2l_clear_pending(de.shared, port1)
    chn.state, chn.notify_vcpu_id = ECS.FREE, 0
    chn.remote_domid = chn.remote_port = chn.virq = 0
    de.port_freed(port1)
    return 0


def evtchn_close(ctx: EventChannels, caller: DomainLike, op: EvtchnClose) -> int:
    return _close_port(ctx, caller, op.port)


def evtchn_send(ctx: EventChannels, caller: DomainLike, op: EvtchnSend) -> int:
    de = ctx.dom(caller)
    if not de.port_is_valid(op.port):
        return EINVAL
    chn = de.ports[op.port]
    if chn.state == ECS.INTERDOMAIN:
        rd = ctx.registry.get_domain(chn.remote_domid)
        if rd is not None:
            rchn = ctx.dom(rd).ports[chn.remote_port]
            _set_pending(ctx, rd, rchn.notify_vcpu_id, rchn)
    elif chn.state == ECS.IPI:
        _set_pending(ctx, caller, chn.notify_vcpu_id, chn)
    elif chn.state != ECS.UNBOUND:  # UNBOUND: Xen silently drops it
        return EINVAL
    ctx.counters.bump(caller.domid, "sends")
    return 0


def evtchn_status(ctx: EventChannels, caller: DomainLike, op: EvtchnStatus) -> int:
    d = lookup_any(ctx.registry, caller, op.dom)
    if d is None:
        return ESRCH
    de = ctx.dom(d)
    if not de.port_is_valid(op.port):
        return EINVAL
    if not xsm_target_ok(caller, d):
        return EPERM
    chn = de.ports[op.port]
    op.status = _STAT[chn.state]
    op.remote_dom = chn.remote_domid if chn.state in (ECS.UNBOUND, ECS.INTERDOMAIN) else 0
    op.remote_port = chn.remote_port if chn.state == ECS.INTERDOMAIN else 0
    op.virq = chn.virq if chn.state == ECS.VIRQ else 0
    op.vcpu = chn.notify_vcpu_id
    return 0


_STAT = {
    ECS.FREE: EvtchnStat.closed,
    ECS.RESERVED: EvtchnStat.closed,
    ECS.UNBOUND: EvtchnStat.unbound,
    ECS.INTERDOMAIN: EvtchnStat.interdomain,
    ECS.PIRQ: EvtchnStat.pirq,
    ECS.VIRQ: EvtchnStat.virq,
    ECS.IPI: EvtchnStat.ipi,
}


def evtchn_bind_vcpu(ctx: EventChannels, caller: DomainLike, op: EvtchnBindVcpu) -> int:
    if not 0 <= op.vcpu < caller.max_vcpus:
        return ENOENT
    de = ctx.dom(caller)
    if not de.port_is_valid(op.port):
        return EINVAL
    chn = de.ports[op.port]
    if (
        chn.state == ECS.VIRQ
        and virq_is_global(chn.virq)
        or chn.state in (ECS.UNBOUND, ECS.INTERDOMAIN)
    ):
        chn.notify_vcpu_id = op.vcpu
    else:
        return EINVAL
    return 0


def evtchn_unmask(ctx: EventChannels, caller: DomainLike, op: EvtchnUnmask) -> int:
    de = ctx.dom(caller)
    if not de.port_is_valid(op.port):
        return EINVAL
    vcpu_id = de.ports[op.port].notify_vcpu_id
    if evtchn_2l_unmask(de.shared, vcpu_id, op.port):
        ctx.counters.bump(caller.domid, "upcalls")
        ctx.notify(caller, vcpu_id)
    return 0


def evtchn_reset(ctx: EventChannels, caller: DomainLike, op: EvtchnReset) -> int:
    d = lookup_any(ctx.registry, caller, op.dom)
    if d is None:
        return ESRCH
    if not xsm_target_ok(caller, d):
        return EPERM
    for chn in ctx.dom(d).ports.touched():  # the untouched ports are FREE already
        _close_port(ctx, d, chn.port)
    return 0


Verb = Callable[[EventChannels, DomainLike, Any], int]

EVTCHNOP_TABLE: dict[int, Verb] = {
    EVTCHNOP.bind_interdomain: evtchn_bind_interdomain,
    EVTCHNOP.bind_virq: evtchn_bind_virq,
    EVTCHNOP.close: evtchn_close,
    EVTCHNOP.send: evtchn_send,
    EVTCHNOP.status: evtchn_status,
    EVTCHNOP.alloc_unbound: evtchn_alloc_unbound,
    EVTCHNOP.bind_ipi: evtchn_bind_ipi,
    EVTCHNOP.bind_vcpu: evtchn_bind_vcpu,
    EVTCHNOP.unmask: evtchn_unmask,
    EVTCHNOP.reset: evtchn_reset,
}
"""bind_pirq and the FIFO ops are absent, so they answer -ENOSYS."""


def do_event_channel_op(ctx: EventChannels, caller: DomainLike, cmd: int, op: Any) -> int:
    """HYPERVISOR_event_channel_op: dispatch, count, return 0 or -errno."""
    verb = EVTCHNOP_TABLE.get(cmd)
    name = EVTCHNOP(cmd).name if cmd in EVTCHNOP._value2member_map_ else str(cmd)
    ctx.counters.bump(caller.domid, f"op.{name}")
    rc = verb(ctx, caller, op) if verb is not None else ENOSYS
    if rc < 0:
        ctx.counters.bump(caller.domid, "denied")
    return rc


# ---- Xen-internal raising, guest side, teardown, debug --------------------------


def send_guest_vcpu_virq(ctx: EventChannels, d: DomainLike, vcpu_id: int, virq: int) -> bool:
    """Raise a per-vCPU VIRQ (e.g. VIRQ_TIMER); False when the guest has not bound it."""
    assert not virq_is_global(virq)
    port = ctx.dom(d).virq_to_evtchn[vcpu_id][virq]
    if port == 0:
        return False
    ctx.counters.bump(d.domid, "virqs")
    _set_pending(ctx, d, vcpu_id, ctx.dom(d).ports[port])
    return True


def send_guest_global_virq(ctx: EventChannels, d: DomainLike, virq: int) -> bool:
    """Raise a global VIRQ on whichever vCPU the port is bound to (bind_vcpu)."""
    assert virq_is_global(virq)
    port = ctx.dom(d).virq_to_evtchn[0][virq]
    if port == 0:
        return False
    chn = ctx.dom(d).ports[port]
    ctx.counters.bump(d.domid, "virqs")
    _set_pending(ctx, d, chn.notify_vcpu_id, chn)
    return True


def guest_mask(ctx: EventChannels, d: DomainLike, port: int, masked: bool = True) -> None:
    """The guest writes its own mask bit (no hypercall needed to mask)."""
    set_bit(ctx.dom(d).shared.evtchn_mask, port, masked)


def guest_handle_events(ctx: EventChannels, d: DomainLike, vcpu_id: int) -> list[int]:
    """The guest's upcall: ports to dispatch on *vcpu_id*, in Linux's order."""
    de = ctx.dom(d)
    return guest_scan_pending(de.shared, vcpu_id, lambda p: de.ports[p].notify_vcpu_id == vcpu_id)


def evtchn_is_pending(ctx: EventChannels, d: DomainLike, port: int) -> bool:
    return bit_is_set(ctx.dom(d).shared.evtchn_pending, port)


def evtchn_destroy(ctx: EventChannels, d: DomainLike) -> None:
    """Domain teardown: close every port (peers go UNBOUND), drop the table."""
    de = ctx.doms.get(d.domid)
    if de is None:
        return
    for chn in de.ports.touched():  # the untouched ports are FREE already
        _close_port(ctx, d, chn.port)
    del ctx.doms[d.domid]


def dump(ctx: EventChannels) -> str:
    """The 'e' debug key: ``port [p/m/s]: s=state n=vcpu`` plus binding detail."""
    out: list[str] = []
    for domid, de in sorted(ctx.doms.items()):
        out.append(f"Event channel information for domain {domid}:")
        out.append("    port [p/m/s]")
        for chn in de.in_use():
            p = int(bit_is_set(de.shared.evtchn_pending, chn.port))
            m = int(bit_is_set(de.shared.evtchn_mask, chn.port))
            sel = de.shared.vcpu_info[chn.notify_vcpu_id].evtchn_pending_sel
            s = (sel >> (chn.port // 64)) & 1
            line = f"    {chn.port:4d} [{p}/{m}/{s}]: s={int(chn.state)} n={chn.notify_vcpu_id} x=0"
            if chn.state == ECS.UNBOUND:
                line += f" d={chn.remote_domid}"
            elif chn.state == ECS.INTERDOMAIN:
                line += f" d={chn.remote_domid} p={chn.remote_port}"
            elif chn.state == ECS.VIRQ:
                line += f" v={chn.virq}"
            out.append(line)
    return "\n".join(out) + "\n"

"""ABI conformance of xensim.hypervisor.evtchn.event_channel against event_channel.c."""

from __future__ import annotations

import pytest

from xensim.hypervisor.domctx import DOMID_SELF
from xensim.hypervisor.errno import EEXIST, EINVAL, ENOENT, ENOSPC, ENOSYS, EPERM, ESRCH
from xensim.hypervisor.evtchn import event_channel as ev
from xensim.hypervisor.evtchn.event_channel import (
    ECS,
    EVTCHNOP,
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
    do_event_channel_op,
)


@pytest.fixture
def ctx(registry, kicks):
    return ev.EventChannels(registry, lambda d, v: kicks.append((d.domid, v)))


def op(ctx, dom, cmd, o):
    return do_event_channel_op(ctx, dom, cmd, o)


def connect(ctx, registry, front=1, back=0):
    """Frontend allocates unbound for backend; backend binds.  Returns (fport, bport)."""
    f, b = registry.get_domain(front), registry.get_domain(back)
    a = EvtchnAllocUnbound(DOMID_SELF, back)
    assert op(ctx, f, EVTCHNOP.alloc_unbound, a) == 0
    bi = EvtchnBindInterdomain(front, a.port)
    assert op(ctx, b, EVTCHNOP.bind_interdomain, bi) == 0
    return a.port, bi.local_port


def test_enum_values_match_xen():
    assert [int(x) for x in ECS] == [0, 1, 2, 3, 4, 5, 6]
    assert EVTCHNOP.bind_interdomain == 0 and EVTCHNOP.reset == 10
    assert EVTCHNOP.unmask == 9 and EVTCHNOP.bind_vcpu == 8


def test_port_zero_reserved_first_port_is_one(ctx, registry):
    d1 = registry.get_domain(1)
    a = EvtchnAllocUnbound(DOMID_SELF, 0)
    assert op(ctx, d1, EVTCHNOP.alloc_unbound, a) == 0
    assert a.port == 1
    assert ctx.chn(d1, 0).state == ECS.RESERVED
    assert op(ctx, d1, EVTCHNOP.close, EvtchnClose(0)) == EINVAL


def test_alloc_unbound_errors(ctx, registry):
    d1 = registry.get_domain(1)
    assert op(ctx, d1, EVTCHNOP.alloc_unbound, EvtchnAllocUnbound(99, 0)) == ESRCH
    assert op(ctx, d1, EVTCHNOP.alloc_unbound, EvtchnAllocUnbound(2, 0)) == EPERM
    dom0 = registry.get_domain(0)
    a = EvtchnAllocUnbound(2, 1)
    assert op(ctx, dom0, EVTCHNOP.alloc_unbound, a) == 0  # privileged may
    assert ctx.chn(registry.get_domain(2), a.port).remote_domid == 1
    assert ctx.counters[1]["denied"] == 2


def test_alloc_unbound_domid_self_remote_means_caller(ctx, registry):
    d1 = registry.get_domain(1)
    a = EvtchnAllocUnbound(DOMID_SELF, DOMID_SELF)
    assert op(ctx, d1, EVTCHNOP.alloc_unbound, a) == 0
    assert ctx.chn(d1, a.port).remote_domid == 1


def test_enospc_when_table_full(registry, kicks):
    ctx = ev.EventChannels(registry, max_evtchn_port=3)
    d1 = registry.get_domain(1)
    for want in (1, 2, 3):
        a = EvtchnAllocUnbound(DOMID_SELF, 0)
        assert op(ctx, d1, EVTCHNOP.alloc_unbound, a) == 0 and a.port == want
    assert op(ctx, d1, EVTCHNOP.alloc_unbound, EvtchnAllocUnbound(DOMID_SELF, 0)) == ENOSPC


def test_full_2l_table_is_4095_ports(registry):
    ctx = ev.EventChannels(registry)
    d1 = registry.get_domain(1)
    ports = []
    for _ in range(4095):
        a = EvtchnAllocUnbound(DOMID_SELF, 0)
        assert ev.evtchn_alloc_unbound(ctx, d1, a) == 0
        ports.append(a.port)
    assert ports == list(range(1, 4096))
    assert ev.evtchn_alloc_unbound(ctx, d1, EvtchnAllocUnbound(DOMID_SELF, 0)) == ENOSPC


def test_dying_domain_cannot_allocate(ctx, registry):
    d1 = registry.get_domain(1)
    d1.is_dying = True
    assert op(ctx, d1, EVTCHNOP.alloc_unbound, EvtchnAllocUnbound(DOMID_SELF, 0)) == EINVAL


def test_bind_interdomain_links_both_ends_and_raises_local(ctx, registry, kicks):
    fport, bport = connect(ctx, registry)
    d1, d0 = registry.get_domain(1), registry.get_domain(0)
    f, b = ctx.chn(d1, fport), ctx.chn(d0, bport)
    assert (f.state, f.remote_domid, f.remote_port) == (ECS.INTERDOMAIN, 0, bport)
    assert (b.state, b.remote_domid, b.remote_port) == (ECS.INTERDOMAIN, 1, fport)
    assert ev.evtchn_is_pending(ctx, d0, bport)  # the conservative notification
    assert kicks == [(0, 0)]


def test_bind_interdomain_errors(ctx, registry):
    d0, d1, d2 = (registry.get_domain(i) for i in (0, 1, 2))
    assert op(ctx, d0, EVTCHNOP.bind_interdomain, EvtchnBindInterdomain(42, 1)) == ESRCH
    assert op(ctx, d0, EVTCHNOP.bind_interdomain, EvtchnBindInterdomain(1, 999)) == EINVAL
    assert op(ctx, d0, EVTCHNOP.bind_interdomain, EvtchnBindInterdomain(1, 5)) == EINVAL  # FREE
    a = EvtchnAllocUnbound(DOMID_SELF, 0)
    op(ctx, d1, EVTCHNOP.alloc_unbound, a)
    # made out to dom0, so dom2 may not bind it
    assert op(ctx, d2, EVTCHNOP.bind_interdomain, EvtchnBindInterdomain(1, a.port)) == EINVAL
    assert op(ctx, d0, EVTCHNOP.bind_interdomain, EvtchnBindInterdomain(1, a.port)) == 0
    # already bound
    assert op(ctx, d0, EVTCHNOP.bind_interdomain, EvtchnBindInterdomain(1, a.port)) == EINVAL


def test_loopback_bind_to_self(ctx, registry):
    d1 = registry.get_domain(1)
    a = EvtchnAllocUnbound(DOMID_SELF, DOMID_SELF)
    op(ctx, d1, EVTCHNOP.alloc_unbound, a)
    b = EvtchnBindInterdomain(DOMID_SELF, a.port)
    assert op(ctx, d1, EVTCHNOP.bind_interdomain, b) == 0
    assert ctx.chn(d1, a.port).remote_port == b.local_port


def test_send_sets_pending_and_kicks_once_per_selector(ctx, registry, kicks):
    fport, bport = connect(ctx, registry)
    d1, d0 = registry.get_domain(1), registry.get_domain(0)
    kicks.clear()
    assert op(ctx, d0, EVTCHNOP.send, EvtchnSend(bport)) == 0
    assert ev.evtchn_is_pending(ctx, d1, fport) and kicks == [(1, 0)]
    assert op(ctx, d0, EVTCHNOP.send, EvtchnSend(bport)) == 0  # merges, no kick
    assert kicks == [(1, 0)]
    vi = ctx.dom(d1).shared.vcpu_info[0]
    assert vi.evtchn_upcall_pending == 1 and vi.evtchn_pending_sel == 1
    assert ctx.counters[0]["sends"] == 2


def test_send_to_masked_port_stays_pending_unmask_reraises(ctx, registry, kicks):
    fport, bport = connect(ctx, registry)
    d1, d0 = registry.get_domain(1), registry.get_domain(0)
    ev.guest_mask(ctx, d1, fport)
    kicks.clear()
    op(ctx, d0, EVTCHNOP.send, EvtchnSend(bport))
    assert ev.evtchn_is_pending(ctx, d1, fport) and kicks == []
    assert ctx.dom(d1).shared.vcpu_info[0].evtchn_upcall_pending == 0
    assert op(ctx, d1, EVTCHNOP.unmask, EvtchnUnmask(fport)) == 0
    assert kicks == [(1, 0)]
    assert op(ctx, d1, EVTCHNOP.unmask, EvtchnUnmask(fport)) == 0  # not masked: no-op
    assert kicks == [(1, 0)]


def test_unmask_errors(ctx, registry):
    d1 = registry.get_domain(1)
    assert op(ctx, d1, EVTCHNOP.unmask, EvtchnUnmask(64)) == EINVAL  # bucket not allocated
    assert op(ctx, d1, EVTCHNOP.unmask, EvtchnUnmask(63)) == 0  # valid, FREE: no-op


def test_send_errors_and_unbound_drop(ctx, registry):
    d1 = registry.get_domain(1)
    assert op(ctx, d1, EVTCHNOP.send, EvtchnSend(0)) == EINVAL  # RESERVED
    assert op(ctx, d1, EVTCHNOP.send, EvtchnSend(7)) == EINVAL  # FREE
    assert op(ctx, d1, EVTCHNOP.send, EvtchnSend(5000)) == EINVAL
    a = EvtchnAllocUnbound(DOMID_SELF, 0)
    op(ctx, d1, EVTCHNOP.alloc_unbound, a)
    assert op(ctx, d1, EVTCHNOP.send, EvtchnSend(a.port)) == 0  # silently dropped
    v = EvtchnBindVirq(VIRQ.TIMER, 0)
    op(ctx, d1, EVTCHNOP.bind_virq, v)
    assert op(ctx, d1, EVTCHNOP.send, EvtchnSend(v.port)) == EINVAL  # can't send a VIRQ


def test_ipi_send_kicks_target_vcpu(ctx, registry, kicks):
    d0 = registry.get_domain(0)
    b = EvtchnBindIpi(3)
    assert op(ctx, d0, EVTCHNOP.bind_ipi, b) == 0
    assert op(ctx, d0, EVTCHNOP.send, EvtchnSend(b.port)) == 0
    assert kicks == [(0, 3)]
    assert op(ctx, d0, EVTCHNOP.bind_ipi, EvtchnBindIpi(4)) == ENOENT
    assert op(ctx, d0, EVTCHNOP.bind_ipi, EvtchnBindIpi(-1)) == ENOENT


def test_bind_virq_errors(ctx, registry):
    d1 = registry.get_domain(1)
    assert op(ctx, d1, EVTCHNOP.bind_virq, EvtchnBindVirq(24, 0)) == EINVAL
    assert op(ctx, d1, EVTCHNOP.bind_virq, EvtchnBindVirq(-1, 0)) == EINVAL
    assert op(ctx, d1, EVTCHNOP.bind_virq, EvtchnBindVirq(VIRQ.CONSOLE, 1)) == EINVAL  # global
    assert op(ctx, d1, EVTCHNOP.bind_virq, EvtchnBindVirq(VIRQ.TIMER, 2)) == ENOENT
    assert op(ctx, d1, EVTCHNOP.bind_virq, EvtchnBindVirq(VIRQ.TIMER, 1)) == 0
    assert op(ctx, d1, EVTCHNOP.bind_virq, EvtchnBindVirq(VIRQ.TIMER, 1)) == EEXIST
    assert op(ctx, d1, EVTCHNOP.bind_virq, EvtchnBindVirq(VIRQ.TIMER, 0)) == 0  # per-vCPU


def test_send_guest_virqs(ctx, registry, kicks):
    d1 = registry.get_domain(1)
    assert not ev.send_guest_vcpu_virq(ctx, d1, 1, VIRQ.TIMER)  # not bound: dropped
    t = EvtchnBindVirq(VIRQ.TIMER, 1)
    op(ctx, d1, EVTCHNOP.bind_virq, t)
    assert ev.send_guest_vcpu_virq(ctx, d1, 1, VIRQ.TIMER)
    assert kicks == [(1, 1)]
    c = EvtchnBindVirq(VIRQ.CONSOLE, 0)
    op(ctx, d1, EVTCHNOP.bind_virq, c)
    assert op(ctx, d1, EVTCHNOP.bind_vcpu, EvtchnBindVcpu(c.port, 1)) == 0
    assert ev.send_guest_global_virq(ctx, d1, VIRQ.CONSOLE)
    assert ev.evtchn_is_pending(ctx, d1, c.port)


def test_bind_vcpu_rules(ctx, registry):
    d1 = registry.get_domain(1)
    t = EvtchnBindVirq(VIRQ.TIMER, 0)
    op(ctx, d1, EVTCHNOP.bind_virq, t)
    assert op(ctx, d1, EVTCHNOP.bind_vcpu, EvtchnBindVcpu(t.port, 1)) == EINVAL  # per-vCPU
    i = EvtchnBindIpi(0)
    op(ctx, d1, EVTCHNOP.bind_ipi, i)
    assert op(ctx, d1, EVTCHNOP.bind_vcpu, EvtchnBindVcpu(i.port, 1)) == EINVAL
    assert op(ctx, d1, EVTCHNOP.bind_vcpu, EvtchnBindVcpu(i.port, 9)) == ENOENT
    assert op(ctx, d1, EVTCHNOP.bind_vcpu, EvtchnBindVcpu(999, 0)) == EINVAL
    assert op(ctx, d1, EVTCHNOP.bind_vcpu, EvtchnBindVcpu(10, 0)) == EINVAL  # FREE


def test_close_interdomain_leaves_peer_unbound_for_closer(ctx, registry):
    fport, bport = connect(ctx, registry)
    d1, d0 = registry.get_domain(1), registry.get_domain(0)
    assert op(ctx, d0, EVTCHNOP.close, EvtchnClose(bport)) == 0
    f = ctx.chn(d1, fport)
    assert (f.state, f.remote_domid) == (ECS.UNBOUND, 0)
    assert ctx.chn(d0, bport).state == ECS.FREE
    assert not ev.evtchn_is_pending(ctx, d0, bport)  # close clears pending
    assert op(ctx, d0, EVTCHNOP.close, EvtchnClose(bport)) == EINVAL
    # the backend can re-bind the same frontend port (reconnect)
    assert op(ctx, d0, EVTCHNOP.bind_interdomain, EvtchnBindInterdomain(1, fport)) == 0


def test_close_virq_frees_binding(ctx, registry):
    d1 = registry.get_domain(1)
    t = EvtchnBindVirq(VIRQ.TIMER, 0)
    op(ctx, d1, EVTCHNOP.bind_virq, t)
    assert op(ctx, d1, EVTCHNOP.close, EvtchnClose(t.port)) == 0
    assert op(ctx, d1, EVTCHNOP.bind_virq, EvtchnBindVirq(VIRQ.TIMER, 0)) == 0


def test_status_reports_each_state(ctx, registry):
    fport, bport = connect(ctx, registry)
    d0, d1 = registry.get_domain(0), registry.get_domain(1)
    s = EvtchnStatus(DOMID_SELF, bport)
    assert op(ctx, d0, EVTCHNOP.status, s) == 0
    assert (s.status, s.remote_dom, s.remote_port) == (EvtchnStat.interdomain, 1, fport)
    s = EvtchnStatus(1, fport)
    assert op(ctx, d0, EVTCHNOP.status, s) == 0  # privileged may look at others
    assert s.status == EvtchnStat.interdomain
    s = EvtchnStatus(DOMID_SELF, 0)
    assert op(ctx, d1, EVTCHNOP.status, s) == 0 and s.status == EvtchnStat.closed
    t = EvtchnBindVirq(VIRQ.TIMER, 1)
    op(ctx, d1, EVTCHNOP.bind_virq, t)
    s = EvtchnStatus(DOMID_SELF, t.port)
    op(ctx, d1, EVTCHNOP.status, s)
    assert (s.status, s.virq, s.vcpu) == (EvtchnStat.virq, VIRQ.TIMER, 1)
    assert op(ctx, d1, EVTCHNOP.status, EvtchnStatus(0, bport)) == EPERM
    assert op(ctx, d1, EVTCHNOP.status, EvtchnStatus(77, 1)) == ESRCH
    assert op(ctx, d1, EVTCHNOP.status, EvtchnStatus(DOMID_SELF, 4096)) == EINVAL


def test_reset(ctx, registry):
    _fport, bport = connect(ctx, registry)
    d0, d1, d2 = (registry.get_domain(i) for i in (0, 1, 2))
    assert op(ctx, d2, EVTCHNOP.reset, EvtchnReset(1)) == EPERM
    assert op(ctx, d2, EVTCHNOP.reset, EvtchnReset(55)) == ESRCH
    assert op(ctx, d1, EVTCHNOP.reset, EvtchnReset(DOMID_SELF)) == 0
    assert ctx.dom(d1).in_use() == []
    assert ctx.chn(d0, bport).state == ECS.UNBOUND


def test_unknown_and_unimplemented_ops_are_enosys(ctx, registry):
    d1 = registry.get_domain(1)
    assert op(ctx, d1, EVTCHNOP.bind_pirq, object()) == ENOSYS
    assert op(ctx, d1, 99, object()) == ENOSYS
    assert ctx.counters[1]["op.bind_pirq"] == 1


def test_guest_scan_clears_and_orders(ctx, registry):
    d1 = registry.get_domain(1)
    ports = []
    for _ in range(70):
        i = EvtchnBindIpi(0)
        op(ctx, d1, EVTCHNOP.bind_ipi, i)
        ports.append(i.port)
    for p in (69, 3, 65, 1):
        op(ctx, d1, EVTCHNOP.send, EvtchnSend(p))
    assert ev.guest_handle_events(ctx, d1, 0) == [1, 3, 65, 69]
    assert not any(ev.evtchn_is_pending(ctx, d1, p) for p in ports)
    vi = ctx.dom(d1).shared.vcpu_info[0]
    assert vi.evtchn_upcall_pending == 0 and vi.evtchn_pending_sel == 0
    # round robin: next scan starts after port 69
    for p in (2, 70):
        op(ctx, d1, EVTCHNOP.send, EvtchnSend(p))
    assert ev.guest_handle_events(ctx, d1, 0) == [70, 2]


def test_guest_scan_skips_masked_and_other_vcpus(ctx, registry):
    d1 = registry.get_domain(1)
    a, b, c = EvtchnBindIpi(0), EvtchnBindIpi(1), EvtchnBindIpi(0)
    for o in (a, b, c):
        op(ctx, d1, EVTCHNOP.bind_ipi, o)
    ev.guest_mask(ctx, d1, c.port)
    for o in (a, b, c):
        op(ctx, d1, EVTCHNOP.send, EvtchnSend(o.port))
    assert ev.guest_handle_events(ctx, d1, 0) == [a.port]
    assert ev.guest_handle_events(ctx, d1, 1) == [b.port]
    assert ev.evtchn_is_pending(ctx, d1, c.port)


def test_destroy_closes_everything(ctx, registry):
    _fport, bport = connect(ctx, registry, front=1, back=0)
    f2, _b2 = connect(ctx, registry, front=2, back=1)
    d1 = registry.get_domain(1)
    op(ctx, d1, EVTCHNOP.bind_virq, EvtchnBindVirq(VIRQ.TIMER, 0))
    d1.is_dying = True
    ev.evtchn_destroy(ctx, d1)
    assert 1 not in ctx.doms
    assert ctx.chn(registry.get_domain(0), bport).state == ECS.UNBOUND
    assert ctx.chn(registry.get_domain(2), f2).state == ECS.UNBOUND
    assert ctx.chn(registry.get_domain(2), f2).remote_domid == 1


def test_dump(ctx, registry):
    connect(ctx, registry)
    text = ev.dump(ctx)
    assert "Event channel information for domain 1:" in text
    assert "       1 [0/0/0]: s=3 n=0 x=0 d=0 p=1" in text


def test_free_port_is_the_lowest_free_after_closes(ctx, registry):
    """Reuse follows Xen's scan from port 0, though no scan is made."""
    d1 = registry.get_domain(1)
    ports = []
    for _ in range(130):  # three buckets
        a = EvtchnAllocUnbound(DOMID_SELF, 0)
        assert op(ctx, d1, EVTCHNOP.alloc_unbound, a) == 0
        ports.append(a.port)
    assert ports == list(range(1, 131))
    for p in (90, 7, 64, 7):
        op(ctx, d1, EVTCHNOP.close, EvtchnClose(p))
    again = []
    for _ in range(4):
        a = EvtchnAllocUnbound(DOMID_SELF, 0)
        assert op(ctx, d1, EVTCHNOP.alloc_unbound, a) == 0
        again.append(a.port)
    assert again == [7, 64, 90, 131]
    assert len(ctx.dom(d1).ports) == 192


def test_ports_are_made_when_first_touched(ctx, registry):
    d1 = registry.get_domain(1)
    de = ctx.dom(d1)
    assert len(de.ports) == 64 and list(de.ports.made) == [0]  # a bucket; only port 0 made
    a = EvtchnAllocUnbound(DOMID_SELF, 0)
    assert op(ctx, d1, EVTCHNOP.alloc_unbound, a) == 0
    assert sorted(de.ports.made) == [0, 1]
    assert [c.port for c in de.in_use()] == [1]
    assert de.ports[63].state == ECS.FREE and de.ports[-1] is de.ports[63]

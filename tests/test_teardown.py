"""Domain destruction across all primitives: nothing of the dead domain is left behind.

The scenario is a split driver: dom1's frontend grants a ring page to dom0,
offers an unbound port, and publishes both in xenstore; dom0's backend maps
and binds.  Then one side dies, in Xen's order: event channels closed,
grant mappings released (its own table kept as a zombie while mapped),
xenstore released by the toolstack.
"""

from __future__ import annotations

from xensim.domains.dom0.xenstore import XenStore, introduce_domain, release_domain
from xensim.domains.dom0.xenstore.domain import nodes_owned_by
from xensim.domains.pvio.ring import BackRing, FrontRing, SharedRing
from xensim.hypervisor.domctx import DOMID_SELF
from xensim.hypervisor.evtchn import event_channel as ev
from xensim.hypervisor.grant import lifecycle as life
from xensim.hypervisor.grant.grant_table import (
    GNTMAP,
    GNTST,
    GNTTABOP,
    GnttabMapGrantRef,
    GnttabUnmapGrantRef,
    GrantTables,
    do_grant_table_op,
)
from xensim.hypervisor.grant.guest import (
    gnttab_end_foreign_access_ref,
    gnttab_grant_foreign_access,
)


def setup(registry):
    kicks: list[tuple[int, int]] = []
    evc = ev.EventChannels(registry, lambda d, v: kicks.append((d.domid, v)))
    gnt = GrantTables(registry)
    xs = XenStore()
    introduce_domain(xs, 0, 0, "Domain-0")
    introduce_domain(xs, 0, 1, "guest")
    d0, d1 = registry.get_domain(0), registry.get_domain(1)
    # frontend
    ref = gnttab_grant_foreign_access(gnt, d1, 0, frame=0x100)
    a = ev.EvtchnAllocUnbound(DOMID_SELF, 0)
    assert ev.do_event_channel_op(evc, d1, ev.EVTCHNOP.alloc_unbound, a) == 0
    fe = "device/vif/0"
    xs.mkdir(0, f"/local/domain/1/{fe}")
    xs.set_perms(0, f"/local/domain/1/{fe}", ["n1", "r0"])
    xs.write(1, f"{fe}/tx-ring-ref", str(ref))
    xs.write(1, f"{fe}/event-channel", str(a.port))
    # backend
    m = GnttabMapGrantRef(
        0x7000, GNTMAP.host_map, int(xs.read(0, f"/local/domain/1/{fe}/tx-ring-ref")), 1
    )
    assert do_grant_table_op(gnt, d0, GNTTABOP.map_grant_ref, [m]) == 0 and m.status == GNTST.okay
    b = ev.EvtchnBindInterdomain(1, int(xs.read(0, f"/local/domain/1/{fe}/event-channel")))
    assert ev.do_event_channel_op(evc, d0, ev.EVTCHNOP.bind_interdomain, b) == 0
    return evc, gnt, xs, ref, a.port, b.local_port, m.handle, kicks


def test_ring_traffic_over_the_channel(registry):
    evc, _gnt, _xs, _ref, fport, bport, _handle, kicks = setup(registry)
    d0, d1 = registry.get_domain(0), registry.get_domain(1)
    sring = SharedRing(256)
    front, back = FrontRing(sring), BackRing(sring)
    # the bind raised bport once (Xen's conservative notification): drain it
    assert ev.guest_handle_events(evc, d0, 0) == [bport]
    kicks.clear()
    for i in range(20):
        front.put_request(i)
        if front.push_requests_and_check_notify():
            ev.do_event_channel_op(evc, d1, ev.EVTCHNOP.send, ev.EvtchnSend(fport))
    assert kicks == [(0, 0)]  # one event for the whole burst
    assert ev.guest_handle_events(evc, d0, 0) == [bport]
    assert [back.get_request() for _ in range(back.unconsumed_requests())] == list(range(20))


def test_frontend_death_leaves_nothing(registry):
    evc, gnt, xs, ref, _fport, bport, handle, _ = setup(registry)
    d0, d1 = registry.get_domain(0), registry.get_domain(1)
    d1.is_dying = True  # domain_kill
    ev.evtchn_destroy(evc, d1)
    assert not life.gnttab_domain_destroy(gnt, d1)  # dom0 still maps the ring: zombie
    release_domain(xs, 0, 1)
    registry.remove(1)
    # the backend notices (its port went UNBOUND) and tears down its side
    assert evc.chn(d0, bport).state == ev.ECS.UNBOUND
    assert life.mapped_grants_of_dead_domains(gnt) == [(1, ref, 0)]
    u = GnttabUnmapGrantRef(0x7000, 0, handle)
    do_grant_table_op(gnt, d0, GNTTABOP.unmap_grant_ref, [u])
    assert u.status == GNTST.okay
    assert ev.do_event_channel_op(evc, d0, ev.EVTCHNOP.close, ev.EvtchnClose(bport)) == 0
    # nothing of dom1 is left anywhere
    assert 1 not in evc.doms
    assert all(c.remote_domid != 1 for c in evc.dom(d0).in_use())
    assert 1 not in gnt.tables and life.mapped_grants_of_dead_domains(gnt) == []
    assert life.maptrack_in_use(gnt, 0) == 0
    assert nodes_owned_by(xs, 1) == [] and xs.db.owned[1] == 0
    assert not any(p.startswith("/local/domain/1") for p in xs.db.nodes)


def test_backend_death_releases_its_mappings(registry):
    evc, gnt, _xs, ref, fport, _bport, _handle, _ = setup(registry)
    d0, d1 = registry.get_domain(0), registry.get_domain(1)
    assert not gnttab_end_foreign_access_ref(gnt, d1, ref)  # busy while dom0 maps
    d0.is_dying = True
    ev.evtchn_destroy(evc, d0)
    assert life.gnttab_domain_destroy(gnt, d0)
    assert evc.chn(d1, fport).state == ev.ECS.UNBOUND
    assert life.maptrack_in_use(gnt, 0) == 0 and 0 not in gnt.tables
    assert gnttab_end_foreign_access_ref(gnt, d1, ref)  # the frontend can reclaim its page
    assert gnt.counters[0]["released"] == 1

"""Wiring the pure event-channel and grant-table modules into a live hypervisor.

Mirrors: xen/common/domain.c (domain_create -> evtchn_init, grant_table_init;
domain_kill -> evtchn_destroy, gnttab_release_mappings / grant_table_destroy;
domain_shutdown -> send_global_virq(VIRQ_DOM_EXC)).

The :class:`~xensim.hypervisor.hypervisor.Hypervisor` is the domain registry
(``get_domain``) and routes a needed kick to ``vcpu_kick``, so a blocked vCPU
that receives an event wakes through its scheduler (and credit boosts it).
Departure from Xen: VIRQ_TIMER is delivered through its event channel only
for vCPUs whose kernel bound it (I/O-capable guests and dom0); a guest model
that never binds it gets the direct kick, which keeps the no-I/O hot path as
cheap as before (the scan cost is folded into the ``upcall`` cost).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from xensim.hypervisor.evtchn import event_channel as ev
from xensim.hypervisor.evtchn.abi import VIRQ
from xensim.hypervisor.grant.grant_table import GrantTables
from xensim.hypervisor.grant.lifecycle import gnttab_domain_destroy

if TYPE_CHECKING:
    from xensim.hypervisor.domain import Domain
    from xensim.hypervisor.domctx import DomainLike
    from xensim.hypervisor.hypervisor import Hypervisor


def setup_interdomain(hyp: Hypervisor) -> None:
    """Create the host-wide contexts and hook them into the domain life cycle."""

    def notify(d: DomainLike, vcpu_id: int) -> None:
        hyp.vcpu_kick(d.vcpus[vcpu_id])  # type: ignore[attr-defined]

    hyp.evtchn = ev.EventChannels(hyp, notify)
    hyp.gnttab = GrantTables(hyp)

    def on_create(d: Domain) -> None:
        ev.evtchn_init(hyp.evtchn, d)
        d.evtchn = hyp.evtchn.doms[d.domid]
        d.grant_table = hyp.gnttab.table(d.domid)

    def on_teardown(d: Domain) -> None:
        ev.evtchn_destroy(hyp.evtchn, d)
        gnttab_domain_destroy(hyp.gnttab, d)
        d.evtchn = None

    def on_shutdown(d: Domain) -> None:
        dom0 = hyp.domains.get(0)
        if dom0 is not None and dom0 is not d and dom0.evtchn is not None:
            ev.send_guest_global_virq(hyp.evtchn, dom0, VIRQ.DOM_EXC)

    hyp.create_hooks.append(on_create)
    hyp.teardown_hooks.append(on_teardown)
    hyp.shutdown_hooks.append(on_shutdown)


def timer_port(d: Domain, vcpu_id: int) -> int:
    """The port VIRQ_TIMER is bound to on this vCPU, or 0 (direct kick)."""
    de = d.evtchn
    return de.virq_to_evtchn[vcpu_id][VIRQ.TIMER] if de is not None else 0

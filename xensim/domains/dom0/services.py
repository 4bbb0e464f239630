"""Domain-0's services as work on its vCPUs: backends and xenstored only run when scheduled.

Mirrors the *effect* of Linux's dom0 (netback/blkback kthreads, the xenwatch
thread, the xenstored process, the physical drivers' interrupt handlers):
every piece of service is a work item queued on one dom0 vCPU, and a queue
only drains while the scheduler runs that vCPU.  A dom0 vCPU with an empty
queue blocks (``SCHEDOP_block`` through :class:`~xensim.domains.guest.guest_vcpu.WaitEvent`)
and is woken by an event-channel notification: a guest's send on a backend
port, a physical device's interrupt (modelled as a port Xen raises, as for
a PIRQ), or another dom0 vCPU handing it work (an IPI port).  So when dom0
is capped or given a tiny weight, its queues wait and guests' I/O stalls.

A work item is ``start() -> (ns, finish)``: ``start`` runs when the item
reaches the head of the queue (it may take a batch off a ring and price
it), the vCPU then executes ``ns`` of ``kind`` work, and ``finish`` applies
the effects (responses, notifications) at the end.  Simplified: no
priorities between items, no preemption among them (an upcall still
preempts an item, as an interrupt does).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from xensim.domains.guest.guest_vcpu import Action, Compute, GuestVcpu, WaitEvent
from xensim.domains.guest.kernel import GuestKernel, raise_port
from xensim.domains.guest.workloads import register_workload
from xensim.hypervisor.evtchn import event_channel as ev

if TYPE_CHECKING:
    import random

    from xensim.hypervisor.domain import Domain
    from xensim.hypervisor.hypervisor import Hypervisor

Finish = Callable[[], None]
WorkItem = Callable[[], "tuple[int, Finish | None]"]


class Dom0Services:
    """Per-vCPU work queues of dom0 and the ports that wake them."""

    def __init__(self, hyp: Hypervisor, dom0: Domain, kernel: GuestKernel) -> None:
        self.hyp = hyp
        self.dom0 = dom0
        self.kernel = kernel
        self.queues: list[deque[tuple[WorkItem, str]]] = [deque() for _ in dom0.vcpus]
        self.current = -1
        """dom0 vCPU executing a work item's ``finish`` now (-1: none)."""
        self.items_done = 0
        self.irq_ports: list[int] = []
        for vid in range(len(dom0.vcpus)):  # one IPI port per vCPU: the wake-up line
            op = ev.EvtchnBindIpi(vid)
            kernel.evtchn_op(ev.EVTCHNOP.bind_ipi, op)
            kernel.handlers[op.port] = _nothing
            self.irq_ports.append(op.port)
        dom0.info["dom0svc"] = self

    @property
    def nr_vcpus(self) -> int:
        return len(self.queues)

    def post(self, vid: int, item: WorkItem, kind: str = "dom0") -> None:
        """Queue *item* on dom0 vCPU *vid*, waking it unless it is the one posting.

        *kind* labels its CPU time (``qemu`` for a device model's work)."""
        q = self.queues[vid]
        q.append((item, kind))
        if len(q) == 1 and self.current != vid and self.kernel.current != vid:
            raise_port(self.hyp, self.dom0, self.irq_ports[vid])

    def program(self, g: GuestVcpu) -> Iterator[Action]:
        """What each dom0 vCPU runs: drain its queue, block when empty."""
        vid = g.vcpu.vcpu_id
        q = self.queues[vid]
        while True:
            if not q:
                yield WaitEvent(q.__len__)
                continue
            item, kind = q.popleft()
            ns, finish = item()
            if ns:
                yield Compute(ns, kind)
            if finish is not None:
                self.current = vid
                finish()
                self.current = -1
            self.items_done += 1


def _nothing(g: GuestVcpu, port: int) -> int:
    return 0


@register_workload("dom0", "Domain-0's kernel: runs the backend and xenstored work queued "
                           "on this vCPU, blocks when there is none")
def _dom0(g: GuestVcpu, p: dict[str, Any], rng: random.Random) -> Iterator[Action]:
    svc: Dom0Services | None = g.vcpu.domain.info.get("dom0svc")
    if svc is None:  # no I/O system on this host: behave as idle
        return
    yield from svc.program(g)

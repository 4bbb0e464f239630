"""The balloon driver: a kernel gives memory back to Xen, or takes it back, toward a target.

Mirrors: Linux drivers/xen/xen-balloon.c (``watch_target``: a watch on
``memory/target``, in KiB, which ``xl mem-set`` writes) and
drivers/xen/balloon.c (``balloon_process``: while the reservation differs
from the target, XENMEM_decrease_reservation or increase_reservation in
batches of at most ARRAY_SIZE(frame_list) = 512 pages, one hypercall each;
when Xen cannot give all it was asked for (the domain's maxmem, or the host
out of free memory) the worker retries after a delay that doubles from 1 s
up to 32 s).

The worker is kernel work on vCPU 0: each batch runs as the handler of a
port the kernel raises on itself (an IPI to itself) and costs the hypercall
plus ``balloon_page`` per page moved; while work is left it raises the port
again.  So ``xl list`` shows the memory stepping toward the target only as
fast as the guest's vCPU 0 gets the CPU: a paused guest does not balloon, a
starved one balloons slowly.  Departure: Linux's worker is a kworker that
yields between batches (``cond_resched``); here each batch preempts the
guest's tasks like an interrupt handler, and batches follow back to back.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from xensim.domains.dom0.xenstore import XsType
from xensim.domains.dom0.xenstored import Script, XsClient, xs_run
from xensim.domains.guest.kernel import raise_port
from xensim.hypervisor.evtchn import event_channel as ev
from xensim.hypervisor.hypercall import HC
from xensim.hypervisor.memory_op import PAGE_KIB, XENMEM, XenMemoryReservation
from xensim.hypervisor.time import SECONDS

if TYPE_CHECKING:
    from xensim.domains.guest.guest_vcpu import GuestVcpu
    from xensim.domains.guest.kernel import GuestKernel

BATCH_PAGES = 512
"""Pages per XENMEM call (balloon.c's frame_list: one page of unsigned longs)."""
FLOOR_KIB = 64 * 1024
"""What a kernel never gives back: Linux balloons out only what si_mem_available()
says is free; xensim stands for that with a fixed 64 MiB (or all it booted with, if
less), so a target of 0 leaves a working guest."""
RETRY_MIN_NS = SECONDS(1)
RETRY_MAX_NS = SECONDS(32)
"""balloon_stats.schedule_delay starts at 1 s and doubles up to max_schedule_delay."""


class Balloon:
    """One kernel's balloon: the target it was given and the worker that follows it."""

    WATCH = ("memory/target", "balloon")
    """The watch (path relative to the domain's home, token) it needs from xenbus."""

    def __init__(self, kernel: GuestKernel, xs: XsClient) -> None:
        self.kernel = kernel
        self.d = kernel.d
        self.xs = xs
        self.target_kib: int | None = None
        """The last ``memory/target`` read (None until the toolstack wrote one)."""
        self.page_cost = kernel.hyp.costs["balloon_page"]
        self.floor_kib = min(FLOOR_KIB, self.d.memory_kib)
        self.delay = RETRY_MIN_NS
        self.waiting = False
        """A retry is scheduled (Xen gave fewer pages than asked)."""
        self.batches = 0
        op = ev.EvtchnBindIpi(0)
        kernel.evtchn_op(ev.EVTCHNOP.bind_ipi, op)
        self.port = op.port
        kernel.handlers[self.port] = self._work

    def target_changed(self, _path: str) -> None:
        """The callback of the kernel's watch on ``memory/target`` (set at boot)."""
        xs_run(self.xs, self._read_target())

    def credit(self) -> int:
        """Pages still to reclaim (positive) or to give back (negative)."""
        if self.target_kib is None:
            return 0
        return max(self.target_kib, self.floor_kib) // PAGE_KIB - self.d.memory_kib // PAGE_KIB

    def _read_target(self) -> Script:
        typ, val = yield (XsType.READ, ["memory/target"])
        if typ != XsType.ERROR and val.isdigit():
            self.target_kib = int(val)
            self._kick()

    def _kick(self) -> None:
        if self.credit() and not self.waiting and not self.d.is_dying:
            raise_port(self.kernel.hyp, self.d, self.port)

    def _work(self, g: GuestVcpu, port: int) -> int:
        """One batch (balloon_process's loop body); returns its cost in ns."""
        credit = self.credit()
        if not credit or self.waiting:
            return 0
        n = min(BATCH_PAGES, abs(credit))
        cmd = XENMEM.increase_reservation if credit > 0 else XENMEM.decrease_reservation
        done, ns = self.kernel.hypercall(g.vcpu, HC.memory_op, cmd, XenMemoryReservation(n))
        done = max(done, 0)
        self.batches += 1
        if done < n:  # BP_EAGAIN: Xen has no more for us now
            self._retry_later()
        else:
            self.delay = RETRY_MIN_NS
            g.after_upcall.append(self._kick)
        return ns + done * self.page_cost

    def _retry_later(self) -> None:
        self.waiting = True

        def retry(_ev: object) -> None:
            self.waiting = False
            self.delay = min(2 * self.delay, RETRY_MAX_NS)
            self._kick()

        self.kernel.hyp.env.timeout(self.delay).callbacks.append(retry)  # type: ignore[union-attr]

"""The event-channel side of a PV guest kernel: ports, handlers, the upcall scan.

Mirrors: Linux drivers/xen/events/events_base.c (bind_evtchn_to_irqhandler,
xen_evtchn_do_upcall, notify_remote_via_evtchn) and
drivers/xen/grant-table.c's free list (gnttab_alloc_grant_references).

One :class:`GuestKernel` per domain.  It is installed as an upcall handler
on each of the domain's :class:`~xensim.domains.guest.guest_vcpu.GuestVcpu`; an upcall
scans the pending ports bound to that vCPU (``guest_handle_events``, Linux's
order) and runs each port's handler.  A handler returns the ns of kernel
work it costs on that vCPU (charged by the upcall, which preempts the task
that was running) and may defer effects until that work is done through
``g.after_upcall``.

Kernel-context hypercalls (:meth:`hypercall`) go through the hypervisor's
dispatch (so they are counted per domain) and return their price, which the
caller folds into the work it charges.  Departure: xenbus control-path work
(device probing, xenstore requests from the guest) is counted but not
charged to the guest's vCPU; only data-path work is.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from xensim.hypervisor.console_io import CONSOLEIO
from xensim.hypervisor.domctx import DOMID_SELF
from xensim.hypervisor.evtchn import event_channel as ev
from xensim.hypervisor.grant.abi import GNTST, GNTTAB_NR_RESERVED_ENTRIES, GnttabSetupTable
from xensim.hypervisor.grant.grant_table import gnttab_setup_table
from xensim.hypervisor.grant.guest import (
    gnttab_end_foreign_access_ref,
    gnttab_grant_foreign_access_ref,
)
from xensim.hypervisor.hypercall import HC
from xensim.hypervisor.time import SECONDS

if TYPE_CHECKING:
    from xensim.domains.guest.guest_vcpu import GuestVcpu
    from xensim.hypervisor.domain import Domain
    from xensim.hypervisor.hypervisor import Hypervisor
    from xensim.hypervisor.vcpu import VCPU

PortHandler = Callable[["GuestVcpu", int], int]
"""``handler(guest_vcpu, port) -> ns`` of kernel work for one pending port."""

DEFERRED_GRANT_RETRY_NS = SECONDS(1)
"""How often Linux retries revoking a grant its grantee still had mapped (HZ)."""


def raise_port(hyp: Hypervisor, d: Domain, port: int) -> None:
    """Xen raising one of *d*'s ports itself (a physical IRQ: ``send_guest_pirq``)."""
    de = d.evtchn
    if de is not None and de.port_is_valid(port):
        chn = de.ports[port]
        ev._set_pending(hyp.evtchn, d, chn.notify_vcpu_id, chn)


class GuestKernel:
    """Kernel event handling and grant references of one domain."""

    def __init__(self, hyp: Hypervisor, d: Domain) -> None:
        self.hyp = hyp
        self.d = d
        self.ctx = hyp.evtchn
        self.handlers: dict[int, PortHandler] = {}
        self.vcpus: list[GuestVcpu] = []
        self.free_refs: deque[int] = deque()
        self.ref_hwm = GNTTAB_NR_RESERVED_ENTRIES
        self.next_frame = 0x1000
        self.irq_cost = hyp.costs["evtchn_irq"]
        self.hc_cost = hyp.costs["hypercall"]
        self.current: int = -1
        """vCPU id whose upcall is running now (-1: none)."""
        self.io: Any = None
        """The host's :class:`~xensim.domains.dom0.iosys.IoSystem`."""
        self.fronts: list[Any] = []
        """Its frontend devices (kept by its xenbus frontend bus, :attr:`bus`)."""
        self.bus: Any = None
        self.net: Any = None
        """The guest's network stack (set by the I/O system when it has a vif)."""
        self.boot_steps: list[Callable[[GuestVcpu], Iterator[Any]]] = []
        """What vCPU 0 does before its workload: drivers' initialisation, the PV
        drivers' unplug of emulated devices (HVM)."""
        self.irq_handlers: dict[int, Callable[[GuestVcpu], Any]] = {}
        """HVM: emulated interrupt line -> the driver's handler (a nested program)."""
        self.timer_bound = False
        """VIRQ_TIMER bound on every vCPU (done when the first device appears)."""
        self.deferred_refs: list[int] = []
        """Grants still mapped by their grantee when revoked: retried every second."""
        d.info["kernel"] = self

    def attach(self, g: GuestVcpu) -> None:
        self.vcpus.append(g)
        g.upcall_handlers.append(self.upcall)

    # --- upcalls -----------------------------------------------------------------
    def upcall(self, g: GuestVcpu) -> int:
        de = self.d.evtchn
        vid = g.vcpu.vcpu_id
        hvm = self.d.hvm
        if hvm is not None and hvm.irr.get(vid):
            for irq in hvm.ack_irqs(vid):
                # the EOI is a VM exit: Xen's time, not the kernel's (see GuestVcpu.on_kick)
                g.upcall_exit_ns += g.platform.eoi_ns()  # type: ignore[attr-defined]
                g.isr_queue.append(lambda g, irq=irq: self._handle_irq(g, irq))
        if de is None or not de.shared.vcpu_info[vid].evtchn_upcall_pending:
            return 0
        ns = 0
        self.current = vid
        handlers = self.handlers
        for port in ev.guest_handle_events(self.ctx, self.d, vid):
            ns += self.irq_cost
            h = handlers.get(port)
            if h is not None:
                ns += h(g, port)
        self.current = -1
        return ns

    def _handle_irq(self, g: GuestVcpu, irq: int) -> Iterator[Any]:
        """Linux's fasteoi flow: the driver's handler, then the EOI.

        At the EOI Xen delivers a level-triggered line that is still asserted
        again (vioapic_update_EOI).  Without that, a device whose line stayed up
        across the handler (an rtl8139 receiving while its handler ran) was never
        interrupted again and its driver hung."""
        isr = self.irq_handlers.get(irq)
        if isr is not None:
            yield from isr(g)
        self.d.hvm.eoi(g.vcpu.vcpu_id, irq)

    # --- kernel-context hypercalls -------------------------------------------------
    def hypercall(self, v: VCPU | None, nr: int, *args: Any) -> tuple[int, int]:
        """Issue a hypercall from kernel code; returns ``(rc, ns it cost)``."""
        hyp = self.hyp
        rc = hyp.hypercall(v or self.d.vcpus[0], nr, *args)
        ns = self.hc_cost + hyp.hc_charge
        hyp.hc_charge = 0
        return rc, ns

    def evtchn_op(self, cmd: int, op: Any, v: VCPU | None = None) -> int:
        return self.hypercall(v, HC.event_channel_op, cmd, op)[0]

    def bind(self, port: int, handler: PortHandler, vcpu_id: int = 0) -> None:
        """``bind_evtchn_to_irqhandler`` (and ``bind_vcpu`` when not vCPU 0)."""
        self.handlers[port] = handler
        if vcpu_id:  # Linux rebind_irq_to_cpu: mask, move, unmask (re-raises if pending)
            ev.guest_mask(self.ctx, self.d, port, True)
            self.evtchn_op(ev.EVTCHNOP.bind_vcpu, ev.EvtchnBindVcpu(port, vcpu_id))
            self.evtchn_op(ev.EVTCHNOP.unmask, ev.EvtchnUnmask(port))

    def alloc_unbound(self, remote: int) -> int:
        op = ev.EvtchnAllocUnbound(DOMID_SELF, remote)
        rc = self.evtchn_op(ev.EVTCHNOP.alloc_unbound, op)
        return op.port if rc == 0 else rc

    def bind_interdomain(self, remote: int, remote_port: int) -> int:
        op = ev.EvtchnBindInterdomain(remote, remote_port)
        rc = self.evtchn_op(ev.EVTCHNOP.bind_interdomain, op)
        return op.local_port if rc == 0 else rc

    def close(self, port: int) -> None:
        self.handlers.pop(port, None)
        self.evtchn_op(ev.EVTCHNOP.close, ev.EvtchnClose(port))

    def notify(self, port: int, v: VCPU | None = None) -> int:
        """``notify_remote_via_evtchn``: returns the ns the send cost."""
        return self.hypercall(v, HC.event_channel_op, ev.EVTCHNOP.send, ev.EvtchnSend(port))[1]

    # --- grant references (the kernel's free list) --------------------------------------
    def alloc_frame(self) -> int:
        self.next_frame += 1
        return self.next_frame

    def grant(self, domid: int, frame: int, readonly: bool) -> int:
        """Grant *frame* to *domid*: a ref from the free list, or -1 if the table is full."""
        gnt = self.hyp.gnttab
        if not self.free_refs:
            gt = gnt.table(self.d.domid)
            if self.ref_hwm >= gt.nr_entries:  # grow the table by one frame
                op = GnttabSetupTable(DOMID_SELF, gt.nr_grant_frames + 1)
                gnttab_setup_table(gnt, self.d, op)
                if op.status != GNTST.okay:
                    return -1
            self.free_refs.extend(range(self.ref_hwm, gt.nr_entries))
            self.ref_hwm = gt.nr_entries
        ref = self.free_refs.popleft()
        gnttab_grant_foreign_access_ref(gnt, self.d, ref, domid, frame, readonly)
        return ref

    def end_grant(self, ref: int) -> bool:
        """Revoke *ref* and return it to the free list; False while still mapped."""
        if gnttab_end_foreign_access_ref(self.hyp.gnttab, self.d, ref):
            self.free_refs.append(ref)
            return True
        return False

    def end_grant_deferred(self, ref: int) -> None:
        """Revoke *ref* now or, if the grantee still maps it, every second until it lets
        go (Linux's gnttab_end_foreign_access with its deferred list): a device being
        torn down must not hand a page back to the free list while a backend uses it."""
        if self.end_grant(ref):
            return
        self.deferred_refs.append(ref)
        if len(self.deferred_refs) == 1:
            self.hyp.env.timeout(DEFERRED_GRANT_RETRY_NS).callbacks.append(  # type: ignore[union-attr]
                self._retry_deferred)

    def _retry_deferred(self, _ev: object) -> None:
        if self.d.is_dying:  # the whole table goes with the domain
            self.deferred_refs.clear()
            return
        self.deferred_refs = [r for r in self.deferred_refs if not self.end_grant(r)]
        if self.deferred_refs:
            self.hyp.env.timeout(DEFERRED_GRANT_RETRY_NS).callbacks.append(  # type: ignore[union-attr]
                self._retry_deferred)

    # --- the console ---------------------------------------------------------------------
    def printk(self, text: str) -> None:
        """A kernel message on the guest's console, stamped like dmesg (``[ 12.345678]``)
        and written with CONSOLEIO_write, so ``xl console`` sees it appear."""
        t = self.hyp.env.now - self.d.create_time
        line = "[%5d.%06d] %s\n" % (t // 1_000_000_000, t % 1_000_000_000 // 1000, text)
        self.hypercall(None, HC.console_io, CONSOLEIO.write, len(line), line)


def booted(g: GuestVcpu, program: Iterator[Any]) -> Iterator[Any]:
    """*program*, preceded on vCPU 0 by the kernel's boot steps (run when it first runs,
    so devices set up after the vCPU's creation are included)."""
    k: GuestKernel | None = g.vcpu.domain.info.get("kernel")
    if k is not None and g.vcpu.vcpu_id == 0:
        for step in k.boot_steps:
            yield from step(g)
    yield from program

"""One HVM or PVH domain's state in Xen: paging mode, ioreq servers, interrupt lines.

Mirrors: ``struct hvm_domain`` and the emulation entry points of
xen/arch/x86/hvm/io.c (handle_pio, handle_mmio -> hvmemul -> hvm_io_intercept,
else ioreq_send) and xen/arch/x86/hvm/irq.c (hvm_isa_irq_assert).

The path of one trapping access, as :meth:`HvmDomain.emulate` runs it on
the vCPU that made it:

1. the exit and Xen's decode are charged to the vCPU (``vmexit`` +
   ``hvm_io_decode``, time kind ``vmexit``) and counted by reason;
2. a device Xen emulates itself answers at once (``hvm_internal_device``);
3. otherwise the ioreq server claiming the address gets it: a buffered
   write is queued and the vCPU goes on; any other access costs
   ``ioreq_send``, blocks the vCPU in Xen and notifies the emulator, and
   only the emulator's :meth:`complete` (``ioreq_complete``) lets it run on;
4. an access nobody claims reads as all ones and writes are dropped, as on
   real hardware with nothing decoding the address.

Interrupts from emulated devices (:meth:`set_irq_level`) are edge- or
level-asserted on an ISA/PCI line, routed to vCPU 0 (the IOAPIC's default
destination) and delivered like any upcall; the guest kernel collects
them with :meth:`ack_irqs` and ends each with :meth:`eoi`, which delivers
a line that is still asserted once more.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from xensim.hypervisor.hvm.exits import ExitReason, count_exit
from xensim.hypervisor.hvm.ioreq import IOREQ_TYPE_PIO, Ioreq, IoreqServer, Notify
from xensim.hypervisor.hvm.vdevices import PVH_DEVICES, XEN_DEVICES, VirtualDevice

if TYPE_CHECKING:
    from xensim.hypervisor.domain import Domain
    from xensim.hypervisor.hypervisor import Hypervisor
    from xensim.hypervisor.vcpu import VCPU

PAGING_MODES = ("hap", "shadow")
Then = Callable[[int], None]


class HvmDomain:
    """Xen's per-domain HVM state."""

    def __init__(self, hyp: Hypervisor, d: Domain, paging: str = "hap") -> None:
        if paging not in PAGING_MODES:
            raise ValueError(f"paging must be one of {PAGING_MODES}, not {paging!r}")
        self.hyp = hyp
        self.d = d
        self.paging = paging
        clock = lambda: hyp.env.now  # noqa: E731
        emulated = XEN_DEVICES if d.guest_type == "hvm" else PVH_DEVICES
        self.devices: list[VirtualDevice] = [cls(clock) for cls in emulated]
        self.servers: list[IoreqServer] = []
        self.pending: dict[int, tuple[IoreqServer, Ioreq, Then]] = {}
        """vCPU id -> the synchronous ioreq it waits on."""
        self.irq_level: dict[int, int] = {}
        self.irr: dict[int, list[int]] = {}
        """vCPU id -> interrupts injected and not yet taken by the guest."""
        self.irqs_injected = 0
        c = hyp.costs
        self._exit_ns = c["vmexit"] + c["hvm_io_decode"]
        self._internal_ns = c["hvm_internal_device"]
        self._send_ns = c["ioreq_send"]
        self._complete_ns = c["ioreq_complete"]
        d.hvm = self

    # --- device models -------------------------------------------------------------
    def create_server(self, emulator: Domain, notify: Notify,
                      notify_buffered: Callable[[IoreqServer], None]) -> IoreqServer:
        srv = IoreqServer(self.d, emulator, notify, notify_buffered)
        self.servers.append(srv)
        return srv

    def destroy_server(self, srv: IoreqServer) -> None:
        """The emulator is gone: vCPUs waiting on it stay blocked (the domain is
        crashed by whoever noticed, as libxl does when qemu dies)."""
        srv.enabled = False
        if srv in self.servers:
            self.servers.remove(srv)

    # --- the exit path -------------------------------------------------------------------
    def emulate(self, v: VCPU, req: Ioreq, then: Then) -> None:
        """An I/O instruction or MMIO access by running *v*; *then(value)* when done."""
        core = self.hyp.core
        count_exit(self.d, ExitReason.IO_INSTRUCTION if req.type == IOREQ_TYPE_PIO
                   else ExitReason.EPT_VIOLATION)
        req.vcpu_id = v.vcpu_id
        dev = next((dev for dev in self.devices
                    if dev.space == req.type and dev.first <= req.addr <= dev.last), None)
        if dev is not None:
            value = dev.access(req)
            core.set_work(v, self._exit_ns + self._internal_ns, lambda: then(value), "vmexit")
            return
        srv, buffered = self._server_for(req)
        if srv is None:
            nobody = 0 if req.is_write else (1 << 8 * req.size) - 1
            core.set_work(v, self._exit_ns, lambda: then(nobody), "vmexit")
            return
        if buffered:
            core.set_work(v, self._exit_ns, lambda: self._post(v, srv, req, then), "vmexit")
        else:
            core.set_work(v, self._exit_ns + self._send_ns,
                          lambda: self._send(v, srv, req, then), "vmexit")

    def _server_for(self, req: Ioreq) -> tuple[IoreqServer | None, bool]:
        for srv in self.servers:
            claimed, buffered = srv.claims(req)
            if claimed and srv.enabled:
                return srv, buffered
        return None, False

    def _post(self, v: VCPU, srv: IoreqServer, req: Ioreq, then: Then) -> None:
        if srv.send_buffered(req):
            then(0)
        else:  # ring full: the normal path, which costs Xen the synchronous send too
            self.hyp.core.set_work(v, self._send_ns, lambda: self._send(v, srv, req, then),
                                   "vmexit")

    def _send(self, v: VCPU, srv: IoreqServer, req: Ioreq, then: Then) -> None:
        self.pending[v.vcpu_id] = (srv, req, then)
        self.hyp.core.vcpu_block_in_xen(v)
        srv.send(req)

    def complete(self, srv: IoreqServer, vcpu_id: int, data: int = 0) -> bool:
        """The emulator answered *vcpu_id*'s ioreq (its event-channel notify)."""
        entry = self.pending.get(vcpu_id)
        if entry is None or entry[0] is not srv:
            return False
        del self.pending[vcpu_id]
        _, req, then = entry
        v = self.d.vcpus[vcpu_id]
        value = 0 if req.is_write else data & ((1 << 8 * req.size) - 1)
        core = self.hyp.core
        core.set_work(v, self._complete_ns, lambda: then(value), "vmexit")
        core.vcpu_unblock_in_xen(v)
        return True

    # --- interrupts ----------------------------------------------------------------------
    def set_irq_level(self, irq: int, level: int) -> None:
        """An emulated device drives its interrupt line (dm_op set_isa_irq_level)."""
        old = self.irq_level.get(irq, 0)
        self.irq_level[irq] = level
        if level and not old:
            self.inject(0, irq)

    def inject(self, vcpu_id: int, irq: int) -> None:
        pending = self.irr.setdefault(vcpu_id, [])
        if irq not in pending:
            pending.append(irq)
            self.irqs_injected += 1
        self.hyp.vcpu_kick(self.d.vcpus[vcpu_id])

    def eoi(self, vcpu_id: int, irq: int) -> None:
        """The guest ended *irq*: if its line is still asserted, deliver it again, as
        the vIOAPIC does for a level-triggered pin (vioapic_update_EOI)."""
        if self.irq_level.get(irq):
            self.inject(vcpu_id, irq)

    def ack_irqs(self, vcpu_id: int) -> list[int]:
        """The guest takes its pending interrupts (the vLAPIC's IRR, in order)."""
        return self.irr.pop(vcpu_id, [])

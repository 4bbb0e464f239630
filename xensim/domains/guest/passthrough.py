"""A NIC passed through to an HVM guest: its own driver, no dom0, interrupts through Xen.

Models (the Linux side mirrors a native driver such as ixgbe:
``ixgbe_xmit_frame`` fills a descriptor and writes the tail register,
``ixgbe_msix_clean_rings`` schedules NAPI, ``ixgbe_poll`` reaps both rings
and ``netif_wake_queue`` restarts a stopped queue).  With the device
assigned (:mod:`xensim.hypervisor.passthrough`) the guest's driver reaches
it directly: its BARs are mapped into the guest, so a doorbell write is an
ordinary store (no VM exit, no ioreq, no qemu), and the device DMAs to and
from guest memory through the IOMMU, which costs each DMA an IOTLB miss
(``iommu_iotlb_miss``, added to the device's transfer).  Neither netback
nor the bridge sees a packet: dom0 spends nothing.  What Xen still does is
take the device's physical interrupt and remap it into the guest
(``pt_irq_remap``, then the virtual interrupt's injection and the guest's
EOI exit, as for an emulated device): the cost the ELI paper measured.

Simplified: one queue; an interrupt on each receive batch (NAPI) and, while
the queue is stopped (a full ring), once half the ring has been sent, as
interrupt moderation and the driver's wake threshold give; no MSI-X table
emulation, no FLR.  Only an HVM guest gets this driver: a PV guest's device
is assigned and listed, but its pcifront and PIRQ event channel are not
modelled, so its I/O stays on its vif (docs/xl.md says so).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from typing import TYPE_CHECKING

from xensim.domains.guest.emul_drivers import run_deferred
from xensim.domains.guest.guest_vcpu import Action, Compute, GuestVcpu, WaitEvent
from xensim.domains.pvio.netif import NetStack

if TYPE_CHECKING:
    from xensim.domains.dom0.physdev import Nic, Packet
    from xensim.domains.guest.kernel import GuestKernel

PT_IRQ_BASE = 24
"""The first interrupt line past the IOAPIC's 24 pins: where the guest's MSI vectors
for passed-through devices are numbered (one per device)."""

TX_RING = 256
"""Transmit descriptors (a ring of 256, ixgbe's minimum default is 512)."""

TX_WAKE = TX_RING // 2
"""A stopped queue is woken (by a transmit interrupt) once this few are in flight."""

NAPI_BUDGET = 64


class PtNicDriver:
    """The guest's driver for a passed-through NIC (the ``connected``/``send``/``xmit``
    interface of netfront, so the network workloads run unchanged)."""

    kind = "pci"
    port = 0

    def __init__(self, kernel: GuestKernel, nic: Nic, bdf: str, irq: int) -> None:
        self.kernel = kernel
        self.nic = nic
        self.bdf = bdf
        self.irq = irq
        self.devid = irq
        self.env = kernel.hyp.env
        costs = kernel.hyp.costs
        self.cost = costs["pt_nic_packet"]
        self.remap_ns = costs["pt_irq_remap"]
        self.iotlb_ns = costs["iommu_iotlb_miss"]
        if kernel.net is None:
            kernel.net = NetStack(kernel)
        self.stack: NetStack = kernel.net
        self.stack.front = self  # a dedicated NIC carries the guest's traffic
        self.connected = True
        self.released = False
        self.refs: set[int] = set()
        self.frames: list[int] = []
        self.in_flight = 0
        self.stopped = False
        self.rx: deque[Packet] = deque()
        self.irq_pending = False
        self.interrupts = 0
        self.tx_packets = self.rx_packets = 0
        kernel.irq_handlers[irq] = self.isr
        kernel.fronts.append(self)
        nic.owner, nic.owner_domid = self.receive, kernel.d.domid

    # --- transmit ---------------------------------------------------------------------
    def tx_full(self) -> bool:
        return self.in_flight >= TX_RING

    def xmit(self, pkt: Packet) -> bool | None:
        """Kernel-context send (a ping reply): None when the ring is full."""
        if self.tx_full():
            self.stopped = True
            return None
        self._dma_tx(pkt)
        return False

    def send(self, g: GuestVcpu, pkt: Packet) -> Iterator[Action]:
        """Send from a task: the driver's work, a descriptor and a doorbell store."""
        yield Compute(self.cost, "kernel")
        while self.xmit(pkt) is None:
            yield WaitEvent(lambda: not self.stopped)

    def _dma_tx(self, pkt: Packet) -> None:
        self.in_flight += 1
        self.tx_packets += 1
        pkt.src = self.kernel.d.domid

        def fetched(_e: object) -> None:  # the descriptor's buffer came through the IOMMU
            if self.released:
                return
            self.nic.transmit(pkt)
            done = max(self.nic.tx_free - self.env.now, 0)
            self.env.timeout(done).callbacks.append(self._tx_done)  # type: ignore[union-attr]

        self.env.timeout(self.iotlb_ns).callbacks.append(fetched)  # type: ignore[union-attr]

    def _tx_done(self, _e: object) -> None:
        self.in_flight -= 1
        if self.stopped and self.in_flight <= TX_WAKE and not self.released:
            self._interrupt()

    # --- receive and interrupts ------------------------------------------------------------
    def receive(self, pkt: Packet) -> None:
        """The NIC DMAs a packet into a posted buffer (through the IOMMU), then interrupts."""
        def landed(_e: object) -> None:
            if not self.released:
                self.rx.append(pkt)
                self._interrupt()

        self.env.timeout(self.iotlb_ns).callbacks.append(landed)  # type: ignore[union-attr]

    def _interrupt(self) -> None:
        """The device's MSI: Xen takes it and injects the guest's vector (one at a time:
        the driver masks it until its poll is done, as NAPI does)."""
        if self.irq_pending:
            return
        self.irq_pending = True
        self.interrupts += 1
        hvm = self.kernel.d.hvm
        if hvm is not None:
            hvm.inject(0, self.irq)

    def isr(self, g: GuestVcpu) -> Iterator[Action]:
        """Xen's remapping work on the guest's vCPU, then NAPI: reap receive (up to the
        budget, re-raising if more wait) and transmit, and wake a stopped queue."""
        yield Compute(self.remap_ns, "vmexit")
        self.irq_pending = False
        n = min(NAPI_BUDGET, len(self.rx))
        for _ in range(n):
            pkt = self.rx.popleft()
            self.rx_packets += 1
            yield Compute(self.cost + self.stack.deliver(g, pkt), "kernel")
        run_deferred(g)
        if self.stopped and self.in_flight <= TX_WAKE:
            self.stopped = False
            self.stack.flush_backlog(g)
        if self.rx:
            self._interrupt()

    def release(self) -> None:
        """The device goes (pci-detach, or the guest's death): the NIC is dom0's again."""
        self.released = True
        self.connected = False
        self.nic.owner, self.nic.owner_domid = None, None
        self.kernel.irq_handlers.pop(self.irq, None)
        if self in self.kernel.fronts:
            self.kernel.fronts.remove(self)
        if self.stack.front is self:
            self.stack.remove(self)  # type: ignore[arg-type]


"""Intel 82540EM (e1000): descriptor rings in guest memory, doorbells in MMIO.

Mirrors qemu's hw/net/e1000.c (set_tdt -> start_xmit, e1000_receive,
set_ics / set_interrupt_cause) as a Linux e1000 driver uses it.  Sending
is: the driver writes a descriptor in memory (no exit) and the ring tail
(TDT, one MMIO exit); qemu, still inside that exit, walks the new
descriptors, DMAs each packet out of the guest and writes it to its tap
device, then sets TXDW in ICR.  Receiving is qemu's: a packet from the tap
is DMAed into the next posted buffer and RXT0 set.  The interrupt line is
level: asserted while ``ICR & IMS`` is non-zero, so events coalesce until
the guest's handler reads ICR (which clears it).
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

from xensim.domains.dom0.physdev import Packet
from xensim.hypervisor.hvm.ioreq import IOREQ_TYPE_COPY, Ioreq
from xensim.qemu_dm.device import Answer, EmulatedNic, Range

if TYPE_CHECKING:
    from xensim.qemu_dm.process import DeviceModel

MMIO_BASE = 0xF000_0000
MMIO_SIZE = 0x2_0000
ICR, ITR, ICS, IMS, IMC = 0xC0, 0xC4, 0xC8, 0xD0, 0xD8
RDH, RDT, TDH, TDT = 0x2810, 0x2818, 0x3810, 0x3818
ICR_TXDW, ICR_RXT0 = 0x01, 0x80
RING = 256


class E1000(EmulatedNic):
    name = "e1000"
    irq = 11
    base = MMIO_BASE

    def __init__(self, dm: DeviceModel, devid: int = 0) -> None:
        super().__init__(dm, devid)
        self.base = MMIO_BASE + devid * MMIO_SIZE
        self.icr = 0
        self.ims = 0
        self.regs: dict[int, int] = {}
        self.tx_ring: deque[Packet] = deque()
        """Descriptors the guest filled and qemu has not yet sent (TDH..TDT)."""
        self.rx_free = 0
        """Receive buffers the guest posted (up to RDT)."""

    def ranges(self) -> list[Range]:
        return [Range(IOREQ_TYPE_COPY, self.base, self.base + MMIO_SIZE - 1)]

    def handle(self, req: Ioreq) -> Answer:
        reg = req.addr - self.base
        if not req.is_write:
            if reg == ICR:  # read-to-clear: the handler's acknowledgement
                val, self.icr = self.icr, 0
                self._update_irq()
                return Answer(val, self.reg_ns)
            return Answer(self.regs.get(reg, 0), self.reg_ns)
        val = req.data
        self.regs[reg] = val
        if reg == TDT:
            return self._start_xmit()
        if reg == RDT:
            self.rx_free = RING - 1 - len(self.rx_done)
        elif reg == IMS:
            self.ims |= val
            self._update_irq()
        elif reg == IMC:
            self.ims &= ~val
            self._update_irq()
        elif reg == ICS:
            self._cause(val)
        return Answer(0, self.reg_ns)

    # --- transmit: inside the guest's TDT exit --------------------------------------------
    def guest_queue(self, pkt: Packet) -> None:
        """The driver wrote a descriptor (guest memory: no exit)."""
        self.tx_ring.append(pkt)

    def _start_xmit(self) -> Answer:
        pkts = list(self.tx_ring)
        self.tx_ring.clear()
        ns = self.reg_ns + sum(self.net_ns + self.dm.dma_ns(p.size) for p in pkts)

        def sent() -> None:
            for p in pkts:
                self.dm.tap_send(p)
            if pkts:
                self._cause(ICR_TXDW)

        return Answer(0, ns, sent)

    # --- receive: from the tap, in the device model ---------------------------------------
    def receive(self, pkt: Packet) -> tuple[int, None]:
        if self.unplugged or self.rx_free <= 0:
            self.rx_dropped += 1
            return self.net_ns, None
        self.rx_free -= 1
        self.rx_done.append(pkt)
        self._cause(ICR_RXT0)
        return self.net_ns + self.dm.dma_ns(pkt.size), None

    # --- interrupts ------------------------------------------------------------------------
    def _cause(self, bits: int) -> None:
        self.icr |= bits
        self._update_irq()

    def _update_irq(self) -> None:
        self.set_irq(1 if self.icr & self.ims else 0)

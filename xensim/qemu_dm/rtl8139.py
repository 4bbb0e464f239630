"""Realtek RTL8139: four transmit slots and a receive ring, all driven by port I/O.

Mirrors qemu's hw/net/rtl8139.c (rtl8139_TxStatus_write -> transmit,
rtl8139_do_receive, the ISR/IMR pair) as Linux's 8139too drives it.
Dearer than the e1000 per packet, which is the lesson: each send is two
port writes (the buffer address TSAD and the size TSD, which starts the
transmission), only four sends can be outstanding before the driver must
take a TOK interrupt and read each TSD back, and each received packet is
acknowledged by a CAPR write.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from xensim.domains.dom0.physdev import Packet
from xensim.hypervisor.hvm.ioreq import IOREQ_TYPE_PIO, Ioreq
from xensim.qemu_dm.device import Answer, EmulatedNic, Range

if TYPE_CHECKING:
    from xensim.qemu_dm.process import DeviceModel

IO_BASE = 0xC100
IO_SIZE = 0x100
TSD0, TSAD0, CAPR, IMR, ISR = 0x10, 0x20, 0x38, 0x3C, 0x3E
ISR_ROK, ISR_TOK = 0x01, 0x04
TSD_OWN, TSD_TOK = 0x2000, 0x8000
NUM_TX_DESC = 4
RX_RING_PACKETS = 32
"""Packets the 32 KiB receive ring holds at MTU size."""


class Rtl8139(EmulatedNic):
    name = "rtl8139"
    irq = 10

    def __init__(self, dm: DeviceModel, devid: int = 0) -> None:
        super().__init__(dm, devid)
        self.base = IO_BASE + devid * IO_SIZE
        self.isr = 0
        self.imr = 0
        self.tsd = [TSD_OWN] * NUM_TX_DESC
        self.pending: dict[int, Packet] = {}
        """Slot -> the packet whose buffer address the guest wrote (TSAD)."""

    def ranges(self) -> list[Range]:
        return [Range(IOREQ_TYPE_PIO, self.base, self.base + IO_SIZE - 1)]

    def handle(self, req: Ioreq) -> Answer:
        reg = req.addr - self.base
        if not req.is_write:
            if reg == ISR:
                return Answer(self.isr, self.reg_ns)
            if TSD0 <= reg < TSD0 + 4 * NUM_TX_DESC:
                return Answer(self.tsd[(reg - TSD0) // 4], self.reg_ns)
            if reg == IMR:
                return Answer(self.imr, self.reg_ns)
            return Answer(0, self.reg_ns)
        val = req.data
        if reg == ISR:  # write 1 to clear
            self.isr &= ~val
            self._update_irq()
        elif reg == IMR:
            self.imr = val
            self._update_irq()
        elif reg == CAPR:  # the driver consumed a packet from the ring
            if self.rx_done:
                self.rx_done.popleft()
        elif TSAD0 <= reg < TSAD0 + 4 * NUM_TX_DESC:
            pass  # the buffer address; the packet itself sits in guest memory
        elif TSD0 <= reg < TSD0 + 4 * NUM_TX_DESC:
            return self._transmit((reg - TSD0) // 4)
        return Answer(0, self.reg_ns)

    def guest_queue(self, slot: int, pkt: Packet) -> None:
        """The driver copied *pkt* into slot's buffer (guest memory: no exit)."""
        self.pending[slot] = pkt
        self.tsd[slot] = 0

    def _transmit(self, slot: int) -> Answer:
        pkt = self.pending.pop(slot, None)
        if pkt is None:
            return Answer(0, self.reg_ns)
        ns = self.reg_ns + self.net_ns + self.dm.dma_ns(pkt.size)

        def sent() -> None:
            self.dm.tap_send(pkt)
            self.tsd[slot] = TSD_OWN | TSD_TOK
            self.isr |= ISR_TOK
            self._update_irq()

        return Answer(0, ns, sent)

    def receive(self, pkt: Packet) -> tuple[int, None]:
        if self.unplugged or len(self.rx_done) >= RX_RING_PACKETS:
            self.rx_dropped += 1
            return self.net_ns, None
        self.rx_done.append(pkt)
        self.isr |= ISR_ROK
        self._update_irq()
        return self.net_ns + self.dm.dma_ns(pkt.size), None

    def _update_irq(self) -> None:
        self.set_irq(1 if self.isr & self.imr else 0)

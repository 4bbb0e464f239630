"""The HVM guest's drivers for emulated devices: each operation as register accesses.

Mirrors the Linux drivers an HVM guest without PV drivers uses: ata_piix
with libata's BMDMA helpers (ata_bmdma_setup/start, ata_sff_tf_load,
ata_bmdma_interrupt), e1000 (e1000_xmit_frame, e1000_intr with NAPI),
8139too (rtl8139_start_xmit, rtl8139_interrupt) and the 8250 serial
console.  Each yields :class:`~xensim.domains.guest.guest_vcpu.IoAccess` actions in
the order the real driver touches the registers; the platform turns each
into a VM exit and, for qemu's devices, an ioreq round trip.  Descriptor
rings and buffers live in guest memory, so filling them costs no exit
(here the driver hands the packet to the device object directly, which
stands for qemu reading guest RAM).

The drivers offer the same interface as netfront/blkfront
(``send``/``xmit``/``tx_full`` for a NIC, ``can_submit``/``request`` for a
disk, ``connected``, ``kind``), so the I/O workloads run unchanged.
Interrupt handlers run as nested programs after the interrupt's entry
(:attr:`~xensim.domains.guest.guest_vcpu.GuestVcpu.isr_queue`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from xensim.domains.dom0.physdev import Packet
from xensim.domains.guest.guest_vcpu import Action, Compute, GuestVcpu, IoAccess, WaitEvent
from xensim.hypervisor.hvm.ioreq import IOREQ_TYPE_COPY, IOREQ_TYPE_PIO
from xensim.qemu_dm import e1000 as e1k
from xensim.qemu_dm import ide, rtl8139, uart, vga, xen_platform

if TYPE_CHECKING:
    from xensim.domains.guest.kernel import GuestKernel
    from xensim.domains.pvio.netif import NetStack

Program = Iterator[Action]
BlockDone = Callable[[int, int], None]


def outp(port: int, value: int, size: int = 1) -> IoAccess:
    return IoAccess(IOREQ_TYPE_PIO, port, size, True, value)


def inp(port: int, size: int = 1) -> IoAccess:
    return IoAccess(IOREQ_TYPE_PIO, port, size, False)


def mmio_write(addr: int, value: int, size: int = 4) -> IoAccess:
    return IoAccess(IOREQ_TYPE_COPY, addr, size, True, value)


def mmio_read(addr: int, size: int = 4) -> IoAccess:
    return IoAccess(IOREQ_TYPE_COPY, addr, size, False)


def run_deferred(g: GuestVcpu) -> None:
    """Work the network stack deferred to the end of the interrupt (replies, sockets)."""
    while g.after_upcall:
        todo, g.after_upcall = g.after_upcall, []
        for fn in todo:
            fn()


# --- disk -------------------------------------------------------------------------------------
class IdeDriver:
    """ata_piix: one command at a time, by bus-master DMA or by PIO."""

    kind = "vbd"

    def __init__(self, kernel: GuestKernel, dma: bool = True) -> None:
        self.kernel = kernel
        self.dma = dma
        self.connected = True
        self.busy = False
        self.sectors_left = 0
        self.t0 = 0
        self.done: BlockDone | None = None
        self.cost = kernel.hyp.costs["blkfront_request"]
        kernel.irq_handlers[ide.IdeDisk.irq] = self.isr

    def can_submit(self) -> bool:
        return not self.busy

    def request(self, g: GuestVcpu, sector: int, nbytes: int,
                done: BlockDone) -> Iterator[Action]:
        """Issue one read; returns False (issuing nothing) while a command is active."""
        if self.busy:
            return False
        self.busy, self.t0, self.done = True, g.now, done
        nsect = max(1, min(256, nbytes // ide.SECTOR))
        self.sectors_left = nsect
        yield Compute(self.cost, "kernel")
        bm = ide.BMDMA_BASE
        if self.dma:  # ata_bmdma_setup: PRD table address, direction
            yield outp(bm + ide.BM_PRD, 0x1000, 4)
            cmd = yield inp(bm + ide.BM_CMD)
            yield outp(bm + ide.BM_CMD, (cmd & ~ide.BM_START) | ide.BM_READ_DIR)
        base = ide.CMD_BASE  # ata_sff_tf_load, then the command
        for reg, val in ((2, nsect & 0xFF), (3, sector & 0xFF), (4, sector >> 8 & 0xFF),
                         (5, sector >> 16 & 0xFF), (6, 0xE0 | sector >> 24 & 0x0F)):
            yield outp(base + reg, val)
        yield outp(base + 7, ide.WIN_READ_DMA if self.dma else ide.WIN_READ)
        if self.dma:  # ata_bmdma_start
            cmd = yield inp(bm + ide.BM_CMD)
            yield outp(bm + ide.BM_CMD, cmd | ide.BM_START)
        return True

    def isr(self, g: GuestVcpu) -> Program:
        bm = ide.BMDMA_BASE
        if self.dma:  # ata_bmdma_interrupt: status, stop the engine, ack
            yield inp(bm + ide.BM_STATUS)
            cmd = yield inp(bm + ide.BM_CMD)
            yield outp(bm + ide.BM_CMD, cmd & ~ide.BM_START)
            yield inp(ide.CMD_BASE + 7)
            yield outp(bm + ide.BM_STATUS, ide.BM_ST_IRQ)
            self.sectors_left = 0
        else:  # one sector per interrupt: status, then rep insw from the data port
            yield inp(ide.CMD_BASE + 7)
            yield inp(ide.CMD_BASE, 2)
            self.sectors_left -= 1
        if self.sectors_left <= 0 and self.busy:
            yield Compute(self.cost, "kernel")
            self.busy = False
            if self.done is not None:
                self.done(0, g.now - self.t0)


# --- network ----------------------------------------------------------------------------------
class E1000Driver:
    """e1000: a TDT doorbell per send, NAPI polling after each interrupt."""

    kind = "vif"
    port = None

    def __init__(self, kernel: GuestKernel, nic: e1k.E1000, stack: NetStack) -> None:
        self.kernel = kernel
        self.nic = nic
        self.stack = stack
        self.base = nic.base
        self.connected = False
        self.tx_tail = 0
        self.queued = 0
        self.cost = kernel.hyp.costs["netfront_packet"]
        kernel.irq_handlers[nic.irq] = self.isr
        stack.front = self

    def init(self, g: GuestVcpu) -> Program:
        """e1000_configure: post all receive buffers, unmask the interrupts."""
        yield mmio_write(self.base + e1k.RDT, e1k.RING - 1)
        yield mmio_write(self.base + e1k.IMS, e1k.ICR_TXDW | e1k.ICR_RXT0)
        self.connected = True

    def xmit(self, pkt: Packet) -> bool:
        """From kernel context: fill a descriptor; the doorbell waits for the handler."""
        self.nic.guest_queue(pkt)
        self.queued += 1
        return False

    def tx_full(self) -> bool:
        return False

    def _doorbell(self) -> IoAccess:
        self.tx_tail = (self.tx_tail + self.queued) % e1k.RING
        self.queued = 0
        return mmio_write(self.base + e1k.TDT, self.tx_tail)

    def send(self, g: GuestVcpu, pkt: Packet) -> Program:
        yield Compute(self.cost, "kernel")
        self.xmit(pkt)
        yield self._doorbell()

    def isr(self, g: GuestVcpu) -> Program:
        yield mmio_read(self.base + e1k.ICR)
        yield mmio_write(self.base + e1k.IMC, 0xFFFFFFFF)  # NAPI: mask until the poll ends
        received = 0
        while self.nic.rx_done:
            ns = 0
            while self.nic.rx_done:
                ns += self.stack.deliver(g, self.nic.rx_done.popleft())
                received += 1
            yield Compute(ns, "kernel")
            run_deferred(g)
        if received:
            yield mmio_write(self.base + e1k.RDT, e1k.RING - 1)
        if self.queued:
            yield self._doorbell()
        yield mmio_write(self.base + e1k.IMS, e1k.ICR_TXDW | e1k.ICR_RXT0)


class Rtl8139Driver:
    """8139too: four transmit slots, each send two port writes; CAPR per packet."""

    kind = "vif"
    port = None

    def __init__(self, kernel: GuestKernel, nic: rtl8139.Rtl8139, stack: NetStack) -> None:
        self.kernel = kernel
        self.nic = nic
        self.stack = stack
        self.base = nic.base
        self.connected = False
        self.next_slot = 0
        self.in_flight: list[int] = []
        self.backlog: list[Packet] = []
        self.cost = kernel.hyp.costs["netfront_packet"]
        kernel.irq_handlers[nic.irq] = self.isr
        stack.front = self

    def init(self, g: GuestVcpu) -> Program:
        yield outp(self.base + rtl8139.IMR, rtl8139.ISR_ROK | rtl8139.ISR_TOK, 2)
        self.connected = True

    def tx_full(self) -> bool:
        return len(self.in_flight) >= rtl8139.NUM_TX_DESC

    def xmit(self, pkt: Packet) -> bool:
        self.backlog.append(pkt)
        return False

    def _start(self, pkt: Packet) -> Program:
        slot = self.next_slot
        self.next_slot = (slot + 1) % rtl8139.NUM_TX_DESC
        self.in_flight.append(slot)
        self.nic.guest_queue(slot, pkt)
        yield outp(self.base + rtl8139.TSAD0 + 4 * slot, 0x2000 + 0x800 * slot, 4)
        yield outp(self.base + rtl8139.TSD0 + 4 * slot, pkt.size, 4)

    def send(self, g: GuestVcpu, pkt: Packet) -> Program:
        yield Compute(self.cost, "kernel")
        if self.tx_full():  # netif_stop_queue until a TOK interrupt frees a slot
            yield WaitEvent(lambda: not self.tx_full())
        yield from self._start(pkt)

    def isr(self, g: GuestVcpu) -> Program:
        base = self.base
        status = yield inp(base + rtl8139.ISR, 2)
        yield outp(base + rtl8139.ISR, status, 2)
        while self.nic.rx_done:
            yield Compute(self.stack.deliver(g, self.nic.rx_done[0]), "kernel")
            yield outp(base + rtl8139.CAPR, 0, 2)  # pops the packet from the ring
            run_deferred(g)
        for slot in list(self.in_flight):  # rtl8139_tx_interrupt: read back each TSD
            tsd = yield inp(base + rtl8139.TSD0 + 4 * slot, 4)
            if not tsd & rtl8139.TSD_TOK:
                break
            self.in_flight.remove(slot)
        while self.backlog and not self.tx_full():
            yield from self._start(self.backlog.pop(0))


# --- console and platform -----------------------------------------------------------------------
def serial_write(text: str) -> Program:
    """The 8250 console: wait for THRE (an LSR read), then the character (a THR write)."""
    for ch in text + "\n":
        yield inp(uart.COM1 + uart.LSR)
        yield outp(uart.COM1 + uart.THR, ord(ch) & 0xFF)


def vga_write(text: str, row: int = 0) -> Program:
    """vgacon: one 16-bit cell per character; Xen buffers these writes."""
    for col, ch in enumerate(text[:vga.COLUMNS]):
        addr = vga.TEXT_BASE + 2 * (row * vga.COLUMNS + col)
        yield mmio_write(addr, 0x0700 | (ord(ch) & 0xFF), 2)


def unplug_emulated(g: GuestVcpu) -> Iterator[Any]:
    """xen_unplug_emulated_devices: check the magic, then unplug all disks and NICs."""
    magic = yield inp(xen_platform.UNPLUG_PORT, 2)
    if magic == xen_platform.MAGIC:
        yield outp(xen_platform.UNPLUG_PORT,
                   xen_platform.UNPLUG_ALL_IDE_DISKS | xen_platform.UNPLUG_ALL_NICS, 2)

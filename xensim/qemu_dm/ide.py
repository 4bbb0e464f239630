"""PIIX3 IDE: the primary channel's task file and its bus-master DMA engine.

Mirrors qemu's hw/ide/core.c, hw/ide/pci.c (bmdma_cmd_writeb) and
hw/ide/piix.c, as far as a Linux ata_piix driver drives them.  A read is
what the driver writes: sector count and LBA into the task file, the
command, and (for DMA) the PRD table address and the START bit; the disk
work then happens in the device model (an AIO request on the host's disk)
and completion raises IRQ 14.  In PIO mode each sector is fetched by the
guest with ``rep insw`` from the data port (one exit per 512 bytes) after
an interrupt per sector.  One command at a time: IDE has no queue.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from xensim.hypervisor.hvm.ioreq import IOREQ_TYPE_PIO, Ioreq
from xensim.qemu_dm.device import Answer, EmulatedDevice, Range

if TYPE_CHECKING:
    from xensim.qemu_dm.process import DeviceModel

CMD_BASE = 0x1F0
CTL_PORT = 0x3F6
BMDMA_BASE = 0xC000
"""Bus-master registers: BAR4 of the PIIX3 IDE function."""
BM_CMD, BM_STATUS, BM_PRD = 0, 2, 4
BM_START, BM_READ_DIR = 0x01, 0x08
BM_ST_ACTIVE, BM_ST_IRQ = 0x01, 0x04
ST_BSY, ST_DRDY, ST_DRQ, ST_ERR = 0x80, 0x40, 0x08, 0x01
WIN_READ_DMA, WIN_READ = 0xC8, 0x20
SECTOR = 512


class IdeDisk(EmulatedDevice):
    name = "ide"
    irq = 14

    def __init__(self, dm: DeviceModel) -> None:
        super().__init__(dm)
        self.tf = [0] * 8
        """Task-file registers 0x1F0-0x1F7 as last written."""
        self.status = ST_DRDY
        self.bm_cmd = 0
        self.bm_status = 0
        self.bm_prd = 0
        self.command = 0
        self.pio_left = 0
        """Sectors the guest still has to fetch through the data port."""
        self.lba = 0
        self.nsect = 0
        self.reads = 0

    def ranges(self) -> list[Range]:
        return [Range(IOREQ_TYPE_PIO, CMD_BASE, CMD_BASE + 7),
                Range(IOREQ_TYPE_PIO, CTL_PORT, CTL_PORT),
                Range(IOREQ_TYPE_PIO, BMDMA_BASE, BMDMA_BASE + 7)]

    def handle(self, req: Ioreq) -> Answer:
        addr = req.addr
        if BMDMA_BASE <= addr < BMDMA_BASE + 8:
            return self._bmdma(addr - BMDMA_BASE, req)
        if addr == CTL_PORT:  # alternate status: no side effects
            return Answer(self.status, self.reg_ns)
        reg = addr - CMD_BASE
        if req.is_write:
            self.tf[reg] = req.data & 0xFF
            if reg == 7:  # the command starts while qemu handles the write
                self._command(req.data & 0xFF)
            return Answer(0, self.reg_ns)
        if reg == 7:  # status: reading it acknowledges the interrupt
            self.set_irq(0)
            return Answer(self.status, self.reg_ns)
        if reg == 0:
            return self._pio_data(req)
        return Answer(self.tf[reg], self.reg_ns)

    # --- commands --------------------------------------------------------------------
    def _command(self, cmd: int) -> None:
        tf = self.tf
        self.nsect = tf[2] or 256
        self.lba = (tf[6] & 0x0F) << 24 | tf[5] << 16 | tf[4] << 8 | tf[3]
        self.command = cmd
        self.status = ST_BSY | ST_DRDY
        if cmd == WIN_READ:
            self._read_from_disk(lambda: self._pio_ready(self.nsect))
        elif cmd != WIN_READ_DMA:
            self.status = ST_DRDY | ST_ERR  # commands this model does not implement
            self.set_irq(1)

    def _bmdma(self, reg: int, req: Ioreq) -> Answer:
        if not req.is_write:
            val = {BM_CMD: self.bm_cmd, BM_STATUS: self.bm_status, BM_PRD: self.bm_prd}
            return Answer(val.get(reg, 0), self.reg_ns)
        if reg == BM_PRD:
            self.bm_prd = req.data
            return Answer(0, self.reg_ns)
        if reg == BM_STATUS:  # write 1 to clear the interrupt and error bits
            self.bm_status &= ~(req.data & 0x06)
            return Answer(0, self.reg_ns)
        if reg == BM_CMD:
            start = req.data & BM_START and not self.bm_cmd & BM_START
            self.bm_cmd = req.data & 0x09
            if start and self.command == WIN_READ_DMA:
                self.bm_status |= BM_ST_ACTIVE
                return Answer(0, self.reg_ns, lambda: self._read_from_disk(self._dma_done))
            if not req.data & BM_START:
                self.bm_status &= ~BM_ST_ACTIVE
        return Answer(0, self.reg_ns)

    def _read_from_disk(self, done: object) -> None:
        self.reads += 1
        self.dm.disk_read(self.lba, self.nsect * SECTOR, done)  # type: ignore[arg-type]

    def _dma_done(self) -> tuple[int, None]:
        """The AIO completed: copy into the guest's PRD buffers, then interrupt."""
        self.bm_status = (self.bm_status & ~BM_ST_ACTIVE) | BM_ST_IRQ
        self.status = ST_DRDY
        self.set_irq(1)
        return self.dm.dma_ns(self.nsect * SECTOR), None

    def _pio_ready(self, nsect: int) -> tuple[int, None]:
        self.pio_left = nsect
        self.status = ST_DRDY | ST_DRQ
        self.set_irq(1)
        return 0, None

    def _pio_data(self, req: Ioreq) -> Answer:
        """``rep insw`` of one sector: Xen hands qemu the whole repetition at once."""
        if not self.pio_left:
            return Answer(0xFFFF, self.reg_ns)
        self.pio_left -= 1
        ns = self.reg_ns + self.dm.dma_ns(SECTOR)
        if self.pio_left:
            self.set_irq(1)  # next sector ready: one interrupt per sector (no multiple mode)
        else:
            self.status = ST_DRDY
        return Answer(0, ns)

"""An ATAPI CD-ROM drive on the PIIX3's secondary IDE channel, with a tray and media.

Mirrors qemu's hw/ide/atapi.c and core.c as far as Linux's ata_piix + sr
drivers drive a CD: the PACKET command (0xA0) takes a 12-byte SCSI command
through the data port, and the answer comes back through it (PIO, with
the interrupt-reason register saying command/data/done).  Commands:
TEST UNIT READY, REQUEST SENSE, INQUIRY, READ CAPACITY, READ(10), START
STOP UNIT (the guest's own eject) and PREVENT ALLOW MEDIUM REMOVAL.  The
sense data follow the drive's media: MEDIUM NOT PRESENT (2/3A) when empty,
one UNIT ATTENTION (6/28, "medium may have changed") after a new disc goes
in, MEDIA REMOVAL PREVENTED (5/53) for an eject while the guest locked it.

The toolstack changes media with :meth:`insert` and :meth:`eject`, which
qemu does for libxl's QMP ``blockdev-change-medium``/``eject``
(``xl cd-insert``/``cd-eject``).  Reads go through the device model to the
host's disk (the ISO image), 2 KiB per CD block.  Simplified: one drive,
the secondary master; no DMA (ata_piix uses PIO for ATAPI by default);
media size is a fixed 700 MB disc.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from xensim.hypervisor.hvm.ioreq import IOREQ_TYPE_PIO, Ioreq
from xensim.qemu_dm.device import Answer, EmulatedDevice, Range

if TYPE_CHECKING:
    from xensim.qemu_dm.process import DeviceModel

CMD_BASE = 0x170
CTL_PORT = 0x376
ST_BSY, ST_DRDY, ST_DRQ, ST_ERR = 0x80, 0x40, 0x08, 0x01
WIN_PACKET = 0xA0
IR_COD, IR_IO = 0x01, 0x02
CD_BLOCK = 2048
DISC_BLOCKS = 700 * 1024 * 1024 // CD_BLOCK

TEST_UNIT_READY, REQUEST_SENSE, INQUIRY = 0x00, 0x03, 0x12
START_STOP_UNIT, PREVENT_ALLOW, READ_CAPACITY, READ_10 = 0x1B, 0x1E, 0x25, 0x28
NOT_READY, ILLEGAL_REQUEST, UNIT_ATTENTION = 0x02, 0x05, 0x06
ASC_MEDIUM_NOT_PRESENT, ASC_MEDIUM_MAY_HAVE_CHANGED = 0x3A, 0x28
ASC_INVALID_OPCODE, ASC_MEDIA_REMOVAL_PREVENTED = 0x20, 0x53


class AtapiCdrom(EmulatedDevice):
    name = "cdrom"
    irq = 15

    def __init__(self, dm: DeviceModel, vdev: str, media: str | None) -> None:
        super().__init__(dm)
        self.vdev = vdev
        self.media = media or None
        """The image in the drive (a host path), None when empty."""
        self.locked = False
        self.sense = (0, 0)
        """(key, asc) of the last error, for REQUEST SENSE."""
        self.unit_attention = False
        self.tf = [0] * 8
        self.status = ST_DRDY
        self.packet = bytearray()
        self.reply = bytearray()
        self.reads = 0
        self.media_changes = 0
        self.on_guest_eject: Callable[[AtapiCdrom], None] | None = None
        """Told when the guest ejects the disc itself (libxl's disk-eject watch)."""

    # --- the toolstack's side (QMP) ------------------------------------------------------
    def insert(self, path: str | None) -> None:
        """A new disc (or, with None, none): the guest sees UNIT ATTENTION once."""
        self.media = path or None
        self.media_changes += 1
        self.unit_attention = self.media is not None

    def eject(self) -> None:
        self.insert(None)

    # --- registers -----------------------------------------------------------------------
    def ranges(self) -> list[Range]:
        return [Range(IOREQ_TYPE_PIO, CMD_BASE, CMD_BASE + 7),
                Range(IOREQ_TYPE_PIO, CTL_PORT, CTL_PORT)]

    def handle(self, req: Ioreq) -> Answer:
        if req.addr == CTL_PORT:
            return Answer(self.status, self.reg_ns)
        reg = req.addr - CMD_BASE
        if reg == 0:
            return self._data(req)
        if req.is_write:
            self.tf[reg] = req.data & 0xFF
            if reg == 7 and req.data & 0xFF == WIN_PACKET:
                self.packet.clear()
                self.tf[2] = IR_COD
                self.status = ST_DRDY | ST_DRQ
            elif reg == 7:
                self._finish(ILLEGAL_REQUEST, ASC_INVALID_OPCODE)
            return Answer(0, self.reg_ns)
        if reg == 7:
            self.set_irq(0)
            return Answer(self.status, self.reg_ns)
        return Answer(self.tf[reg], self.reg_ns)

    def _data(self, req: Ioreq) -> Answer:
        if req.is_write:  # the command packet, a word (or a rep outsw) at a time
            self.packet += (req.data & ((1 << 8 * req.size) - 1)).to_bytes(req.size, "little")
            if len(self.packet) >= 12:
                return Answer(0, self.reg_ns, lambda: self._execute(bytes(self.packet[:12])))
            return Answer(0, self.reg_ns)
        if not self.reply:
            return Answer(0xFFFF, self.reg_ns)
        chunk, self.reply = self.reply[:req.size], self.reply[req.size:]
        ns = self.reg_ns + self.dm.dma_ns(req.size)
        if not self.reply:
            self._finish(0, 0)
        return Answer(int.from_bytes(chunk, "little"), ns)

    # --- SCSI commands ---------------------------------------------------------------------
    def _execute(self, cdb: bytes) -> None:
        op = cdb[0]
        if op == REQUEST_SENSE:
            key, asc = self.sense
            sense = bytearray(18)
            sense[0], sense[2], sense[7], sense[12] = 0x70, key, 10, asc
            self.sense = (0, 0)
            self._send(bytes(sense[:cdb[4] or 18]))
            return
        if op == INQUIRY:
            self._send(bytes([5, 0x80, 0, 0x21, 31, 0, 0, 0]) + b"QEMU    QEMU DVD-ROM    2.5+")
            return
        if op in (TEST_UNIT_READY, READ_CAPACITY, READ_10) and not self._ready():
            return
        if op == TEST_UNIT_READY:
            self._finish(0, 0)
        elif op == READ_CAPACITY:
            self._send((DISC_BLOCKS - 1).to_bytes(4, "big") + CD_BLOCK.to_bytes(4, "big"))
        elif op == READ_10:
            lba = int.from_bytes(cdb[2:6], "big")
            nblocks = int.from_bytes(cdb[7:9], "big")
            self.reads += 1
            self.status = ST_BSY | ST_DRDY
            self.dm.disk_read(lba * (CD_BLOCK // 512), nblocks * CD_BLOCK,
                              lambda: self._read_done(nblocks * CD_BLOCK))
        elif op == PREVENT_ALLOW:
            self.locked = bool(cdb[4] & 1)
            self._finish(0, 0)
        elif op == START_STOP_UNIT:
            self._start_stop(cdb[4])
        else:
            self._finish(ILLEGAL_REQUEST, ASC_INVALID_OPCODE)

    def _ready(self) -> bool:
        if self.media is None:
            self._finish(NOT_READY, ASC_MEDIUM_NOT_PRESENT)
            return False
        if self.unit_attention:
            self.unit_attention = False
            self._finish(UNIT_ATTENTION, ASC_MEDIUM_MAY_HAVE_CHANGED)
            return False
        return True

    def _start_stop(self, flags: int) -> None:
        load_eject, start = flags & 2, flags & 1
        if load_eject and not start:
            if self.locked:
                self._finish(ILLEGAL_REQUEST, ASC_MEDIA_REMOVAL_PREVENTED)
                return
            self.eject()
            if self.on_guest_eject is not None:
                self.on_guest_eject(self)
        self._finish(0, 0)

    def _read_done(self, nbytes: int) -> tuple[int, None]:
        self._send(bytes(nbytes))
        return 0, None

    def _send(self, data: bytes) -> None:
        """Data for the guest: DRQ with the byte count in the cylinder registers."""
        self.reply = bytearray(data)
        self.tf[4], self.tf[5] = len(data) & 0xFF, (len(data) >> 8) & 0xFF
        self.tf[2] = IR_IO
        self.status = ST_DRDY | ST_DRQ
        self.set_irq(1)

    def _finish(self, key: int, asc: int) -> None:
        """Command complete: status (ERR with the sense key in the error register)."""
        self.tf[2] = IR_IO | IR_COD
        if key:
            self.sense = (key, asc)
            self.tf[1] = key << 4
            self.status = ST_DRDY | ST_ERR
        else:
            self.tf[1] = 0
            self.status = ST_DRDY
        self.set_irq(1)

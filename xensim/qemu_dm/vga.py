"""The legacy VGA window: text-mode writes that Xen buffers instead of waiting.

Mirrors the one use real Xen makes of buffered ioreqs: writes to the
standard VGA range 0xA0000-0xBFFFF go on the buffered-ioreq page and the
vCPU carries on; qemu drains the page later (handle_buffered_iopage).  A
guest printing to its VGA text console therefore pays an exit per
character but no round trip, unlike the serial port.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from xensim.hypervisor.hvm.ioreq import IOREQ_TYPE_COPY, Ioreq
from xensim.qemu_dm.device import Answer, EmulatedDevice, Range

if TYPE_CHECKING:
    from xensim.qemu_dm.process import DeviceModel

VGA_FIRST, VGA_LAST = 0xA0000, 0xBFFFF
TEXT_BASE = 0xB8000
COLUMNS, ROWS = 80, 25


class Vga(EmulatedDevice):
    name = "vga"

    def __init__(self, dm: DeviceModel) -> None:
        super().__init__(dm)
        self.text = bytearray(b" " * (COLUMNS * ROWS))

    def ranges(self) -> list[Range]:
        return [Range(IOREQ_TYPE_COPY, VGA_FIRST, VGA_LAST, buffered=True)]

    def handle(self, req: Ioreq) -> Answer:
        cell = (req.addr - TEXT_BASE) // 2
        if req.is_write and 0 <= cell < len(self.text):
            self.text[cell] = req.data & 0xFF
        return Answer(0, self.reg_ns)

    def screen(self) -> list[str]:
        raw = self.text.decode("latin-1")
        return [raw[i:i + COLUMNS].rstrip() for i in range(0, len(raw), COLUMNS)]

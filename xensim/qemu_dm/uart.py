"""A 16550 UART on COM1: the HVM guest's serial console (``xl console``).

Mirrors qemu's hw/char/serial.c as Linux's 8250 console writes to it: for
each character, poll the line status register until the transmitter is
empty (LSR, an exit) and write the character (THR, an exit).  So one
character costs two round trips to the device model, which is why serial
consoles are slow under emulation.  The characters land in the domain's
console buffer, the same one ``xl console`` reads.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from xensim.hypervisor.hvm.ioreq import IOREQ_TYPE_PIO, Ioreq
from xensim.qemu_dm.device import Answer, EmulatedDevice, Range

if TYPE_CHECKING:
    from xensim.qemu_dm.process import DeviceModel

COM1 = 0x3F8
THR, LSR = 0, 5
LSR_THRE, LSR_TEMT = 0x20, 0x40


class Uart16550(EmulatedDevice):
    name = "serial"
    irq = 4

    def __init__(self, dm: DeviceModel) -> None:
        super().__init__(dm)
        self.line: list[str] = []
        self.regs = [0] * 8

    def ranges(self) -> list[Range]:
        return [Range(IOREQ_TYPE_PIO, COM1, COM1 + 7)]

    def handle(self, req: Ioreq) -> Answer:
        reg = req.addr - COM1
        if not req.is_write:
            if reg == LSR:
                return Answer(LSR_THRE | LSR_TEMT, self.reg_ns)  # always ready: qemu's chardev
            return Answer(self.regs[reg], self.reg_ns)
        if reg == THR and not self.regs[3] & 0x80:  # not the divisor latch
            ch = chr(req.data & 0xFF)
            if ch == "\n":
                self.dm.console_write("".join(self.line))
                self.line = []
            else:
                self.line.append(ch)
        else:
            self.regs[reg] = req.data & 0xFF
        return Answer(0, self.reg_ns)

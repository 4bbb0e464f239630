"""The devices Xen emulates itself, so their accesses never leave the hypervisor.

Mirrors: xen/arch/x86/hvm/rtc.c (the MC146818 CMOS clock at ports
0x70/0x71), xen/arch/x86/emul-i8254.c (the PIT at 0x40-0x43 and port B at
0x61) and the LAPIC's EOI register (vlapic.c).  On a real Xen host these
are *not* in qemu: a guest reading the clock pays an exit and Xen's
handler, but no round trip to dom0, which is why timekeeping under HVM
does not suffer from a busy dom0.  Each device answers one access; its
price is the ``hvm_internal_device`` row of the cost table.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from xensim.hypervisor.hvm.ioreq import IOREQ_TYPE_COPY, IOREQ_TYPE_PIO, Ioreq

if TYPE_CHECKING:
    from xensim.hypervisor.time import SimTime

PIT_HZ = 1_193_182
LAPIC_BASE = 0xFEE0_0000
LAPIC_EOI = LAPIC_BASE + 0xB0


def _bcd(n: int) -> int:
    return (n // 10) << 4 | n % 10


class VirtualDevice:
    """A register file Xen answers from its own state."""

    space = IOREQ_TYPE_PIO
    first = 0
    last = 0

    def __init__(self, clock: Callable[[], SimTime]) -> None:
        self.clock = clock
        self.accesses = 0

    def access(self, req: Ioreq) -> int:
        self.accesses += 1
        return self.read(req.addr) if not req.is_write else self.write(req.addr, req.data)

    def read(self, addr: int) -> int:
        raise NotImplementedError

    def write(self, addr: int, value: int) -> int:
        raise NotImplementedError


class Rtc(VirtualDevice):
    """CMOS RTC: write the register index to 0x70, read or write it at 0x71 (BCD time)."""

    first, last = 0x70, 0x71

    def __init__(self, clock: Callable[[], SimTime]) -> None:
        super().__init__(clock)
        self.index = 0
        self.cmos = bytearray(128)
        self.cmos[0x0B] = 0x02  # status B: 24-hour mode, BCD

    def read(self, addr: int) -> int:
        if addr == 0x70:
            return self.index
        secs = self.clock() // 1_000_000_000
        reg = self.index
        if reg == 0x00:
            return _bcd(secs % 60)
        if reg == 0x02:
            return _bcd(secs // 60 % 60)
        if reg == 0x04:
            return _bcd(secs // 3600 % 24)
        if reg == 0x0C:  # status C: reading it acknowledges the RTC interrupt
            val, self.cmos[0x0C] = self.cmos[0x0C], 0
            return val
        return self.cmos[reg]

    def write(self, addr: int, value: int) -> int:
        if addr == 0x70:
            self.index = value & 0x7F
        elif self.index not in (0x0C, 0x0D):  # status C and D are read-only
            self.cmos[self.index] = value & 0xFF
        return 0


class Pit(VirtualDevice):
    """i8254: three down-counters at 1.193182 MHz; 0x43 latches, 0x40-0x42 read LSB then MSB."""

    first, last = 0x40, 0x43

    def __init__(self, clock: Callable[[], SimTime]) -> None:
        super().__init__(clock)
        self.reload = [0x10000, 0x10000, 0x10000]
        self.loaded_at = [0, 0, 0]
        self.latched: list[list[int]] = [[], [], []]
        self.writing: list[list[int]] = [[], [], []]

    def _count(self, ch: int) -> int:
        ticks = (self.clock() - self.loaded_at[ch]) * PIT_HZ // 1_000_000_000
        return (self.reload[ch] - ticks) % self.reload[ch]

    def read(self, addr: int) -> int:
        ch = addr - 0x40
        if ch == 3:
            return 0xFF  # the control word is write-only
        if not self.latched[ch]:
            c = self._count(ch)
            self.latched[ch] = [c & 0xFF, c >> 8 & 0xFF]
        return self.latched[ch].pop(0)

    def write(self, addr: int, value: int) -> int:
        ch = addr - 0x40
        if ch == 3:
            sel = value >> 6 & 3
            if sel < 3 and value & 0x30 == 0:  # counter latch command
                c = self._count(sel)
                self.latched[sel] = [c & 0xFF, c >> 8 & 0xFF]
            return 0
        self.writing[ch].append(value & 0xFF)
        if len(self.writing[ch]) == 2:  # LSB then MSB: the new reload value takes effect
            lo, hi = self.writing[ch]
            self.writing[ch] = []
            self.reload[ch] = (hi << 8 | lo) or 0x10000
            self.loaded_at[ch] = self.clock()
        return 0


class LapicEoi(VirtualDevice):
    """The LAPIC's EOI register: a write ends the interrupt being serviced."""

    space = IOREQ_TYPE_COPY
    first = last = LAPIC_EOI

    def read(self, addr: int) -> int:
        return 0

    def write(self, addr: int, value: int) -> int:
        return 0


XEN_DEVICES: tuple[type[VirtualDevice], ...] = (Rtc, Pit, LapicEoi)
PVH_DEVICES: tuple[type[VirtualDevice], ...] = (LapicEoi,)
"""A PVH guest's: libxl gives a PVH domU only ``XEN_X86_EMU_LAPIC`` (xen/arch/x86/domain.c,
emulation_flags_ok), so its RTC and PIT ports are unclaimed and read as all ones."""

"""The Xen platform PCI device: how an HVM guest with PV drivers unplugs emulated ones.

Mirrors qemu's hw/i386/xen/xen_platform.c and docs/misc/hvm-emulated-unplug
in Xen: the guest reads the magic 0x49d2 from port 0x10, then writes a mask
there (1: all IDE disks, 2: all NICs) and qemu removes those devices, so
the guest's blkfront and netfront are the only way to its disks and
network.  With ``xen_platform_pci = 0`` the device is absent and the
guest keeps the emulated devices.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from xensim.hypervisor.hvm.ioreq import IOREQ_TYPE_PIO, Ioreq
from xensim.qemu_dm.device import Answer, EmulatedDevice, Range

if TYPE_CHECKING:
    from xensim.qemu_dm.process import DeviceModel

UNPLUG_PORT = 0x10
MAGIC = 0x49D2
UNPLUG_ALL_IDE_DISKS, UNPLUG_ALL_NICS = 1, 2


class XenPlatform(EmulatedDevice):
    name = "xen-platform"

    def __init__(self, dm: DeviceModel) -> None:
        super().__init__(dm)
        self.removed: list[str] = []
        """Names of the devices this guest unplugged."""

    def ranges(self) -> list[Range]:
        return [Range(IOREQ_TYPE_PIO, UNPLUG_PORT, UNPLUG_PORT + 1)]

    def handle(self, req: Ioreq) -> Answer:
        if not req.is_write:
            return Answer(MAGIC, self.reg_ns)
        kinds = []
        if req.data & UNPLUG_ALL_IDE_DISKS:
            kinds.append("ide")
        if req.data & UNPLUG_ALL_NICS:
            kinds += ["e1000", "rtl8139"]
        return Answer(0, self.reg_ns, lambda: self._unplug(kinds))

    def _unplug(self, kinds: list[str]) -> None:
        self.removed += self.dm.unplug(kinds)

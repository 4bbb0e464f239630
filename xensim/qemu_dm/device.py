"""What every emulated device is to the device model: register ranges and a handler.

A device answers one register access with ``(value, ns, effect)``: the
value a read returns, the device model's CPU time for the access beyond
the per-ioreq cost, and an optional effect applied once that time is
spent (start a DMA, send a packet, raise an interrupt).  Devices reach
the rest of the host only through their :class:`DeviceModel`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple

from xensim.domains.dom0.physdev import Packet
from xensim.hypervisor.hvm.ioreq import Ioreq

if TYPE_CHECKING:
    from xensim.qemu_dm.process import DeviceModel

Effect = Callable[[], None]


class Range(NamedTuple):
    space: int
    first: int
    last: int
    buffered: bool = False


class Answer(NamedTuple):
    value: int
    ns: int
    effect: Effect | None = None


class EmulatedDevice:
    """Base of qemu's devices: *ranges* claimed, an ISA/PCI interrupt line."""

    name = "device"
    irq = -1

    def __init__(self, dm: DeviceModel) -> None:
        self.dm = dm
        self.costs = dm.costs
        self.reg_ns = dm.costs["qemu_register"]
        self.accesses = 0
        self.unplugged = False

    def ranges(self) -> list[Range]:
        raise NotImplementedError

    def access(self, req: Ioreq) -> Answer:
        """Count the access; an unplugged device answers all ones and does nothing."""
        self.accesses += 1
        if self.unplugged:
            return Answer((1 << 8 * req.size) - 1, 0)
        return self.handle(req)

    def handle(self, req: Ioreq) -> Answer:
        raise NotImplementedError

    def set_irq(self, level: int) -> None:
        """Drive the interrupt line (a dm_op hypercall from the device model)."""
        self.dm.set_irq_level(self.irq, level)

    def unplug(self) -> None:
        """The guest's PV drivers took over (xen-platform unplug): stop for good."""
        self.unplugged = True


class EmulatedNic(EmulatedDevice):
    """What the emulated NICs share: received packets waiting for the driver, drops,
    and qemu's per-packet price of the tap device."""

    def __init__(self, dm: DeviceModel, devid: int = 0) -> None:
        super().__init__(dm)
        self.devid = devid
        self.rx_done: deque[Packet] = deque()
        """Packets written into guest buffers, for the driver's poll to find."""
        self.rx_dropped = 0
        self.net_ns = dm.costs["qemu_net_packet"]

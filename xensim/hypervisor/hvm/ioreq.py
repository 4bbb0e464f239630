"""ioreq servers: how Xen forwards an emulated access to a device model and waits.

Mirrors: xen/include/public/hvm/ioreq.h (``ioreq_t``, IOREQ_TYPE_PIO/COPY,
the buffered-ioreq page) and xen/common/ioreq.c (ioreq_server_create,
map_io_range_to_ioreq_server, ioreq_send, handle_hvm_io_completion).  A
device model creates a server for its target domain, claims port and MMIO
ranges, and is notified per vCPU (Xen uses one event channel per vCPU;
here the emulator's ``notify`` callback stands for that channel, and each
notification is counted as an event send).  A synchronous ioreq keeps the
vCPU blocked in Xen until the emulator completes it.  Writes to ranges the
emulator declared *buffered* go on a ring and the vCPU carries on, as Xen
does for the VGA window: one notification for a run of them.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from xensim.hypervisor.domain import Domain

IOREQ_TYPE_PIO = 0
IOREQ_TYPE_COPY = 1
"""MMIO (Xen's name: the emulator copies to or from guest memory)."""
IOREQ_READ = 1
IOREQ_WRITE = 0
IOREQ_BUFFER_SLOT_NUM = 511


@dataclass(slots=True)
class Ioreq:
    """One emulated access (``ioreq_t``)."""

    type: int
    addr: int
    size: int
    dir: int
    data: int = 0
    vcpu_id: int = 0

    @property
    def is_write(self) -> bool:
        return self.dir == IOREQ_WRITE


Notify = Callable[["IoreqServer", "Ioreq"], None]
"""The emulator's side of a per-vCPU event channel: a new ioreq is ready."""


class IoreqServer:
    """One device model's registration for one domain (``struct ioreq_server``)."""

    def __init__(self, target: Domain, emulator: Domain, notify: Notify,
                 notify_buffered: Callable[[IoreqServer], None]) -> None:
        self.target = target
        self.emulator = emulator
        self.notify = notify
        self.notify_buffered = notify_buffered
        self.ports: list[tuple[int, int, bool]] = []
        """(first, last, buffered) I/O port ranges claimed."""
        self.mmio: list[tuple[int, int, bool]] = []
        self.buffered: deque[Ioreq] = deque()
        self.enabled = True
        self.sent = 0
        """Notifications to the emulator (each one an event-channel send)."""

    def map_range(self, space: int, first: int, last: int, buffered: bool = False) -> None:
        (self.ports if space == IOREQ_TYPE_PIO else self.mmio).append((first, last, buffered))

    def claims(self, req: Ioreq) -> tuple[bool, bool]:
        """(claimed, buffered) for *req*."""
        for first, last, buf in self.ports if req.type == IOREQ_TYPE_PIO else self.mmio:
            if first <= req.addr <= last:
                return True, buf and req.is_write
        return False, False

    def send(self, req: Ioreq) -> None:
        self.sent += 1
        self.notify(self, req)

    def send_buffered(self, req: Ioreq) -> bool:
        """Queue a posted write; False when the ring is full (Xen then sends it sync)."""
        if len(self.buffered) >= IOREQ_BUFFER_SLOT_NUM:
            return False
        self.buffered.append(req)
        if len(self.buffered) == 1:
            self.sent += 1
            self.notify_buffered(self)
        return True

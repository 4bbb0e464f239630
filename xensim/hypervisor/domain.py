"""Domains: a guest's identity, vCPUs, memory and life-cycle state.

Mirrors: xen/include/xen/sched.h (``struct domain``) and the shutdown codes of
public/sched.h.  The hypervisor keeps the domain table; policy data hangs
off ``sched_priv`` and subsystems (event channels, grant tables) attach
their per-domain state by attribute, so this class stays small.
"""

from __future__ import annotations

from collections import Counter
from enum import IntEnum
from typing import TYPE_CHECKING, Any, NewType

if TYPE_CHECKING:
    from xensim.hypervisor.cpupool import Cpupool
    from xensim.hypervisor.vcpu import VCPU

DomId = NewType("DomId", int)

DOMID_FIRST_RESERVED = 0x7FF0
DOMID_SELF = 0x7FF0
DOMID_IO = 0x7FF1
DOMID_XEN = 0x7FF2
DOMID_IDLE = 0x7FFF


class ShutdownReason(IntEnum):
    """public/sched.h SHUTDOWN_*."""

    POWEROFF = 0
    REBOOT = 1
    SUSPEND = 2
    CRASH = 3
    WATCHDOG = 4
    SOFT_RESET = 5


class DomainTotals:
    """What the host's domain table adds up over its domains: the memory they hold and
    how many of them carry each UUID.  Each domain in the table updates it as its
    reservation or UUID changes, so free memory and the UUIDs in use are known without
    a walk over every domain (NOTE: for speed at thousands of domains, see benchmarks/)."""

    __slots__ = ("memory_kib", "uuids")

    def __init__(self) -> None:
        self.memory_kib = 0
        self.uuids: Counter[str] = Counter()
        """Domains per UUID (a restore may give two domains one UUID)."""

    def add(self, d: Domain) -> None:
        """*d* joins the table."""
        d.totals = self
        self.memory_kib += d.memory_kib
        self.uuids[d.handle] += 1

    def remove(self, d: Domain) -> None:
        """*d* leaves the table."""
        self.memory_kib -= d.memory_kib
        self._drop_uuid(d.handle)
        d.totals = None

    def rename(self, old: str, new: str) -> None:
        """A domain in the table takes another UUID."""
        self._drop_uuid(old)
        self.uuids[new] += 1

    def _drop_uuid(self, uuid: str) -> None:
        self.uuids[uuid] -= 1
        if not self.uuids[uuid]:
            del self.uuids[uuid]


class Domain:
    __slots__ = ("domid", "name", "vcpus", "pause_count", "is_privileged", "is_dying",
                 "is_shutdown", "shutdown_code", "sched_priv", "pool", "_memory_kib",
                 "totals", "max_memory_kib", "create_time", "_handle", "evtchn", "grant_table",
                 "hypercall_counts", "vmexit_counts", "denied", "guest_type", "hvm", "info",
                 "__weakref__")

    def __init__(self, domid: int, name: str, *, privileged: bool = False,
                 memory_kib: int = 0, guest_type: str = "pv") -> None:
        self.domid = domid
        self.name = name
        self.vcpus: list[VCPU] = []
        self.pause_count = 0
        """Domain-wide pause (toolstack pause, domain build, shutdown)."""
        self.is_privileged = privileged
        self.is_dying = False
        self.is_shutdown = False
        self.shutdown_code: ShutdownReason | None = None
        self.sched_priv: Any = None
        self.pool: Cpupool = None  # type: ignore[assignment]
        self._memory_kib = memory_kib
        self.totals: DomainTotals | None = None
        """The host's domain-table totals while the domain is in its table."""
        self.max_memory_kib = memory_kib
        self.create_time = 0
        self._handle = ""
        self.evtchn: Any = None
        self.grant_table: Any = None
        self.hypercall_counts: dict[str, int] = {}
        self.vmexit_counts: dict[str, int] = {}
        """VM exits by reason name (HVM and PVH guests only)."""
        self.denied = 0
        """Operations refused for lack of privilege (hostile guests count up here)."""
        self.guest_type = guest_type
        self.hvm: Any = None
        """The domain's :class:`~xensim.hypervisor.hvm.domain.HvmDomain` (HVM/PVH only)."""
        self.info: dict[str, Any] = {}

    @property
    def memory_kib(self) -> int:
        """The domain's current reservation (``tot_pages`` in KiB)."""
        return self._memory_kib

    @memory_kib.setter
    def memory_kib(self, kib: int) -> None:
        if self.totals is not None:
            self.totals.memory_kib += kib - self._memory_kib
        self._memory_kib = kib

    @property
    def handle(self) -> str:
        """The domain's UUID (xl prints it in ``list -v``)."""
        return self._handle

    @handle.setter
    def handle(self, handle: str) -> None:
        if self.totals is not None:
            self.totals.rename(self._handle, handle)
        self._handle = handle

    @property
    def max_vcpus(self) -> int:
        return len(self.vcpus)

    def __repr__(self) -> str:
        return f"d{self.domid}({self.name})"

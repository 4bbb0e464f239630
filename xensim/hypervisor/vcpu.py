"""Virtual CPUs: runstate accounting and the work a vCPU is executing.

Mirrors: xen/common/sched/core.c (vcpu_runstate_change, vcpu_runnable) and
xen/include/public/vcpu.h (RUNSTATE_*).  A vCPU is *runnable* when nothing
holds it back: no pause flag (blocked, down, migrating), no per-vCPU pause
count (credit parks capped vCPUs that way) and no domain-wide pause.

What a running vCPU executes is a single piece of *work*: ``work_left`` ns of
execution and a continuation to call when it is done.  The scheduler core
advances the work only while the vCPU holds a pCPU, which is how I/O latency
and PV/HVM overheads emerge instead of being looked up.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import IntEnum
from typing import TYPE_CHECKING, Any, Final

from xensim.hypervisor.time import SimTime

if TYPE_CHECKING:
    from xensim.hypervisor.domain import Domain
    from xensim.hypervisor.pcpu import PCPU
    from xensim.hypervisor.timer import Timer


class RunState(IntEnum):
    """xen/include/public/vcpu.h: RUNSTATE_running .. RUNSTATE_offline."""

    RUNNING = 0
    RUNNABLE = 1
    BLOCKED = 2
    OFFLINE = 3


class PauseFlag:
    """The ``_VPF_*`` bits of ``v->pause_flags`` that xensim models.

    Plain ints rather than an IntFlag: these are tested on every scheduling
    decision, and enum arithmetic costs several times more (see benchmarks/).
    """

    BLOCKED: Final = 1
    DOWN: Final = 2
    MIGRATING: Final = 4
    BLOCKED_IN_XEN: Final = 8
    """Waiting inside Xen for a device model's answer (``_VPF_blocked_in_xen``)."""


WorkDone = Callable[[], None]


class VCPU:
    """One virtual CPU (Xen's ``struct vcpu`` plus its ``sched_unit``)."""

    __slots__ = (
        "domain", "vcpu_id", "is_idle", "processor", "is_running",
        "runstate", "state_entry_time", "runstate_time",
        "pause_flags", "pause_count", "hard_affinity", "soft_affinity", "sched_priv",
        "work_left", "work_done", "work_kind", "run_start", "kind_ns",
        "wake_time", "wake_latencies", "singleshot", "poll_evtchn",
        "upcall_pending", "guest", "last_pcpu_id", "nr_switches", "nr_migrations",
    )

    def __init__(self, domain: Domain, vcpu_id: int, processor: PCPU, *,
                 is_idle: bool = False) -> None:
        self.domain = domain
        self.vcpu_id = vcpu_id
        self.is_idle = is_idle
        self.processor: PCPU = processor
        """The pCPU this vCPU runs or queues on (Xen's ``v->processor``)."""
        self.is_running = False
        self.runstate = RunState.OFFLINE
        self.state_entry_time: SimTime = 0
        self.runstate_time: list[int] = [0, 0, 0, 0]
        self.pause_flags = 0
        """A bit set of :class:`PauseFlag` values."""
        self.pause_count = 0
        self.hard_affinity: frozenset[int] = frozenset()
        self.soft_affinity: frozenset[int] | None = None
        self.sched_priv: Any = None
        """The policy's private per-vCPU data (credit's ``csched_unit``...)."""
        self.work_left: SimTime = 0
        self.work_done: WorkDone | None = None
        self.work_kind = "guest"
        self.run_start: SimTime = 0
        """When the current work started to progress (after the switch cost)."""
        self.kind_ns: dict[str, int] = {}
        """Execution time by kind of work: guest, hypervisor, kernel..."""
        self.wake_time: SimTime = -1
        self.wake_latencies: list[int] = []
        self.singleshot: Timer | None = None
        self.poll_evtchn = None
        self.upcall_pending = False
        self.guest: Any = None
        """The guest-OS model driving this vCPU (see :mod:`xensim.domains.guest.guest_vcpu`)."""
        self.last_pcpu_id = -1
        self.nr_switches = 0
        self.nr_migrations = 0

    def __repr__(self) -> str:
        return "idle%d" % self.processor.cpu_id if self.is_idle else \
            "d%dv%d" % (self.domain.domid, self.vcpu_id)

    @property
    def runnable(self) -> bool:
        """Xen's ``vcpu_runnable()``."""
        return not (self.pause_flags or self.pause_count or self.domain.pause_count)

    def runstate_change(self, new: RunState, now: SimTime) -> None:
        """The one function that changes a runstate, accounting the time spent."""
        delta = now - self.state_entry_time
        if delta > 0:
            self.runstate_time[self.runstate] += delta
        self.runstate = new
        self.state_entry_time = now

    def runstate_snapshot(self, now: SimTime) -> list[int]:
        """Time in each runstate up to *now*, without changing anything."""
        times = list(self.runstate_time)
        times[self.runstate] += now - self.state_entry_time
        return times

    def effective_affinity(self, pool_cpus: frozenset[int]) -> frozenset[int]:
        """Hard affinity within the pCPUs of the vCPU's pool."""
        return self.hard_affinity & pool_cpus

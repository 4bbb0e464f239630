"""Physical CPUs: what runs there now and the per-pCPU timers of the core.

Mirrors: Xen's ``struct sched_resource`` (curr, s_timer) with its idle vCPU.
Scheduling is triggered by a SCHEDULE_SOFTIRQ, which xensim turns into a
zero-delay event coalesced per pCPU, so many wake-ups in one instant cost one
decision.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from xensim.hypervisor.cpupool import Cpupool
    from xensim.hypervisor.timer import Timer
    from xensim.hypervisor.vcpu import VCPU


class PCPU:
    __slots__ = ("cpu_id", "curr", "idle", "pool", "s_timer", "work_timer",
                 "softirq_pending", "sched_priv", "last_guest", "online")

    def __init__(self, cpu_id: int) -> None:
        self.cpu_id = cpu_id
        self.curr: VCPU = None  # type: ignore[assignment]  # set when the idle vCPU exists
        self.idle: VCPU = None  # type: ignore[assignment]
        self.pool: Cpupool | None = None
        self.s_timer: Timer = None  # type: ignore[assignment]
        """Ends the current slice (Xen's ``sr->s_timer``)."""
        self.work_timer: Timer = None  # type: ignore[assignment]
        """Fires when the running vCPU's current piece of work completes."""
        self.softirq_pending = False
        self.sched_priv: Any = None
        self.last_guest: VCPU | None = None
        """Whose state is loaded (lazy context switch through the idle vCPU)."""
        self.online = True

    def __repr__(self) -> str:
        return f"cpu{self.cpu_id}"

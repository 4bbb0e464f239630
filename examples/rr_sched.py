"""A researcher's own policy: global round robin with a fixed quantum.

This file is the worked example for "bring your own scheduler".  It is not
part of xensim; it plugs in from outside, unmodified, by naming it:

    [host]
    scheduler = "examples/rr_sched.py:RoundRobinScheduler"   # a file path
    # or "mypkg.rr_sched:RoundRobinScheduler" if it is importable

    xensim run scenario.toml
    Host(scheduler="examples/rr_sched.py:RoundRobinScheduler")

The policy keeps one FIFO of runnable vCPUs for the whole pool.  Every
decision puts the running vCPU (if still runnable) at the tail and takes the
first queued vCPU allowed on this pCPU for one quantum.  A wake appends to
the FIFO and tickles an idle pCPU the vCPU may use.  No priorities, no
weights: the simplest fair policy, a baseline to compare Xen's against.
The six mandatory hooks are all it needs; ``adjust_global`` adds a
``quantum_ms`` parameter (``[host.sched] quantum_ms = 5``).
"""

from __future__ import annotations

from collections import deque
from typing import Any

from xensim.hypervisor.sched import Scheduler, register_scheduler
from xensim.hypervisor.sched.ops import SchedParamError
from xensim.hypervisor.time import MILLISECS


@register_scheduler
class RoundRobinScheduler(Scheduler):
    name = "rr"
    long_name = "Round robin (example policy)"

    def __init__(self, core, pool, **params: Any) -> None:  # type: ignore[no-untyped-def]
        self.queue: deque = deque()
        self.quantum = MILLISECS(10)
        super().__init__(core, pool, **params)

    def adjust_global(self, params: dict[str, Any] | None = None) -> dict[str, Any]:
        if params:
            unknown = set(params) - {"quantum_ms"}
            if unknown:
                raise SchedParamError(f"unknown rr parameter(s) {sorted(unknown)}; known: "
                                      "quantum_ms")
            quantum = float(params["quantum_ms"])
            if not 0.1 <= quantum <= 1000:
                raise SchedParamError(f"quantum_ms must be in 0.1..1000, got {quantum}")
            self.quantum = MILLISECS(quantum)
        return {"quantum_ms": self.quantum / 1e6}

    def _allowed(self, v) -> frozenset[int]:  # type: ignore[no-untyped-def]
        return v.hard_affinity & self.pool.cpu_ids

    def pick_cpu(self, vcpu):  # type: ignore[no-untyped-def]
        allowed = self._allowed(vcpu)
        if vcpu.processor.cpu_id in allowed:
            return vcpu.processor
        return self.core.hyp.pcpus[min(allowed)]

    def insert(self, vcpu) -> None:  # type: ignore[no-untyped-def]
        vcpu.processor = self.pick_cpu(vcpu)
        if vcpu.runnable and not vcpu.is_running:
            self.wake(vcpu)

    def remove(self, vcpu) -> None:  # type: ignore[no-untyped-def]
        if vcpu in self.queue:
            self.queue.remove(vcpu)

    def sleep(self, vcpu) -> None:  # type: ignore[no-untyped-def]
        if vcpu.processor.curr is vcpu:
            self.core.raise_softirq(vcpu.processor)
        elif vcpu in self.queue:
            self.queue.remove(vcpu)

    def wake(self, vcpu) -> None:  # type: ignore[no-untyped-def]
        if vcpu.processor.curr is vcpu or vcpu in self.queue:
            return
        self.queue.append(vcpu)
        for pcpu in self.pool.pcpus:
            if pcpu.curr.is_idle and pcpu.cpu_id in self._allowed(vcpu):
                self.core.raise_softirq(pcpu)
                return

    def do_schedule(self, pcpu, now):  # type: ignore[no-untyped-def]
        prev = pcpu.curr
        if not prev.is_idle and prev.runnable:
            self.queue.append(prev)
        for v in self.queue:
            if pcpu.cpu_id in self._allowed(v):
                self.queue.remove(v)
                v.processor = pcpu
                return v, self.quantum
        return pcpu.idle, -1

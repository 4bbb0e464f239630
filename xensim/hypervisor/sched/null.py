"""The null scheduler: each vCPU owns one pCPU, statically, and nothing else runs there.

Mirrors: xen/common/sched/null.c (pick_res, unit_assign, unit_deassign,
null_unit_insert, null_unit_remove, null_unit_wake, null_unit_sleep,
null_unit_migrate, null_schedule).  Simplified: no locking, so none of
null.c's trylock/retry dances; topology plays no part (null.c ignores it).

What it is for.  Static partitioning (embedded, HPC, a cpupool of pinned
guests) with the least scheduling overhead: ``do_schedule`` returns the
vCPU assigned to the pCPU if it is runnable, else the idle vCPU, and never
arms a slice timer.  A blocked vCPU therefore leaves its pCPU idle: no one
else may use it.

Assignment happens only when a vCPU is inserted (or migrated by a
``vcpu-pin``): its current pCPU if that is free and in its affinity, else the
first free pCPU of its soft-then-hard affinity.  When no pCPU is free the
vCPU waits, unassigned and never running, in the scheduler-wide
*waitqueue*; when an assigned vCPU goes away (its domain is destroyed, it
is offlined or moved) the freed pCPU takes the first waiting vCPU whose
affinity allows it, preferring soft affinity, as ``unit_deassign`` does.

Departure from Xen: xensim's core has no ``migrate`` hook, so the work of
``null_unit_migrate`` is done in :meth:`NullScheduler.pick_cpu` when the vCPU
is flagged MIGRATING (the only time the core calls it for an inserted vCPU).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from xensim.hypervisor.sched.affinity import balance_steps, has_soft_affinity
from xensim.hypervisor.sched.ops import Scheduler, register_scheduler
from xensim.hypervisor.vcpu import PauseFlag

if TYPE_CHECKING:
    from xensim.hypervisor.cpupool import Cpupool
    from xensim.hypervisor.pcpu import PCPU
    from xensim.hypervisor.sched.core import SchedCore
    from xensim.hypervisor.time import SimTime
    from xensim.hypervisor.vcpu import VCPU


@dataclass(slots=True, eq=False)
class NullPcpu:
    unit: VCPU | None = None
    """The vCPU assigned to this pCPU (Xen's ``npc->unit``)."""


@dataclass(slots=True, eq=False)
class NullUnit:
    vcpu: VCPU
    in_waitq: bool = False


def _online(v: VCPU) -> bool:
    return not v.pause_flags & PauseFlag.DOWN


@register_scheduler
class NullScheduler(Scheduler):
    name = "null"
    long_name = "null Scheduler"
    sched_id = 9

    def __init__(self, core: SchedCore, pool: Cpupool, **params: Any) -> None:
        self.cpus_free: set[int] = set()
        self.waitq: list[NullUnit] = []
        self.rng = random.Random(f"{core.hyp.seed}:null:{pool.name}")
        """cpumask_any()'s randomness, seeded by the host so runs repeat."""
        super().__init__(core, pool, **params)

    # --- life cycle ---------------------------------------------------------------------
    def init_pdata(self, pcpu: PCPU) -> None:
        pcpu.sched_priv = NullPcpu()
        self.cpus_free.add(pcpu.cpu_id)
        if self.waitq:
            self.core.raise_softirq(pcpu)  # null_schedule picks from the waitqueue

    def deinit_pdata(self, pcpu: PCPU) -> None:
        # No unit is assigned here any more: the hypervisor has migrated every vCPU
        # off the leaving pCPU first (null_unit_migrate), as Xen does.
        self.cpus_free.discard(pcpu.cpu_id)
        pcpu.sched_priv = None

    def alloc_vdata(self, vcpu: VCPU) -> NullUnit:
        return NullUnit(vcpu)

    # --- assignment -----------------------------------------------------------------------
    def _npc(self, cpu: int) -> NullPcpu:
        return self.core.hyp.pcpus[cpu].sched_priv  # type: ignore[no-any-return]

    def _pick_res(self, v: VCPU) -> int:
        cpu = v.processor.cpu_id
        for mask in balance_steps(v, self.pool.cpu_ids):
            if cpu in mask and self._npc(cpu).unit in (None, v):
                return cpu
            free = mask & self.cpus_free
            if free:
                return min(free)
        # Nothing free: cpumask_any(), a random valid pCPU (from the host's seeded RNG);
        # the vCPU is assigned there only if it is free, else it waits.
        hard = sorted(v.hard_affinity & self.pool.cpu_ids)
        return hard[self.rng.randrange(len(hard))]

    def _assign(self, v: VCPU, cpu: int) -> None:
        self._npc(cpu).unit = v
        v.processor = self.core.hyp.pcpus[cpu]
        self.cpus_free.discard(cpu)
        self._trace("null_assign", v, cpu)

    def _waitq_add(self, nvc: NullUnit) -> None:
        if not nvc.in_waitq:
            nvc.in_waitq = True
            self.waitq.append(nvc)
            self._trace("null_waitq", nvc.vcpu, -1)

    def _waitq_del(self, nvc: NullUnit) -> None:
        if nvc.in_waitq:
            nvc.in_waitq = False
            self.waitq.remove(nvc)

    def _waitq_take(self, cpu: int) -> VCPU | None:
        """The first waiting vCPU that may run on *cpu*, soft affinity first."""
        for step in (0, 1):
            for nvc in self.waitq:
                v = nvc.vcpu
                has_soft = has_soft_affinity(v, self.pool.cpu_ids)
                if step == 0 and not has_soft:
                    continue
                mask = balance_steps(v, self.pool.cpu_ids)[0 if step == 0 else -1]
                if cpu in mask:
                    self._waitq_del(nvc)
                    return v
        return None

    def _deassign(self, v: VCPU) -> bool:
        """*v* leaves its pCPU; hand the pCPU to a waiting vCPU. True if one was tickled."""
        cpu = v.processor.cpu_id
        self._npc(cpu).unit = None
        self.cpus_free.add(cpu)
        self._trace("null_deassign", v, cpu)
        w = self._waitq_take(cpu)
        if w is None:
            return False
        self._assign(w, cpu)
        self.core.raise_softirq(self.core.hyp.pcpus[cpu])
        return True

    # --- required hooks ---------------------------------------------------------------------
    def insert(self, vcpu: VCPU) -> None:
        if not _online(vcpu):
            return
        cpu = self._pick_res(vcpu)
        vcpu.processor = self.core.hyp.pcpus[cpu]
        if self._npc(cpu).unit is None:
            self._assign(vcpu, cpu)  # the wake that follows pokes the pCPU
        else:
            self._waitq_add(vcpu.sched_priv)

    def remove(self, vcpu: VCPU) -> None:
        nvc: NullUnit = vcpu.sched_priv
        if nvc.in_waitq:
            self._waitq_del(nvc)
        elif self._npc(vcpu.processor.cpu_id).unit is vcpu:
            self._deassign(vcpu)

    def sleep(self, vcpu: VCPU) -> None:
        nvc: NullUnit = vcpu.sched_priv
        tickled = False
        if not _online(vcpu):  # being offlined: give up the pCPU or the waitqueue slot
            if nvc.in_waitq:
                self._waitq_del(nvc)
            elif self._npc(vcpu.processor.cpu_id).unit is vcpu:
                tickled = self._deassign(vcpu)
        if not tickled and vcpu.processor.curr is vcpu:
            self.core.raise_softirq(vcpu.processor)

    def wake(self, vcpu: VCPU) -> None:
        pcpu = vcpu.processor
        nvc: NullUnit = vcpu.sched_priv
        if pcpu.curr is vcpu or nvc.in_waitq:
            return
        npc = self._npc(pcpu.cpu_id)
        if npc.unit is vcpu:
            self.core.raise_softirq(pcpu)
            return
        # Neither assigned nor waiting: it was offline and comes back.
        cpu = pcpu.cpu_id
        ids = self.pool.cpu_ids
        if npc.unit is None and cpu in vcpu.hard_affinity & ids and (
                not has_soft_affinity(vcpu, ids) or cpu in balance_steps(vcpu, ids)[0]):
            self._assign(vcpu, cpu)
            self.core.raise_softirq(pcpu)
            return
        self._waitq_add(nvc)
        for c in sorted(vcpu.hard_affinity & ids & self.cpus_free):
            self.core.raise_softirq(self.core.hyp.pcpus[c])

    def pick_cpu(self, vcpu: VCPU) -> PCPU:
        cpu = self._pick_res(vcpu)
        if vcpu.pause_flags & PauseFlag.MIGRATING:
            self._migrate(vcpu, cpu)
        return self.core.hyp.pcpus[cpu]

    def _migrate(self, v: VCPU, new_cpu: int) -> None:
        """null_unit_migrate: leave the old pCPU, take *new_cpu* if free, else wait."""
        if v.processor.cpu_id == new_cpu:
            return
        nvc: NullUnit = v.sched_priv
        if self._npc(v.processor.cpu_id).unit is v:
            self._deassign(v)
        if not _online(v):
            self._waitq_del(nvc)
        elif self._npc(new_cpu).unit is None and new_cpu in v.hard_affinity:
            self._waitq_del(nvc)
            self._assign(v, new_cpu)
        else:
            self._waitq_add(nvc)
        v.processor = self.core.hyp.pcpus[new_cpu]

    def do_schedule(self, pcpu: PCPU, now: SimTime) -> tuple[VCPU, SimTime]:
        npc: NullPcpu = pcpu.sched_priv
        nxt = npc.unit
        if nxt is None:
            # New in the pool, or freed: adopt a waiting vCPU if one fits.
            nxt = self._waitq_take(pcpu.cpu_id)
            if nxt is not None:
                self._assign(nxt, pcpu.cpu_id)
            else:
                self.cpus_free.add(pcpu.cpu_id)
        if nxt is None or not nxt.runnable:
            return pcpu.idle, -1
        return nxt, -1

    # --- debug ------------------------------------------------------------------------------
    def _trace(self, event: str, v: VCPU, cpu: int) -> None:
        if self.core.trace.enabled:
            self.core.trace.emit(self.core.now, cpu, event, v.domain.domid, v.vcpu_id)

    def dump(self) -> str:
        lines = [f"Scheduler: {self.long_name} ({self.name})",
                 "\tcpus_free = " + ",".join(str(c) for c in sorted(self.cpus_free))]
        for pcpu in self.pool.pcpus:
            unit = pcpu.sched_priv.unit
            lines.append(f"CPU[{pcpu.cpu_id:02d}]" + (f", unit={unit}" if unit else ""))
        lines.append("Waitqueue: " + ", ".join(repr(n.vcpu) for n in self.waitq))
        return "\n".join(lines) + "\n"

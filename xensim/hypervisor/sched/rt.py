"""RTDS: global EDF over per-vCPU deferrable servers (real-time deferrable server).

Mirrors: xen/common/sched/rt.c (burn_budget, rt_update_deadline, runq_pick,
rt_schedule, runq_tickle, rt_unit_wake, rt_unit_sleep, rt_context_saved,
repl_timer_handler, rt_validate_params, rt_dom_cntl).  Simplified: no
locking; a context switch completes inside ``do_schedule``, so the work of
``rt_context_saved`` (re-queueing the descheduled vCPU and tickling for it,
or dropping its replenishment event if it blocked) is done there, and a unit
never wakes before its context is saved (rt_unit_wake's ``delayed_runq_add``
case, which keeps its replenishment event, does not arise); ``sleep``
takes every unit that stops being runnable off the queues, so ``do_schedule``
never meets one there (rt_schedule's loop dropping them has nothing to do);
time comes from one clock, so burn_budget's guard for a negative delta (nested
virtualisation) is not needed; rt.c's SCHED_STAT counters are not kept.

How it shares a host.  Each vCPU is a server with a *period* and a *budget*
(defaults 10000 µs / 4000 µs).  Deadlines fall at multiples of the period
counted from time 0 (``rt_update_deadline`` steps ``cur_deadline`` from 0),
and at each deadline a replenishment timer refills the budget.  A running
vCPU burns budget in nanoseconds; a blocked one keeps what it has (a
*deferrable* server) until its deadline passes.  Runnable vCPUs with budget
wait in one pool-wide run queue ordered by (priority level, deadline), out
of budget in the unordered depleted queue.  Every pCPU runs the earliest
deadline it may run (global EDF), for at most the remaining budget.  A
waking or re-queued vCPU tickles an idle pCPU of its affinity, or else the
pCPU running the latest-deadline vCPU if it has an earlier deadline.

``extratime`` (on by default, as ``rt_alloc_udata`` sets it): a vCPU that
exhausts its budget is refilled at once but demoted one priority level, so
it runs only when no vCPU of a higher level wants the pCPU (i.e. in idle
time), and its level returns to 0 at its next deadline.

Both queues are kept as rt.c keeps them: ``deadline_queue_insert`` scans
from the head and inserts before the first unit of lower priority (level,
then deadline), so a unit's place is fixed when it is inserted even if its
level changes later.  The replenishment queue uses that same order, so a
unit queued while demoted (woken during its extra time) sits behind level-0
units with later deadlines, and its replenishment waits for theirs.

Departures from Xen: admission control, which recent rt.c (not Xen 4.19) adds
and enables by default, is not modelled, so overload is possible as in
released Xen; the domain-wide ``getinfo`` returns vCPU 0's parameters, not
the defaults.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from xensim.hypervisor.sched.affinity import cpumask_cycle, cycle_order
from xensim.hypervisor.sched.ops import SchedParamError, Scheduler, register_scheduler
from xensim.hypervisor.time import MICROSECS, STIME_MAX

if TYPE_CHECKING:
    from xensim.hypervisor.cpupool import Cpupool
    from xensim.hypervisor.domain import Domain
    from xensim.hypervisor.pcpu import PCPU
    from xensim.hypervisor.sched.core import SchedCore
    from xensim.hypervisor.time import SimTime
    from xensim.hypervisor.vcpu import VCPU

RTDS_DEFAULT_PERIOD = MICROSECS(10000)
RTDS_DEFAULT_BUDGET = MICROSECS(4000)
RTDS_MIN_PERIOD = MICROSECS(10)
RTDS_MAX_PERIOD = STIME_MAX  # STIME_DELTA_MAX
RTDS_MIN_BUDGET = MICROSECS(10)


@dataclass(slots=True, eq=False)
class RtUnit:
    vcpu: VCPU
    period: SimTime = RTDS_DEFAULT_PERIOD
    budget: SimTime = RTDS_DEFAULT_BUDGET
    extratime: bool = True
    cur_budget: SimTime = 0
    cur_deadline: SimTime = 0
    last_start: SimTime = 0
    priority_level: int = 0
    depleted: bool = False
    on_q: bool = False
    """On the run queue or the depleted queue."""
    on_replq: bool = False


@dataclass(slots=True, eq=False)
class RtPcpu:
    curr: RtUnit | None = None
    """What ``do_schedule`` last chose here (None: the idle vCPU)."""


def _key(svc: RtUnit) -> tuple[int, SimTime]:
    """EDF order, smaller first (``compare_unit_priority``): level, then deadline."""
    return (svc.priority_level, svc.cur_deadline)


def _deadline_queue_insert(queue: list[RtUnit], svc: RtUnit) -> bool:
    """deadline_queue_insert: before the first unit *svc* outranks (FIFO among equals,
    by the keys as they are now); True if it went to the front."""
    key = _key(svc)
    for i, other in enumerate(queue):
        if key < _key(other):
            queue.insert(i, svc)
            return i == 0
    queue.append(svc)
    return not queue[:-1]


@register_scheduler
class RTDSScheduler(Scheduler):
    name = "rtds"
    long_name = "SMP RTDS Scheduler"
    sched_id = 8

    def __init__(self, core: SchedCore, pool: Cpupool, **params: Any) -> None:
        self.runq: list[RtUnit] = []
        self.depletedq: list[RtUnit] = []
        self.replq: list[RtUnit] = []
        self.tickled: set[int] = set()
        self.repl_timer = core.new_timer(self._repl_timer_handler)
        super().__init__(core, pool, **params)

    # --- life cycle ---------------------------------------------------------------------
    def init_pdata(self, pcpu: PCPU) -> None:
        pcpu.sched_priv = RtPcpu()

    def deinit_pdata(self, pcpu: PCPU) -> None:
        self.tickled.discard(pcpu.cpu_id)
        pcpu.sched_priv = None

    def alloc_vdata(self, vcpu: VCPU) -> RtUnit:
        return RtUnit(vcpu)

    def insert(self, vcpu: VCPU) -> None:
        svc: RtUnit = vcpu.sched_priv
        vcpu.processor = self.pick_cpu(vcpu)
        now = self.core.now
        if now >= svc.cur_deadline:
            self._update_deadline(now, svc)
        if not svc.on_q and vcpu.runnable:
            self._replq_insert(svc)
            if not vcpu.is_running:
                self._runq_insert(svc)

    def remove(self, vcpu: VCPU) -> None:
        svc: RtUnit = vcpu.sched_priv
        if svc.on_q:
            self._q_remove(svc)
        if svc.on_replq:
            self._replq_remove(svc)

    # --- parameters ---------------------------------------------------------------------
    @staticmethod
    def _validate(period_us: Any, budget_us: Any) -> tuple[SimTime, SimTime]:
        """rt_validate_params: -EINVAL unless 10 µs <= budget <= period."""
        try:
            p, b = MICROSECS(int(period_us)), MICROSECS(int(budget_us))
        except (TypeError, ValueError):
            raise SchedParamError(f"period and budget must be integers (µs), got "
                                  f"{period_us!r}, {budget_us!r}") from None
        if not RTDS_MIN_PERIOD <= p <= RTDS_MAX_PERIOD:
            raise SchedParamError(f"period must be at least {RTDS_MIN_PERIOD // 1000} us, "
                                  f"got {period_us}")
        if b < RTDS_MIN_BUDGET:
            raise SchedParamError(f"budget must be at least {RTDS_MIN_BUDGET // 1000} us, "
                                  f"got {budget_us}")
        if b > p:
            raise SchedParamError(f"budget ({budget_us} us) must not exceed period "
                                  f"({period_us} us)")
        return p, b

    def _set_params(self, svcs: list[RtUnit], params: dict[str, Any]) -> None:
        unknown = set(params) - {"period", "budget", "extratime"}
        if unknown:
            raise SchedParamError(f"unknown rtds parameter(s) {sorted(unknown)}; known: "
                                  "period, budget, extratime")
        first = svcs[0]
        period, budget = first.period, first.budget
        if "period" in params or "budget" in params:
            period, budget = self._validate(params.get("period", first.period // 1000),
                                            params.get("budget", first.budget // 1000))
        extra = params.get("extratime")
        for svc in svcs:
            svc.period, svc.budget = period, budget
            if extra is not None:
                # rt_dom_cntl only sets or clears the flag: a depleted unit waits for
                # its replenishment even when extratime is turned on.
                svc.extratime = bool(extra)

    @staticmethod
    def _get_params(svc: RtUnit) -> dict[str, Any]:
        return {"period": svc.period // 1000, "budget": svc.budget // 1000,
                "extratime": int(svc.extratime)}

    def adjust(self, dom: Domain, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """Every vCPU of *dom* gets the same ``period``/``budget`` (µs) and ``extratime``."""
        svcs = [v.sched_priv for v in dom.vcpus]
        if params:
            self._set_params(svcs, params)
        return self._get_params(svcs[0])

    def adjust_vcpu(self, vcpu: VCPU, params: dict[str, Any] | None = None) -> dict[str, Any]:
        if params:
            self._set_params([vcpu.sched_priv], params)
        return self._get_params(vcpu.sched_priv)

    # --- budget and deadlines -------------------------------------------------------------
    def _update_deadline(self, now: SimTime, svc: RtUnit) -> None:
        """rt_update_deadline: the first deadline after *now*, a full budget, level 0."""
        if svc.cur_deadline <= now:
            count = (now - svc.cur_deadline) // svc.period + 1
            svc.cur_deadline += count * svc.period
        svc.last_start = now
        svc.cur_budget = svc.budget
        svc.priority_level = 0

    def _burn_budget(self, svc: RtUnit, now: SimTime) -> None:
        """burn_budget, in nanoseconds (with one clock, ``now`` is never behind
        ``last_start``: rt.c's guard for a negative delta has nothing to catch)."""
        svc.cur_budget -= now - svc.last_start
        svc.last_start = now
        if svc.cur_budget <= 0:
            if svc.extratime:
                svc.priority_level += 1
                svc.cur_budget = svc.budget
            else:
                svc.cur_budget = 0
                svc.depleted = True

    # --- queues ---------------------------------------------------------------------------
    def _runq_insert(self, svc: RtUnit) -> None:
        svc.on_q = True
        if svc.cur_budget > 0 or svc.extratime:
            _deadline_queue_insert(self.runq, svc)
        else:
            self.depletedq.insert(0, svc)  # list_add: at the head

    def _q_remove(self, svc: RtUnit) -> None:
        svc.on_q = False
        if svc in self.runq:
            self.runq.remove(svc)
        else:
            self.depletedq.remove(svc)

    def _replq_insert(self, svc: RtUnit) -> None:
        svc.on_replq = True
        if _deadline_queue_insert(self.replq, svc):
            self.repl_timer.set(svc.cur_deadline)

    def _replq_remove(self, svc: RtUnit) -> None:
        svc.on_replq = False
        first = self.replq[0] is svc
        self.replq.remove(svc)
        if first:
            if self.replq:
                self.repl_timer.set(self.replq[0].cur_deadline)
            else:
                self.repl_timer.stop()

    def _repl_timer_handler(self) -> None:
        """Replenish every vCPU whose deadline has come, then tickle for them."""
        now = self.core.now
        done: list[RtUnit] = []
        while self.replq and self.replq[0].cur_deadline <= now:
            svc = self.replq.pop(0)
            self._update_deadline(now, svc)
            done.append(svc)
            if svc.on_q:
                self._q_remove(svc)
                self._runq_insert(svc)
        for svc in reversed(done):  # rt.c builds its temporary list with list_add
            if self._running(svc) and self.runq:
                nxt = self.runq[0]
                if _key(svc) > _key(nxt):
                    self._tickle(nxt)
            elif svc.depleted and svc.on_q:
                svc.depleted = False
                self._tickle(svc)
            _deadline_queue_insert(self.replq, svc)
        if self.replq:
            self.repl_timer.set(self.replq[0].cur_deadline)

    def _running(self, svc: RtUnit) -> bool:
        spc: RtPcpu | None = svc.vcpu.processor.sched_priv
        return spc is not None and spc.curr is svc

    # --- placement and tickling -----------------------------------------------------------
    def pick_cpu(self, vcpu: VCPU) -> PCPU:
        cpus = vcpu.hard_affinity & self.pool.cpu_ids
        cpu = vcpu.processor.cpu_id
        if cpu not in cpus:
            cpu = cpumask_cycle(cpu, cpus)
        return self.core.hyp.pcpus[cpu]

    def _tickle(self, new: RtUnit) -> None:
        """runq_tickle: an idle pCPU of *new*'s affinity, else the latest deadline if later."""
        v = new.vcpu
        not_tickled = (v.hard_affinity & self.pool.cpu_ids) - self.tickled
        if not not_tickled:
            return
        latest: RtUnit | None = None
        target = -1
        pcpus = self.core.hyp.pcpus
        for cpu in cycle_order(v.processor.cpu_id, not_tickled):
            cur = pcpus[cpu].sched_priv.curr
            if cur is None:
                target = cpu
                break
            if latest is None or _key(cur) > _key(latest):
                latest = cur
        if target < 0:
            if latest is None or not _key(latest) > _key(new):
                return
            target = latest.vcpu.processor.cpu_id
        self.tickled.add(target)
        if self.core.trace.enabled:
            self.core.trace.emit(self.core.now, target, "tickle", v.domain.domid, v.vcpu_id)
        self.core.raise_softirq(pcpus[target])

    # --- sleep and wake -------------------------------------------------------------------
    def sleep(self, vcpu: VCPU) -> None:
        svc: RtUnit = vcpu.sched_priv
        if vcpu.processor.curr is vcpu:
            self.core.raise_softirq(vcpu.processor)
        elif svc.on_q:
            self._q_remove(svc)
            self._replq_remove(svc)

    def wake(self, vcpu: VCPU) -> None:
        svc: RtUnit = vcpu.sched_priv
        if vcpu.processor.curr is vcpu or svc.on_q:
            return
        now = self.core.now
        if now >= svc.cur_deadline:  # a deadline passed while it slept: new period
            self._update_deadline(now, svc)
        self._replq_insert(svc)
        self._runq_insert(svc)
        self._tickle(svc)

    # --- the decision ---------------------------------------------------------------------
    def _runq_pick(self, cpu: int) -> RtUnit | None:
        ids = self.pool.cpu_ids
        for svc in self.runq:
            if cpu in svc.vcpu.hard_affinity & ids:
                return svc
        return None

    def do_schedule(self, pcpu: PCPU, now: SimTime) -> tuple[VCPU, SimTime]:
        spc: RtPcpu = pcpu.sched_priv
        self.tickled.discard(pcpu.cpu_id)
        prev = pcpu.curr
        scurr: RtUnit | None = None if prev.is_idle else prev.sched_priv
        if scurr is not None:
            self._burn_budget(scurr, now)
        # rt_schedule drops queued units that are no longer runnable; here ``sleep``
        # has already taken every such unit off the queues.
        snext = self._runq_pick(pcpu.cpu_id)
        if (scurr is not None and prev.runnable and scurr.cur_budget > 0
                and (snext is None or _key(scurr) < _key(snext))):
            snext = scurr
        spc.curr = snext
        if snext is not None:
            snext.last_start = now
            if snext is not scurr:
                self._q_remove(snext)
                snext.vcpu.processor = pcpu
        if scurr is not None and snext is not scurr:
            # What rt_context_saved does once prev is off the pCPU.
            if prev.runnable:
                self._runq_insert(scurr)
                self._tickle(scurr)
            elif scurr.on_replq:
                self._replq_remove(scurr)
        if snext is None:
            return pcpu.idle, -1
        return snext.vcpu, snext.cur_budget

    # --- debug ----------------------------------------------------------------------------
    def dump(self) -> str:
        def unit(svc: RtUnit) -> str:
            v = svc.vcpu
            return (f"[{v.domain.domid:5d}.{v.vcpu_id:<2d}] cpu {v.processor.cpu_id}, "
                    f"({svc.period}, {svc.budget}), cur_b={svc.cur_budget} "
                    f"cur_d={svc.cur_deadline} last_start={svc.last_start} "
                    f"priority_level={svc.priority_level} has_extratime={int(svc.extratime)}")

        lines = [f"Scheduler: {self.long_name} ({self.name})"]
        for pcpu in self.pool.pcpus:
            lines.append(f"CPU[{pcpu.cpu_id:02d}]")
            if pcpu.sched_priv and pcpu.sched_priv.curr:
                lines.append("\t" + unit(pcpu.sched_priv.curr))
        lines.append("Global RunQueue info:")
        lines += ["\t" + unit(s) for s in self.runq]
        lines.append("Global DepletedQueue info:")
        lines += ["\t" + unit(s) for s in self.depletedq]
        lines.append("Global Replenishment Events info:")
        lines += ["\t" + unit(s) for s in self.replq]
        return "\n".join(lines) + "\n"

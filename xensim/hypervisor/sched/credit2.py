"""Credit2: credits burnt in proportion to weight, run queues ordered by credit.

Mirrors: xen/common/sched/credit2.c (t2c_update/burn_credits, reset_credit,
runq_insert, runq_tickle/tickle_score, runq_candidate, csched2_runtime,
csched2_schedule, csched2_context_saved, csched2_unit_wake/sleep,
unit_grab_budget/park_unit/unit_return_budget, replenish_domain_budget,
csched2_dom_cntl, cpu_add_to_runqueue, update_runq_load/update_svc_load,
csched2_res_pick, balance_load/consider/migrate).  Simplified: no locking
(so none of the trylock fall-backs); no SMT idle masks (``smt_idle``, which
only prefers fully idle cores when tickling); no core scheduling.

How it shares a host.  Every vCPU starts with CSCHED2_CREDIT_INIT (10 ms
worth of credit) and, while it runs, burns credit at ``max_weight/weight``
credits per ns (``max_weight``: the largest weight on its run queue), so a
heavier vCPU burns more slowly.  Each run queue is ordered by credit, and a
pCPU runs the vCPU with the most credit.  When the vCPU about to run (or the
head of the queue) has no credit left, an *epoch* ends: every vCPU of that
run queue gets CREDIT_INIT more, clipped to CREDIT_INIT + CARRYOVER_MAX.
Slices are not fixed: a vCPU runs until its credit falls to that of the
next in line (converted back to time by its weight), at least
CSCHED2_MIN_TIMER (500 µs) or the rate limit, at most 10 ms.  A waking vCPU
tickles an idle pCPU, or else the busy pCPU whose vCPU has the least credit
if the woken one has more (by CSCHED2_MIGRATE_RESIST, 500 µs, when that pCPU
is not its own), and if that vCPU has run past the rate limit.

Caps: a capped domain gets ``cap``% of ``credit2_cap_period_ms`` (10 ms) as
budget each period; its vCPUs grab quotas of it to run and are *parked*
(not runnable; a queued one keeps its "runnable" runstate, a running one
goes offline when switched out) when none is left, until the domain's
replenishment timer refills it.  ``runq_candidate`` skips a capped unit
that finds no budget and goes on to the next.

Run queues.  ``credit2_runqueue`` (a boot parameter, default ``socket``)
groups the pool's pCPUs by the host topology (``cpu``, ``core``, ``socket``,
``node`` or ``all``), at most ``sched_credit2_max_cpus_runqueue`` (16) pCPUs
per queue, spread evenly and never splitting a core's threads, as
``cpu_add_to_runqueue`` does: a 32-pCPU socket gets two queues of 16.

Load.  Each run queue and each vCPU keep Xen's exponentially decaying
average of their runnable count (``load_window_shift`` 30, i.e. a ~1 s
window, ``load_precision_shift`` 18 bits of fraction, both boot parameters).
``pick_cpu`` places a vCPU on the queue with the least averaged load, and at
each credit reset ``balance_load`` compares our queue with the one whose
load differs most and, past the tolerances (``credit2_balance_under``/
``_over``), pushes and/or pulls the units whose move narrows the gap most.
"""

from __future__ import annotations

from bisect import insort
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from xensim.hypervisor.cmdline import XenCmdline
from xensim.hypervisor.cpumap import cpulist
from xensim.hypervisor.sched.affinity import (
    balance_steps,
    cpumask_cycle,
    cycle_order,
    has_soft_affinity,
)
from xensim.hypervisor.sched.credit2_runq import (
    LOADAVG_GRANULARITY_SHIFT,
    decay,
    first_unused_id,
    pick_runqueue,
)
from xensim.hypervisor.sched.ops import SchedParamError, Scheduler, register_scheduler
from xensim.hypervisor.time import MICROSECS, MILLISECS, STIME_MAX
from xensim.hypervisor.vcpu import PauseFlag

if TYPE_CHECKING:
    from xensim.hypervisor.cpupool import Cpupool
    from xensim.hypervisor.domain import Domain
    from xensim.hypervisor.pcpu import PCPU
    from xensim.hypervisor.sched.core import SchedCore
    from xensim.hypervisor.time import SimTime
    from xensim.hypervisor.timer import Timer
    from xensim.hypervisor.vcpu import VCPU

CSCHED2_DEFAULT_WEIGHT = 256
CSCHED2_MIN_TIMER = MICROSECS(500)
CSCHED2_CREDIT_INIT = MILLISECS(10)
CSCHED2_CREDIT_MIN = -CSCHED2_CREDIT_INIT
CSCHED2_IDLE_CREDIT = CSCHED2_CREDIT_MIN - 1
CSCHED2_CARRYOVER_MAX = CSCHED2_MIN_TIMER
CSCHED2_MIGRATE_COMPENSATION = MICROSECS(50)
CSCHED2_RATELIMIT_TICKLE_TOLERANCE = MICROSECS(50)
CSCHED2_CREDIT_RESET = 0
CSCHED2_MAX_TIMER = CSCHED2_CREDIT_INIT
RATELIMIT_MIN_US, RATELIMIT_MAX_US = 100, 500_000
WEIGHT_MIN, WEIGHT_MAX = 1, 65535
RUNQUEUE_MODES = ("cpu", "core", "socket", "node", "all")


@dataclass(slots=True, eq=False)
class Csched2Runqueue:
    id: int
    active: set[int] = field(default_factory=set)
    runq: list[Csched2Unit] = field(default_factory=list)
    """Queued vCPUs, most credit first (FIFO among equals)."""
    svc: list[Csched2Unit] = field(default_factory=list)
    """Every vCPU assigned to this run queue, queued, running or blocked."""
    idle: set[int] = field(default_factory=set)
    tickled: set[int] = field(default_factory=set)
    max_weight: int = 1
    pick_bias: int = 0
    load: int = 0
    """Runnable units assigned here (running or queued): what the averages follow."""
    avgload: int = 0
    """Decaying average of *load*, fixed point (``load_precision_shift`` bits)."""
    b_avgload: int = 0
    """The same, plus/minus the average loads of units assigned in/out (balancing)."""
    load_last_update: int = 0


@dataclass(slots=True, eq=False)
class Csched2Dom:
    dom: Domain
    weight: int = CSCHED2_DEFAULT_WEIGHT
    cap: int = 0
    tot_budget: SimTime = 0
    budget: SimTime = 0
    next_repl: SimTime = 0
    repl_timer: Timer | None = None
    parked: list[Csched2Unit] = field(default_factory=list)
    nr_units: int = 0


@dataclass(slots=True, eq=False)
class Csched2Unit:
    vcpu: VCPU
    sdom: Csched2Dom
    weight: int
    credit: int = CSCHED2_CREDIT_INIT
    residual: int = 0
    start_time: SimTime = 0
    rqd: Csched2Runqueue | None = None
    tickled_cpu: int = -1
    budget: SimTime = STIME_MAX
    """STIME_MAX: not capped (``has_cap`` is false)."""
    budget_quota: SimTime = 0
    on_runq: bool = False
    parked: bool = False
    yielding: bool = False
    avgload: int = 0
    load_last_update: int = 0
    migrate_rqd: Csched2Runqueue | None = None
    """Where balance_load sent it while it ran (CSFLAG_runq_migrate_request)."""
    scheduled: bool = False
    """CSFLAG_scheduled: chosen to run on a pCPU, from csched2_schedule until it is
    switched out (context_saved); migrate() only marks such a unit, never moves it."""


@dataclass(slots=True, eq=False)
class Csched2Pcpu:
    rqd: Csched2Runqueue
    curr: Csched2Unit | None = None
    """What ``do_schedule`` last chose here (None: the idle vCPU)."""


def _credit_key(svc: Csched2Unit) -> int:
    return -svc.credit


def _in_soft(v: VCPU, cpu: int) -> bool:
    """``cpumask_test_cpu(cpu, cpu_soft_affinity)``: no soft affinity means all pCPUs."""
    return v.soft_affinity is None or cpu in v.soft_affinity


@register_scheduler
class Credit2Scheduler(Scheduler):
    name = "credit2"
    long_name = "SMP Credit Scheduler rev2"
    sched_id = 6

    def __init__(self, core: SchedCore, pool: Cpupool, **params: Any) -> None:
        boot: XenCmdline = core.hyp.cmdline
        self.topology = core.hyp.topology
        self.runqueue_mode = boot.credit2_runqueue
        self.max_cpus_runqueue = boot.sched_credit2_max_cpus_runqueue
        self.ratelimit = MICROSECS(boot.sched_ratelimit_us)
        self.migrate_resist = MICROSECS(boot.sched_credit2_migrate_resist)
        self.cap_period = MILLISECS(boot.credit2_cap_period_ms)
        self.load_precision_shift = boot.credit2_load_precision_shift
        self.load_window_shift = boot.credit2_load_window_shift - LOADAVG_GRANULARITY_SHIFT
        self.balance_under = boot.credit2_balance_under
        self.balance_over = boot.credit2_balance_over
        self.rqds: list[Csched2Runqueue] = []
        self.stats = {"reset": 0, "tickle": 0, "migrate": 0, "park": 0, "unpark": 0,
                      "balance": 0}
        super().__init__(core, pool, **params)

    # --- parameters ----------------------------------------------------------------------
    def adjust_global(self, params: dict[str, Any] | None = None) -> dict[str, Any]:
        if params:
            unknown = set(params) - {"ratelimit_us", "credit2_runqueue"}
            if unknown:
                raise SchedParamError(f"unknown credit2 parameter(s) {sorted(unknown)}; "
                                      "known: ratelimit_us, credit2_runqueue")
            mode = str(params.get("credit2_runqueue", self.runqueue_mode))
            if mode not in RUNQUEUE_MODES:
                raise SchedParamError(f"credit2_runqueue must be one of "
                                      f"{'|'.join(RUNQUEUE_MODES)}, got {mode!r}")
            if mode != self.runqueue_mode and self.rqds:
                raise SchedParamError("credit2_runqueue is a boot parameter: set it when "
                                      "the pool is created")
            rl = int(params.get("ratelimit_us", self.ratelimit // 1000))
            if rl and not RATELIMIT_MIN_US <= rl <= RATELIMIT_MAX_US:
                raise SchedParamError(f"ratelimit_us must be 0 or in {RATELIMIT_MIN_US}.."
                                      f"{RATELIMIT_MAX_US}, got {rl}")
            self.runqueue_mode = mode
            self.ratelimit = MICROSECS(rl)
        return {"ratelimit_us": self.ratelimit // 1000, "credit2_runqueue": self.runqueue_mode}

    def adjust(self, dom: Domain, params: dict[str, Any] | None = None) -> dict[str, Any]:
        sdom: Csched2Dom = dom.sched_priv
        if params:
            unknown = set(params) - {"weight", "cap"}
            if unknown:
                raise SchedParamError(f"unknown credit2 domain parameter(s) {sorted(unknown)};"
                                      " known: weight, cap")
            weight, cap = params.get("weight"), params.get("cap")
            if weight is not None and not WEIGHT_MIN <= int(weight) <= WEIGHT_MAX:
                raise SchedParamError(f"weight must be in {WEIGHT_MIN}..{WEIGHT_MAX}, "
                                      f"got {weight}")
            if cap is not None and not 0 <= int(cap) <= 100 * len(dom.vcpus):
                raise SchedParamError(f"cap must be in 0..{100 * len(dom.vcpus)} "
                                      f"(100 per vCPU), got {cap}")
            if weight is not None:
                self._set_weight(sdom, int(weight))
            if cap is not None:
                self._set_cap(sdom, int(cap))
        return {"weight": sdom.weight, "cap": sdom.cap}

    def _set_weight(self, sdom: Csched2Dom, weight: int) -> None:
        sdom.weight = weight
        for v in sdom.dom.vcpus:
            svc: Csched2Unit = v.sched_priv
            svc.weight = weight
            if svc.rqd is not None:
                self._update_max_weight(svc.rqd)

    def _set_cap(self, sdom: Csched2Dom, cap: int) -> None:
        units: list[Csched2Unit] = [v.sched_priv for v in sdom.dom.vcpus]
        if cap:
            sdom.tot_budget = self.cap_period * cap // 100
            quota = max(sdom.tot_budget // max(sdom.nr_units, 1), CSCHED2_MIN_TIMER)
            for svc in units:
                svc.budget_quota = quota
            if not sdom.cap:  # newly capped: start a budget period now
                now = self.core.now
                sdom.budget = sdom.tot_budget
                sdom.next_repl = now + self.cap_period
                if sdom.repl_timer is None:
                    sdom.repl_timer = self.core.new_timer(lambda: self._replenish(sdom))
                sdom.repl_timer.set(sdom.next_repl)
                for svc in units:
                    if self._running(svc):
                        # reschedule it now, so that it starts taking budget at once
                        self._burn_credits(svc, now)
                        cpu = svc.vcpu.processor.cpu_id
                        assert svc.rqd is not None
                        svc.rqd.tickled.add(cpu)
                        self.core.raise_softirq(svc.vcpu.processor)
                    svc.budget = 0  # grab a quota at the next decision
            sdom.cap = cap
        elif sdom.cap:
            if sdom.repl_timer is not None:
                sdom.repl_timer.stop()
            for svc in units:
                svc.budget = STIME_MAX
            parked, sdom.parked = sdom.parked, []
            sdom.cap = 0
            self._unpark(parked)

    # --- life cycle ----------------------------------------------------------------------
    def init_pdata(self, pcpu: PCPU) -> None:
        rqd = self._cpu_add_to_runqueue(pcpu.cpu_id)
        self.core.hyp.log(f"Adding cpu {pcpu.cpu_id} to runqueue {rqd.id}")
        if not rqd.active:
            self.core.hyp.log(" First cpu on runqueue, activating")
        rqd.active.add(pcpu.cpu_id)
        if pcpu.curr.is_idle:
            rqd.idle.add(pcpu.cpu_id)
        pcpu.sched_priv = Csched2Pcpu(rqd)

    def _cpu_add_to_runqueue(self, cpu: int) -> Csched2Runqueue:
        """cpu_add_to_runqueue: by topology, at most max_cpus_runqueue pCPUs per run
        queue, spread evenly, siblings kept together; else a new queue."""
        chosen = pick_runqueue(self.rqds, cpu, self.topology, self.runqueue_mode,
                               self.max_cpus_runqueue, len(self.core.hyp.pcpus),
                               self.core.hyp.log)
        if chosen is None:
            chosen = Csched2Runqueue(first_unused_id(self.rqds), pick_bias=cpu)
            self.rqds.append(chosen)
            self.rqds.sort(key=lambda r: r.id)
        return chosen

    def deinit_pdata(self, pcpu: PCPU) -> None:
        rqd: Csched2Runqueue = pcpu.sched_priv.rqd
        self.core.hyp.log(f"Removing cpu {pcpu.cpu_id} from runqueue {rqd.id}")
        for s in (rqd.active, rqd.idle, rqd.tickled):
            s.discard(pcpu.cpu_id)
        if not rqd.active:
            self.core.hyp.log(" No cpus left on runqueue, disabling")
            self.rqds.remove(rqd)
        pcpu.sched_priv = None

    def alloc_domdata(self, dom: Domain) -> Csched2Dom:
        return Csched2Dom(dom)

    def free_domdata(self, dom: Domain) -> None:
        sdom: Csched2Dom = dom.sched_priv
        if sdom.repl_timer is not None:
            sdom.repl_timer.stop()

    def alloc_vdata(self, vcpu: VCPU) -> Csched2Unit:
        sdom: Csched2Dom = vcpu.domain.sched_priv
        return Csched2Unit(vcpu, sdom, sdom.weight,  # starting load of 50%
                           avgload=1 << (self.load_precision_shift - 1),
                           load_last_update=self.core.now >> LOADAVG_GRANULARITY_SHIFT)

    def insert(self, vcpu: VCPU) -> None:
        svc: Csched2Unit = vcpu.sched_priv
        vcpu.processor = self.pick_cpu(vcpu)
        if svc.rqd is None:
            self._runq_assign(svc, vcpu.processor.sched_priv.rqd)
        svc.sdom.nr_units += 1
        if vcpu.runnable and not vcpu.is_running and not svc.on_runq:
            assert svc.rqd is not None
            self._update_load(svc.rqd, svc, 1, self.core.now)
            self._runq_insert(svc)
            self._tickle(svc, self.core.now)

    def remove(self, vcpu: VCPU) -> None:
        svc: Csched2Unit = vcpu.sched_priv
        if svc.on_runq:
            assert svc.rqd is not None
            self._update_load(svc.rqd, svc, -1, self.core.now)
            self._runq_remove(svc)
        if svc.parked:
            svc.parked = False
            svc.sdom.parked.remove(svc)
            vcpu.pause_count -= 1
        if svc.rqd is not None:
            self._runq_deassign(svc)
        svc.sdom.nr_units -= 1

    # --- run queues ----------------------------------------------------------------------
    def _update_max_weight(self, rqd: Csched2Runqueue) -> None:
        rqd.max_weight = max((s.weight for s in rqd.svc), default=1)

    def _runq_assign(self, svc: Csched2Unit, rqd: Csched2Runqueue) -> None:
        svc.rqd = rqd
        rqd.svc.append(svc)
        rqd.max_weight = max(rqd.max_weight, svc.weight)
        rqd.b_avgload += svc.avgload

    def _runq_deassign(self, svc: Csched2Unit) -> None:
        rqd = svc.rqd
        assert rqd is not None and not svc.on_runq
        rqd.svc.remove(svc)
        svc.rqd = None
        self._update_max_weight(rqd)
        rqd.b_avgload = max(rqd.b_avgload - svc.avgload, 0)

    def _runq_insert(self, svc: Csched2Unit) -> None:
        assert svc.rqd is not None and not svc.on_runq
        insort(svc.rqd.runq, svc, key=_credit_key)
        svc.on_runq = True

    def _runq_remove(self, svc: Csched2Unit) -> None:
        assert svc.rqd is not None
        svc.rqd.runq.remove(svc)
        svc.on_runq = False

    # --- load tracking: exponentially decaying averages -------------------------------
    def _update_runq_load(self, rqd: Csched2Runqueue, change: int, now: SimTime) -> None:
        """update_runq_load: both averages follow the runnable count, then it changes."""
        w, p = self.load_window_shift, self.load_precision_shift
        now >>= LOADAVG_GRANULARITY_SHIFT
        rqd.avgload = decay(rqd.avgload, rqd.load, rqd.load_last_update, now, w, p)
        rqd.b_avgload = decay(rqd.b_avgload, rqd.load, rqd.load_last_update, now, w, p)
        rqd.load += change
        rqd.load_last_update = now

    def _update_svc_load(self, svc: Csched2Unit, change: int, now: SimTime) -> None:
        """update_svc_load: the unit's own average (1 while runnable, 0 while not)."""
        unit_load = 1 if change == -1 else 0 if change == 1 else int(svc.vcpu.runnable)
        now >>= LOADAVG_GRANULARITY_SHIFT
        svc.avgload = decay(svc.avgload, unit_load, svc.load_last_update, now,
                            self.load_window_shift, self.load_precision_shift)
        svc.load_last_update = now

    def _update_load(self, rqd: Csched2Runqueue, svc: Csched2Unit | None, change: int,
                     now: SimTime) -> None:
        self._update_runq_load(rqd, change, now)
        if svc is not None:
            self._update_svc_load(svc, change, now)

    def _running(self, svc: Csched2Unit) -> bool:
        spc = svc.vcpu.processor.sched_priv
        return isinstance(spc, Csched2Pcpu) and spc.curr is svc

    # --- credits -------------------------------------------------------------------------
    def _burn_credits(self, svc: Csched2Unit, now: SimTime) -> None:
        """t2c_update: credit -= delta * max_weight / weight (remainder carried)."""
        delta = now - svc.start_time
        if delta <= 0:
            return
        assert svc.rqd is not None
        val = delta * svc.rqd.max_weight + svc.residual
        burnt, svc.residual = divmod(val, svc.weight)
        svc.credit -= burnt
        svc.credit = max(svc.credit, CSCHED2_CREDIT_MIN)
        if svc.budget != STIME_MAX:
            svc.budget -= delta
        svc.start_time = now

    def _c2t(self, rqd: Csched2Runqueue, credit: int, svc: Csched2Unit) -> SimTime:
        return credit * svc.weight // rqd.max_weight

    def _reset_credit(self, rqd: Csched2Runqueue, now: SimTime, snext: Csched2Unit) -> None:
        """An epoch ends: everyone on *rqd* gets CREDIT_INIT more, clipped."""
        reset = CSCHED2_CREDIT_INIT
        if snext.credit == CSCHED2_CREDIT_MIN:
            reset += CSCHED2_CREDIT_INIT
        for svc in rqd.svc:
            if self._running(svc):
                self._burn_credits(svc, now)
                if svc.budget <= 0:
                    self._tickle_cpu(svc.vcpu.processor.cpu_id, rqd)
            svc.credit = min(svc.credit + reset, CSCHED2_CREDIT_INIT + CSCHED2_CARRYOVER_MAX)
            svc.start_time = now
        self.stats["reset"] += 1
        if self.core.trace.enabled:
            self.core.trace.emit(now, snext.vcpu.processor.cpu_id, "credit2_reset", -1, -1,
                                 rqd.id)

    # --- caps: budget, parking -----------------------------------------------------------
    def _grab_budget(self, svc: Csched2Unit) -> bool:
        if svc.budget > 0:
            return True
        sdom = svc.sdom
        sdom.budget += svc.budget  # an overrun comes out of the domain's pool
        if sdom.budget > 0:
            svc.budget = min(svc.budget_quota, sdom.budget)
            sdom.budget -= svc.budget
        else:
            svc.budget = 0
            self._park(svc)
        return svc.budget > 0

    def _park(self, svc: Csched2Unit) -> None:
        v = svc.vcpu
        svc.parked = True
        v.pause_count += 1  # Xen's _VPF_parked: not runnable until unparked
        if svc.on_runq:
            # park_unit only sets _VPF_parked: a queued unit stays "runnable" in its
            # runstate (nothing calls vcpu_runstate_change); a running one goes
            # offline when it is switched out.
            self._runq_remove(svc)
            assert svc.rqd is not None
            self._update_load(svc.rqd, svc, -1, self.core.now)
        svc.sdom.parked.insert(0, svc)
        self.stats["park"] += 1

    def _return_budget(self, svc: Csched2Unit) -> list[Csched2Unit]:
        sdom = svc.sdom
        sdom.budget += svc.budget
        svc.budget = 0
        if sdom.budget > 0:
            parked, sdom.parked = sdom.parked, []
            return parked
        return []

    def _unpark(self, units: list[Csched2Unit]) -> None:
        for svc in units:
            svc.parked = False
            self.stats["unpark"] += 1
            self.core.vcpu_unpause(svc.vcpu)  # wakes it (runq insert, tickle) if runnable

    def _replenish(self, sdom: Csched2Dom) -> None:
        now = self.core.now
        while True:
            sdom.next_repl += self.cap_period
            sdom.budget += sdom.tot_budget
            if sdom.next_repl > now:
                break
        assert sdom.repl_timer is not None
        sdom.repl_timer.set(sdom.next_repl)
        if sdom.budget <= 0:
            return
        sdom.budget = min(sdom.budget, sdom.tot_budget)
        parked, sdom.parked = sdom.parked, []
        self._unpark(parked)

    # --- placement and tickling ------------------------------------------------------------
    def pick_cpu(self, vcpu: VCPU) -> PCPU:
        """csched2_res_pick (and csched2_unit_migrate): the run queue balance_load chose,
        else the one with the least averaged load (soft affinity first), a pCPU in it
        round-robin from its ``pick_bias``."""
        svc: Csched2Unit = vcpu.sched_priv
        ids = self.pool.cpu_ids
        hard = vcpu.hard_affinity & ids
        target, svc.migrate_rqd = svc.migrate_rqd, None
        if target is not None and target in self.rqds and target.active & hard:
            cpu = cpumask_cycle(target.pick_bias, target.active & hard)
            target.pick_bias = cpu
            return self._move_to(svc, target, cpu)
        soft = balance_steps(vcpu, ids)[0] if has_soft_affinity(vcpu, ids) else None
        best: Csched2Runqueue | None = None
        best_soft: Csched2Runqueue | None = None
        lo = lo_soft = STIME_MAX
        for rqd in self.rqds:
            if not rqd.active & hard:
                continue
            load = max(rqd.b_avgload - svc.avgload, 0) if svc.rqd is rqd else rqd.b_avgload
            if soft is not None and load < lo_soft and rqd.active & soft:
                lo_soft, best_soft = load, rqd
            if load < lo:
                lo, best = load, rqd
        assert best is not None
        mask = hard
        chosen = best
        if best_soft is not None and soft is not None:
            mask, chosen = soft, best_soft
        # Xen cycles from the least loaded queue's pick_bias even when the soft-affinity
        # queue wins (csched2_res_pick uses min_rqd->pick_bias there).
        cpu = cpumask_cycle(best.pick_bias, chosen.active & mask)
        best.pick_bias = cpu
        return self._move_to(svc, chosen, cpu)

    def _move_to(self, svc: Csched2Unit, rqd: Csched2Runqueue, cpu: int) -> PCPU:
        """csched2_unit_migrate of a unit neither queued nor running: change run queue."""
        if svc.rqd is not None and svc.rqd is not rqd and not svc.on_runq \
                and not self._running(svc):
            self._runq_deassign(svc)
            self._runq_assign(svc, rqd)
            self.stats["migrate"] += 1
        return self.core.hyp.pcpus[cpu]

    def _tickle_cpu(self, cpu: int, rqd: Csched2Runqueue) -> None:
        rqd.tickled.add(cpu)
        self.stats["tickle"] += 1
        self.core.raise_softirq(self.core.hyp.pcpus[cpu])

    def _preemptable(self, cur: Csched2Unit, now: SimTime) -> bool:
        if self.ratelimit <= CSCHED2_RATELIMIT_TICKLE_TOLERANCE:
            return True
        return now - cur.vcpu.state_entry_time > \
            self.ratelimit - CSCHED2_RATELIMIT_TICKLE_TOLERANCE

    def _tickle_score(self, new: Csched2Unit, cpu: int, now: SimTime) -> int:
        cur = self.core.hyp.pcpus[cpu].sched_priv.curr
        if cur is None or not self._preemptable(cur, now):
            return -1
        self._burn_credits(cur, now)
        score = new.credit - cur.credit
        if new.vcpu.processor.cpu_id != cpu:
            score -= self.migrate_resist
        if score > 0:
            if _in_soft(new.vcpu, cpu):
                score += CSCHED2_CREDIT_INIT
            if not _in_soft(cur.vcpu, cpu):
                score += CSCHED2_CREDIT_INIT
        return score

    def _tickle(self, new: Csched2Unit, now: SimTime) -> None:
        """runq_tickle: an idle pCPU (soft affinity first), else the best preemption score."""
        v = new.vcpu
        cpu = v.processor.cpu_id
        rqd = new.rqd
        assert rqd is not None
        ids = self.pool.cpu_ids
        steps = balance_steps(v, ids)
        ipid = -1
        if len(v.hard_affinity & ids) == 1 and cpu in rqd.idle and cpu not in rqd.tickled:
            ipid = cpu  # exclusively pinned
        else:
            for mask in steps:
                idle = (rqd.idle - rqd.tickled) & mask
                if idle:
                    ipid = cycle_order(cpu, idle)[0]
                    break
        if ipid < 0:
            best = 0
            busy = (rqd.active - rqd.idle - rqd.tickled) & steps[-1]
            if cpu in busy:
                busy.discard(cpu)
                score = self._tickle_score(new, cpu, now)
                if score > best:
                    best, ipid = score, cpu
                    if _in_soft(v, cpu):
                        busy = set()
            for c in sorted(busy):
                score = self._tickle_score(new, c, now)
                if score > best:
                    best, ipid = score, c
            if ipid < 0:
                return
        if self.core.trace.enabled:
            self.core.trace.emit(now, ipid, "tickle", v.domain.domid, v.vcpu_id)
        self._tickle_cpu(ipid, rqd)
        new.tickled_cpu = ipid

    # --- sleep, wake, yield ----------------------------------------------------------------
    def sleep(self, vcpu: VCPU) -> None:
        svc: Csched2Unit = vcpu.sched_priv
        if vcpu.processor.curr is vcpu:
            assert svc.rqd is not None
            self._tickle_cpu(vcpu.processor.cpu_id, svc.rqd)
        elif svc.on_runq:
            assert svc.rqd is not None
            self._update_load(svc.rqd, svc, -1, self.core.now)
            self._runq_remove(svc)

    def wake(self, vcpu: VCPU) -> None:
        svc: Csched2Unit = vcpu.sched_priv
        if vcpu.processor.curr is vcpu or svc.on_runq:
            return
        if svc.rqd is None:
            self._runq_assign(svc, vcpu.processor.sched_priv.rqd)
        assert svc.rqd is not None
        self._update_load(svc.rqd, svc, 1, self.core.now)
        self._runq_insert(svc)
        self._tickle(svc, self.core.now)

    def yield_(self, vcpu: VCPU) -> None:
        vcpu.sched_priv.yielding = True

    # --- the decision ------------------------------------------------------------------------
    def _runq_candidate(self, rqd: Csched2Runqueue, prev: VCPU, cpu: int,
                        now: SimTime) -> Csched2Unit | None:
        scurr: Csched2Unit | None = None if prev.is_idle else prev.sched_priv
        yielding = False
        snext = scurr
        if scurr is not None:
            yielding, scurr.yielding = scurr.yielding, False
            if (not yielding and self.ratelimit and prev.runnable
                    and now - prev.state_entry_time < self.ratelimit):
                return scurr
            ids = self.pool.cpu_ids
            soft_preempt = False
            if has_soft_affinity(prev, ids):
                soft = balance_steps(prev, ids)[0]
                if cpu not in soft:
                    soft_preempt = bool(soft & (rqd.idle - rqd.tickled))
            if not prev.runnable or soft_preempt:
                snext = None
        credit = snext.credit if snext is not None else CSCHED2_IDLE_CREDIT
        for svc in list(rqd.runq):  # a unit parked on the way leaves rqd.runq
            if not yielding and svc.credit <= credit:
                break
            v = svc.vcpu
            if not v.runnable or cpu not in v.hard_affinity:
                continue
            if svc.tickled_cpu not in (-1, cpu) and svc.tickled_cpu in rqd.tickled:
                continue  # left for the pCPU tickled to pick it up
            if v.processor.cpu_id != cpu and credit + self.migrate_resist > svc.credit:
                continue  # migration resistance
            if svc.budget != STIME_MAX and not self._grab_budget(svc):
                continue  # capped and out of budget (now parked): try the next one
            snext = svc
            break
        return snext

    def _runtime(self, rqd: Csched2Runqueue, snext: Csched2Unit, now: SimTime) -> SimTime:
        """csched2_runtime: until credit meets the next in line's, within the timer bounds."""
        min_time = CSCHED2_MIN_TIMER
        if self.ratelimit:
            rl_min = self.ratelimit
            if snext.vcpu.is_running:
                rl_min = snext.vcpu.state_entry_time + self.ratelimit - now
            min_time = max(min_time, rl_min)
        rt_credit = snext.credit
        if rqd.runq and rqd.runq[0].credit > 0:
            rt_credit = snext.credit - rqd.runq[0].credit
        time = self._c2t(rqd, rt_credit, snext) if rt_credit > 0 else 0
        if snext.budget != STIME_MAX:
            time = min(time, snext.budget)
        return min(max(time, min_time), CSCHED2_MAX_TIMER)

    def do_schedule(self, pcpu: PCPU, now: SimTime) -> tuple[VCPU, SimTime]:
        spc: Csched2Pcpu = pcpu.sched_priv
        rqd = spc.rqd
        cpu = pcpu.cpu_id
        rqd.tickled.discard(cpu)
        prev = pcpu.curr
        scurr: Csched2Unit | None = None if prev.is_idle else prev.sched_priv
        if scurr is not None:
            self._burn_credits(scurr, now)
            if scurr.budget <= 0:
                self._grab_budget(scurr)  # may park it
        snext = self._runq_candidate(rqd, prev, cpu, now)
        if snext is not None:
            if snext is not scurr:
                self._runq_remove(snext)
                snext.scheduled = True
            else:
                self._update_load(rqd, snext, 0, now)
            rqd.idle.discard(cpu)
            top = max(snext.credit, rqd.runq[0].credit) if rqd.runq else snext.credit
            if top <= CSCHED2_CREDIT_RESET:
                self._reset_credit(rqd, now, snext)
                self._balance_load(rqd, cpu, now)
            snext.start_time = now
            snext.tickled_cpu = -1
            if snext.vcpu.processor is not pcpu:
                snext.credit += CSCHED2_MIGRATE_COMPENSATION
                snext.vcpu.processor = pcpu
            tslice = self._runtime(rqd, snext, now)
        else:
            rqd.idle.add(cpu)
            self._update_load(rqd, None, 0, now)
            tslice = -1
        spc.curr = snext
        if scurr is not None and snext is not scurr:
            self._context_saved(scurr, now)
        return (pcpu.idle if snext is None else snext.vcpu), tslice

    def _context_saved(self, svc: Csched2Unit, now: SimTime) -> None:
        """What csched2_context_saved does once *svc* is off its pCPU."""
        svc.scheduled = False
        were_parked: list[Csched2Unit] = []
        if svc.budget != STIME_MAX and svc.budget > 0:
            were_parked = self._return_budget(svc)
        if svc.vcpu.runnable:
            self._runq_insert(svc)
            self._tickle(svc, now)
        else:
            assert svc.rqd is not None
            self._update_load(svc.rqd, svc, -1, now)
        self._unpark(were_parked)

    def _balance_load(self, lrqd: Csched2Runqueue, cpu: int, now: SimTime) -> None:
        """balance_load: find the run queue whose averaged load differs most from ours;
        if the gap is past the tolerance, push and/or pull the one or two units whose
        move narrows it most."""
        p = self.load_precision_shift
        self._update_runq_load(lrqd, 0, now)
        load_delta = 0
        busiest: Csched2Runqueue | None = None
        for rqd in self.rqds:
            if rqd is lrqd:
                continue
            self._update_runq_load(rqd, 0, now)
            delta = abs(lrqd.b_avgload - rqd.b_avgload)
            if delta > load_delta:
                load_delta, busiest = delta, rqd
        if busiest is None:
            return
        # Xen compares against the *last* run queue of its list here (st.orqd after
        # the loop), not the one just found; reproduced as is.
        last = self.rqds[-1]
        load_max = max(lrqd.b_avgload, last.b_avgload)
        cpus_max = max(len(lrqd.active), len(last.active))
        tolerance = self.balance_under if load_max < cpus_max << p else self.balance_over
        if load_delta < 1 << max(p + tolerance, 0):
            return
        orqd = busiest
        best_delta = load_delta
        best: tuple[Csched2Unit | None, Csched2Unit | None] = (None, None)

        def consider(push: Csched2Unit | None, pull: Csched2Unit | None) -> None:
            nonlocal best_delta, best
            l_load, o_load = lrqd.b_avgload, orqd.b_avgload
            if push is not None:
                l_load, o_load = l_load - push.avgload, o_load + push.avgload
            if pull is not None:
                l_load, o_load = l_load + pull.avgload, o_load - pull.avgload
            if abs(l_load - o_load) < best_delta:
                best_delta, best = abs(l_load - o_load), (push, pull)

        inner_updated = False
        for push in list(lrqd.svc):
            self._update_svc_load(push, 0, now)
            if not self._migrateable(push, orqd):
                continue
            for pull in list(orqd.svc):
                if not inner_updated:
                    self._update_svc_load(pull, 0, now)
                if self._migrateable(pull, lrqd):
                    consider(push, pull)
            inner_updated = True
            consider(push, None)
        for pull in list(orqd.svc):
            if self._migrateable(pull, lrqd):
                consider(None, pull)
        push_svc, pull_svc = best
        if push_svc is not None:
            self._migrate(push_svc, orqd, now)
        if pull_svc is not None:
            self._migrate(pull_svc, lrqd, now)

    def _migrateable(self, svc: Csched2Unit, rqd: Csched2Runqueue) -> bool:
        """unit_is_migrateable: not already sent elsewhere, and allowed on *rqd*."""
        return svc.migrate_rqd is None \
            and bool(svc.vcpu.hard_affinity & self.pool.cpu_ids & rqd.active)

    def _migrate(self, svc: Csched2Unit, trqd: Csched2Runqueue, now: SimTime) -> None:
        """migrate(): a running unit is asked to move at its next switch; a queued or
        sleeping one moves now (a queued one is re-queued and tickles there)."""
        self.stats["balance"] += 1
        v = svc.vcpu
        if svc.scheduled:  # running, or picked to run by the csched2_schedule under way
            svc.migrate_rqd = trqd
            v.pause_flags |= PauseFlag.MIGRATING
            assert svc.rqd is not None
            self._tickle_cpu(v.processor.cpu_id, svc.rqd)
            return
        on_runq = svc.on_runq
        if on_runq:
            self._runq_remove(svc)
            assert svc.rqd is not None
            self._update_load(svc.rqd, None, -1, now)
        self._runq_deassign(svc)
        cpu = cpumask_cycle(trqd.pick_bias, v.hard_affinity & self.pool.cpu_ids & trqd.active)
        v.processor = self.core.hyp.pcpus[cpu]
        trqd.pick_bias = cpu
        self._runq_assign(svc, trqd)
        if on_runq:
            self._update_load(trqd, None, 1, now)
            self._runq_insert(svc)
            self._tickle(svc, now)

    # --- debug ---------------------------------------------------------------------------------
    def dump(self) -> str:
        """csched2_dump: run queues (cpus, load), domains, then each queue's pCPUs and units."""
        topo = self.topology
        shift = self.load_precision_shift
        lines = [f"Scheduler: {self.long_name} ({self.name})",
                 f"Active queues: {len(self.rqds)}",
                 f"\tdefault-weight     = {CSCHED2_DEFAULT_WEIGHT}"]
        for rqd in self.rqds:
            lines += [f"Runqueue {rqd.id}:",
                      f"\tncpus              = {len(rqd.active)}",
                      f"\tcpus               = {cpulist(rqd.active)}",
                      f"\tmax_weight         = {rqd.max_weight}",
                      f"\tpick_bias          = {rqd.pick_bias}",
                      f"\tinstload           = {rqd.load}",
                      f"\taveload            = {rqd.avgload} "
                      f"(~{(rqd.avgload * 100) >> shift}%)",
                      f"\tidlers: {cpulist(rqd.idle)}",
                      f"\ttickled: {cpulist(rqd.tickled)}"]
        lines.append("Domain info:")
        n = 0
        for dom in self._domains():
            sdom: Csched2Dom = dom.sched_priv
            lines.append(f"\tDomain: {dom.domid} w {sdom.weight} c {sdom.cap} "
                         f"v {sdom.nr_units}")
            for v in dom.vcpus:
                n += 1
                lines.append(f"\t{n:3d}: {self._dump_unit(v.sched_priv)}")
        for rqd in self.rqds:
            lines.append(f"Runqueue {rqd.id}:")
            for cpu in sorted(rqd.active):
                lines.append(f"CPU[{cpu:02d}] runq={rqd.id}, "
                             f"sibling={{{cpulist(topo.siblings(cpu))}}}, "
                             f"core={{{cpulist(topo.core_mask(cpu))}}}")
                curr = self.core.hyp.pcpus[cpu].sched_priv.curr
                if curr is not None:
                    lines.append(f"\trun: {self._dump_unit(curr)}")
            lines.append("RUNQ:")
            lines += [f"\t{i:3d}: {self._dump_unit(s)}" for i, s in enumerate(rqd.runq)]
        return "\n".join(lines) + "\n"

    def _domains(self) -> list[Domain]:
        return [d for d in self.core.hyp.domains.values()
                if d.pool is self.pool and isinstance(d.sched_priv, Csched2Dom)]

    def _dump_unit(self, svc: Csched2Unit) -> str:
        v = svc.vcpu
        s = f"[{v.domain.domid}.{v.vcpu_id}] cpu={v.processor.cpu_id} " \
            f"credit={svc.credit} [w={svc.weight}]"
        if svc.budget != STIME_MAX:
            s += f" budget={svc.budget}({svc.budget_quota})"
        return s + f" load={svc.avgload} (~{(svc.avgload * 100) >> self.load_precision_shift}%)"

"""CFS: Linux's Completely Fair Scheduler, as a KVM host schedules its guests' vCPUs.

Mirrors: linux kernel/sched/fair.c as of v5.x-6.5, before EEVDF
(sched_prio_to_weight, calc_delta_fair, update_curr, update_min_vruntime,
sched_slice, place_entity, check_preempt_wakeup/wakeup_preempt_entity,
pick_next_entity with the skip buddy, yield_task_fair, select_task_rq_fair,
newidle_balance, load_balance, migrate_task_rq_fair).  Simplified: no
locking, a flat topology, one level of entities (see below).

What it is for.  Under KVM a guest's vCPUs are ordinary threads of its QEMU
process, and the host kernel schedules them with CFS beside every other
task.  This policy lets a Xen-style host run that way, so a workload can be
compared under Xen's credit schedulers and under Linux's.

How it shares a pCPU.  Each vCPU is one *entity* with a load weight.  While
it runs, its virtual runtime grows by ``delta * 1024 / weight`` (update_curr;
the remainder of the division is carried, so no nanosecond is lost), so a
heavier entity's clock runs slower.  Every pCPU has its own run queue,
ordered by vruntime, and always runs the leftmost (smallest) entity.  The
run queue's ``min_vruntime`` only moves forward; it anchors placement:

- a vCPU that has never run starts one virtual slice after it (START_DEBIT),
  so creating guests cannot be used to jump the queue;
- a vCPU that wakes from sleep gets ``max(vruntime, min_vruntime -
  sched_latency_ns/2)`` (GENTLE_FAIR_SLEEPERS): a sleeper is owed at most
  half a latency period, so it runs soon but cannot hoard credit;
- a vCPU that moves to another run queue keeps its lag: its vruntime is
  re-based from the old queue's ``min_vruntime`` to the new one's.

A running entity's slice is ``period * weight / queue_load`` with the
period ``sched_latency_ns`` (6 ms), or ``nr_running * sched_min_granularity_ns``
once more than latency/min_granularity (8) entities share the queue, and
never less than ``sched_min_granularity_ns`` (0.75 ms; the floor Linux 6.1
added in "sched/fair: limit sched slice duration").  A lone entity runs without a slice timer.

Wake-up preemption.  When an entity wakes onto a busy pCPU it preempts the
running one if ``curr.vruntime - woken.vruntime`` exceeds
``sched_wakeup_granularity_ns`` (1 ms) converted to the woken entity's
virtual time (so a heavier waker preempts more easily).  A woken sleeper is
placed up to 3 ms behind ``min_vruntime``, so an interactive vCPU among hogs
usually preempts at once; a huge granularity makes it wait for the slice.

Weights.  Each domain has CFS *shares*, given to each of its vCPUs
(``xl sched-*``-style ``adjust``): ``nice`` (-20..19, through the kernel's
``sched_prio_to_weight`` table: nice 0 is 1024, each step about 1.25x),
``shares`` (2..262144, cgroup v1's cpu.shares), or ``weight`` on Xen's
scale, where credit's default 256 is 1024 shares (nice 0).  So an xl.cfg's
``cpu_weight`` carries over unchanged: 512 gets twice the CPU of 256.  There
is no cgroup hierarchy: every vCPU is a top-level entity, as if each QEMU's
vCPU threads sat in the root group, so a 4-vCPU guest weighs four times a
1-vCPU one when all are busy (credit2 behaves the same way).

Placement and balancing.  A waking vCPU goes to an idle pCPU if one is in its
hard affinity (soft affinity first, starting at the pCPU it last used, as
select_idle_sibling does), else back to its previous pCPU (wake affine), or,
if it has never run or may no longer run there, to the least loaded pCPU.
A pCPU that would go idle pulls the leftmost allowed entity from the busiest
run queue (newidle_balance).  While any queue has entities waiting, a
periodic balance (CFS_BALANCE_INTERVAL on average) lets each pCPU in turn
pull one waiting entity from the busiest queue if its weight is at most half
the load difference; each failed attempt halves the entity's weight in that
test, as ``nr_balance_failed`` does in load_balance(), so three hogs on two
pCPUs rotate and each gets about 2/3 of a pCPU over time.  Which hog is the
waiting one when the balance runs decides who shares next; Linux gets
variety there from noise (ticks, interrupts, PELT), so the interval is
jittered from a seeded generator, and among equally busy queues the one
whose running vCPU has had the least CPU gives up its waiting one.  Without
both, a deterministic run of equal hogs locks into a cycle that moves the
same few vCPUs (measured: 7 hogs on 4 pCPUs got 0.50-0.63 instead of 0.57).
Hard affinity is never violated: only queues whose pCPU is in the entity's
hard affinity are considered.

Left out (say so before reading results as Linux's):

- no caps or CFS bandwidth control (``cpu.cfs_quota_us``): ``cap`` must be 0;
- no group scheduling (cgroups, autogroup): one level of entities;
- no periodic tick: a slice ends exactly when due, as with the HRTICK
  feature, and is re-evaluated when the queue gains an entity;
  check_preempt_tick's test of the leftmost entity's lag, which only runs at
  ticks, is not modelled;
- load is the instantaneous sum of weights, not PELT's decayed average, and
  there are no sched domains (SMT, LLC, NUMA), cache-hot checks, active
  balancing or NEXT/LAST buddies;
- the tunables are not scaled by ``1 + ilog2(ncpus)`` (as with
  ``sched_tunable_scaling = 0``);
- no EEVDF (Linux 6.6+), no real-time or deadline classes.
"""

from __future__ import annotations

import random
from bisect import bisect_left, insort
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from xensim.hypervisor.sched.affinity import balance_steps, cycle_order
from xensim.hypervisor.sched.ops import SchedParamError, Scheduler, register_scheduler
from xensim.hypervisor.time import MICROSECS, MILLISECS, SECONDS
from xensim.hypervisor.vcpu import PauseFlag

if TYPE_CHECKING:
    from xensim.hypervisor.cpupool import Cpupool
    from xensim.hypervisor.domain import Domain
    from xensim.hypervisor.pcpu import PCPU
    from xensim.hypervisor.sched.core import SchedCore
    from xensim.hypervisor.time import SimTime
    from xensim.hypervisor.vcpu import VCPU

NICE_0_LOAD = 1024
SCHED_PRIO_TO_WEIGHT = (
    88761, 71755, 56483, 46273, 36291,  # nice -20 .. -16
    29154, 23254, 18705, 14949, 11916,  # -15 .. -11
    9548, 7620, 6100, 4904, 3906,  # -10 .. -6
    3121, 2501, 1991, 1586, 1277,  # -5 .. -1
    1024, 820, 655, 526, 423,  # 0 .. 4
    335, 272, 215, 172, 137,  # 5 .. 9
    110, 87, 70, 56, 45,  # 10 .. 14
    36, 29, 23, 18, 15,  # 15 .. 19
)
"""Load weight per nice level: each step is about 10% of CPU time (x1.25)."""
MIN_NICE, MAX_NICE = -20, 19
NICE_OF_WEIGHT = {w: n for n, w in enumerate(SCHED_PRIO_TO_WEIGHT, MIN_NICE)}
MIN_SHARES, MAX_SHARES = 2, 1 << 18
"""cgroup v1 ``cpu.shares`` bounds (kernel/sched/sched.h)."""
XEN_DEFAULT_WEIGHT = 256
"""credit's CSCHED_DEFAULT_WEIGHT, the xl.cfg default; it maps to NICE_0_LOAD."""
WEIGHT_MIN, WEIGHT_MAX = 1, 65535

GLOBAL_DEFAULTS = {
    "sched_latency_ns": MILLISECS(6),
    "sched_min_granularity_ns": MICROSECS(750),
    "sched_wakeup_granularity_ns": MILLISECS(1),
}
"""The sysctls (kernel.sched_*_ns, debugfs sched/ since 5.13) at their defaults."""
GLOBAL_MIN = {"sched_latency_ns": MICROSECS(100), "sched_min_granularity_ns": MICROSECS(100),
              "sched_wakeup_granularity_ns": 0}
GLOBAL_MAX = SECONDS(1)
"""The sysctl limits (kernel/sysctl.c: min_sched_granularity_ns .. max_sched_granularity_ns)."""

CFS_BALANCE_INTERVAL = MILLISECS(32)
"""A busy pCPU's mean balance interval: sd->balance_interval (the domain's CPU
count in ms, 2 for a pair) times busy_factor (16)."""
CFS_MAX_BALANCE_FAILED = 8


@dataclass(slots=True, eq=False)
class CfsRq:
    """One pCPU's run queue (``struct cfs_rq``)."""

    pcpu: PCPU
    tasks: list[tuple[int, int, CfsEntity]] = field(default_factory=list)
    """Waiting entities as (vruntime, seq, entity), sorted: the rb-tree's stand-in.
    Bisection keeps inserts O(log n) compares plus a memmove, cheap for the tens of
    entities a pCPU has; seq keeps FIFO order among equal vruntimes."""
    curr: CfsEntity | None = None
    """The running entity; it is not in :attr:`tasks` while it runs."""
    nr_running: int = 0
    """Entities on this queue, running or waiting."""
    load: int = 0
    """Their total weight."""
    min_vruntime: int = 0
    skip: CfsEntity | None = None
    """The skip buddy: an entity that yielded, passed over once if the next is close."""
    need_resched: bool = False
    """Set by wake-up preemption and yield: choose afresh, do not just extend the slice."""
    balance_failed: int = 0
    """Periodic balances in a row that found an imbalance but moved nothing
    (``sd->nr_balance_failed``)."""


@dataclass(slots=True, eq=False)
class CfsDom:
    dom: Domain
    shares: int = NICE_0_LOAD


@dataclass(slots=True, eq=False)
class CfsEntity:
    """One vCPU (``struct sched_entity``)."""

    vcpu: VCPU
    weight: int
    rq: CfsRq | None = None
    """The run queue it is on, or was last on (its vruntime is relative to that one)."""
    vruntime: int = 0
    vruntime_rem: int = 0
    """What ``delta * 1024 / weight`` left over, carried to the next update."""
    exec_start: SimTime = 0
    sum_exec_runtime: SimTime = 0
    prev_sum_exec_runtime: SimTime = 0
    """sum_exec_runtime when it was last picked: what it ran since is its slice so far."""
    node: tuple[int, int, CfsEntity] | None = None
    """Its entry in ``rq.tasks`` while it waits there."""
    on_rq: bool = False
    fresh: bool = True
    """Never enqueued yet: placed with START_DEBIT, balanced like a fork."""
    slept: bool = False
    """Dequeued by a real sleep (not a migration): placed as a sleeper when it wakes."""


def _calc_delta_fair(delta: int, weight: int) -> int:
    return delta if weight == NICE_0_LOAD else delta * NICE_0_LOAD // weight


@register_scheduler
class CfsScheduler(Scheduler):
    name = "cfs"
    long_name = "Linux CFS (fair)"
    sched_id = 20
    """Not a XEN_SCHEDULER_* value: kept clear of the ids Xen has used (5-9)."""

    def __init__(self, core: SchedCore, pool: Cpupool, **params: Any) -> None:
        self.latency: SimTime = GLOBAL_DEFAULTS["sched_latency_ns"]
        self.min_gran: SimTime = GLOBAL_DEFAULTS["sched_min_granularity_ns"]
        self.wakeup_gran: SimTime = GLOBAL_DEFAULTS["sched_wakeup_granularity_ns"]
        self.seq = 0
        self.balance_timer = core.new_timer(self._periodic_balance)
        self.rng = random.Random(f"{core.hyp.seed}:cfs:{pool.name}")
        self.stats = {"preempt": 0, "pull": 0, "balance": 0}
        super().__init__(core, pool, **params)

    # --- parameters ----------------------------------------------------------------------
    def adjust_global(self, params: dict[str, Any] | None = None) -> dict[str, Any]:
        if params:
            unknown = set(params) - set(GLOBAL_DEFAULTS)
            if unknown:
                raise SchedParamError(f"unknown cfs parameter(s) {sorted(unknown)}; known: "
                                      f"{', '.join(GLOBAL_DEFAULTS)}")
            values = self.adjust_global()
            for key, val in params.items():
                if isinstance(val, bool) or not isinstance(val, int) \
                        or not GLOBAL_MIN[key] <= val <= GLOBAL_MAX:
                    raise SchedParamError(f"{key} must be an integer in {GLOBAL_MIN[key]}.."
                                          f"{GLOBAL_MAX} (ns), got {val!r}")
                values[key] = val
            self.latency = values["sched_latency_ns"]
            self.min_gran = values["sched_min_granularity_ns"]
            self.wakeup_gran = values["sched_wakeup_granularity_ns"]
        return {"sched_latency_ns": self.latency, "sched_min_granularity_ns": self.min_gran,
                "sched_wakeup_granularity_ns": self.wakeup_gran}

    def adjust(self, dom: Domain, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """Shares by ``nice``, ``shares`` or Xen-scale ``weight`` (one of them); ``cap``
        is accepted only as 0, so libxl can pass an xl.cfg's ``cap`` unchanged."""
        sdom: CfsDom = dom.sched_priv
        if params:
            unknown = set(params) - {"nice", "shares", "weight", "cap"}
            if unknown:
                raise SchedParamError(f"unknown cfs domain parameter(s) {sorted(unknown)}; "
                                      "known: nice, shares, weight, cap")
            given = [k for k in ("nice", "shares", "weight") if k in params]
            if len(given) > 1:
                raise SchedParamError(f"give one of nice, shares, weight (got {given})")
            if params.get("cap", 0) != 0:
                raise SchedParamError("the cfs scheduler has no caps (cap must be 0)")
            if given:
                self._set_shares(sdom, self._shares_from(given[0], params[given[0]]))
        shares = sdom.shares
        return {"weight": max(WEIGHT_MIN, (shares * XEN_DEFAULT_WEIGHT + NICE_0_LOAD // 2)
                              // NICE_0_LOAD),
                "shares": shares, "nice": NICE_OF_WEIGHT.get(shares), "cap": 0}

    @staticmethod
    def _shares_from(key: str, val: Any) -> int:
        lo, hi = {"nice": (MIN_NICE, MAX_NICE), "shares": (MIN_SHARES, MAX_SHARES),
                  "weight": (WEIGHT_MIN, WEIGHT_MAX)}[key]
        if isinstance(val, bool) or not isinstance(val, int) or not lo <= val <= hi:
            raise SchedParamError(f"{key} must be an integer in {lo}..{hi}, got {val!r}")
        if key == "nice":
            return SCHED_PRIO_TO_WEIGHT[val - MIN_NICE]
        if key == "weight":
            return val * NICE_0_LOAD // XEN_DEFAULT_WEIGHT
        return val

    def _set_shares(self, sdom: CfsDom, shares: int) -> None:
        """reweight_entity: queue loads follow at once; a running vCPU's slice is redone."""
        sdom.shares = shares
        for v in sdom.dom.vcpus:
            se: CfsEntity = v.sched_priv
            rq = se.rq
            if se.on_rq and rq is not None:
                if rq.curr is se:
                    self._update_curr(rq, self.core.now)
                rq.load += shares - se.weight
                if rq.curr is not None:
                    self.core.raise_softirq(rq.pcpu)
            se.weight = shares

    # --- life cycle ----------------------------------------------------------------------
    def init_pdata(self, pcpu: PCPU) -> None:
        pcpu.sched_priv = CfsRq(pcpu)
        if any(p.sched_priv.tasks for p in self.pool.pcpus if p is not pcpu):
            self.core.raise_softirq(pcpu)  # a new idle pCPU pulls work at once

    def deinit_pdata(self, pcpu: PCPU) -> None:
        rq: CfsRq = pcpu.sched_priv
        assert rq.nr_running == 0, f"{pcpu} leaves the pool with {rq.nr_running} entities"
        pcpu.sched_priv = None

    def alloc_domdata(self, dom: Domain) -> CfsDom:
        return CfsDom(dom)

    def alloc_vdata(self, vcpu: VCPU) -> CfsEntity:
        return CfsEntity(vcpu, vcpu.domain.sched_priv.shares)

    def insert(self, vcpu: VCPU) -> None:
        se: CfsEntity = vcpu.sched_priv
        vcpu.processor = self.pick_cpu(vcpu)
        se.rq = vcpu.processor.sched_priv
        if vcpu.runnable and not vcpu.is_running:
            self.wake(vcpu)

    def remove(self, vcpu: VCPU) -> None:
        se: CfsEntity = vcpu.sched_priv
        if se.on_rq:
            assert se.rq is not None and se.rq.curr is not se, f"{vcpu} removed while running"
            self._dequeue(se.rq, se)

    # --- the run queue -------------------------------------------------------------------
    def _tree_insert(self, rq: CfsRq, se: CfsEntity) -> None:
        self.seq += 1
        se.node = (se.vruntime, self.seq, se)
        insort(rq.tasks, se.node)

    def _tree_remove(self, rq: CfsRq, se: CfsEntity) -> None:
        assert se.node is not None
        del rq.tasks[bisect_left(rq.tasks, se.node)]
        se.node = None

    def _enqueue(self, rq: CfsRq, se: CfsEntity) -> None:
        """enqueue_entity: account *se* on *rq* and queue it (it waits there)."""
        se.rq = rq
        se.vcpu.processor = rq.pcpu
        se.on_rq = True
        rq.nr_running += 1
        rq.load += se.weight
        self._tree_insert(rq, se)
        if rq.nr_running >= 2 and not self.balance_timer.active:
            self._arm_balance()

    def _dequeue(self, rq: CfsRq, se: CfsEntity) -> None:
        """dequeue_entity for a waiting entity, or for curr once it has stopped."""
        if se is rq.curr:
            rq.curr = None
        else:
            self._tree_remove(rq, se)
        se.on_rq = False
        rq.nr_running -= 1
        rq.load -= se.weight
        if rq.skip is se:
            rq.skip = None
        self._update_min_vruntime(rq)

    def _update_curr(self, rq: CfsRq, now: SimTime) -> None:
        """Charge the running entity for its time since the last update."""
        se = rq.curr
        if se is None:
            return
        delta = now - se.exec_start
        if delta <= 0:
            return
        se.exec_start = now
        se.sum_exec_runtime += delta
        if se.weight == NICE_0_LOAD:
            se.vruntime += delta
        else:
            vdelta, se.vruntime_rem = divmod(delta * NICE_0_LOAD + se.vruntime_rem, se.weight)
            se.vruntime += vdelta
        self._update_min_vruntime(rq)

    def _update_min_vruntime(self, rq: CfsRq) -> None:
        """min_vruntime follows the smallest vruntime on the queue, never backwards."""
        curr = rq.curr
        if curr is not None and rq.tasks:
            low = min(curr.vruntime, rq.tasks[0][0])
        elif curr is not None:
            low = curr.vruntime
        elif rq.tasks:
            low = rq.tasks[0][0]
        else:
            return
        if low > rq.min_vruntime:
            rq.min_vruntime = low

    def _sched_slice(self, rq: CfsRq, se: CfsEntity) -> SimTime:
        """The wall-clock slice of *se*: its weight's part of the period."""
        nr, load = rq.nr_running, rq.load
        if not se.on_rq:
            nr, load = nr + 1, load + se.weight
        nr_latency = -(-self.latency // self.min_gran)
        period = self.latency if nr <= nr_latency else nr * self.min_gran
        return max(period * se.weight // load, self.min_gran)

    def _wakeup_preempt(self, curr: CfsEntity, se: CfsEntity) -> int:
        """wakeup_preempt_entity: 1 if *se* is more than a (weighted) granularity left
        of *curr*, 0 if left by less, -1 if not left of it at all."""
        vdiff = curr.vruntime - se.vruntime
        if vdiff <= 0:
            return -1
        return 1 if vdiff > _calc_delta_fair(self.wakeup_gran, se.weight) else 0

    def _place(self, rq: CfsRq, se: CfsEntity) -> None:
        """place_entity: a new entity starts one virtual slice late (START_DEBIT), a
        sleeper at most half a latency early (GENTLE_FAIR_SLEEPERS)."""
        if se.fresh:
            se.vruntime = rq.min_vruntime + _calc_delta_fair(self._sched_slice(rq, se),
                                                             se.weight)
            se.fresh = False
        elif se.slept:
            se.vruntime = max(se.vruntime, rq.min_vruntime - self.latency // 2)
        se.slept = False

    def _rebase(self, se: CfsEntity, dst: CfsRq) -> None:
        """migrate_task_rq_fair: keep *se*'s lag behind min_vruntime across queues."""
        src = se.rq
        if src is not None and src is not dst and not se.fresh:
            self._update_curr(src, self.core.now)
            se.vruntime += dst.min_vruntime - src.min_vruntime
        se.rq = dst

    # --- placement ---------------------------------------------------------------------------
    def _rq_of(self, cpu: int) -> CfsRq:
        return self.core.hyp.pcpus[cpu].sched_priv  # type: ignore[no-any-return]

    def _select_cpu(self, vcpu: VCPU) -> int:
        """select_task_rq_fair, simplified: an idle allowed pCPU (soft affinity first,
        from the previous pCPU on), else the previous one, else the least loaded."""
        ids = self.pool.cpu_ids
        prev = vcpu.processor.cpu_id
        for mask in balance_steps(vcpu, ids):
            for cpu in cycle_order(prev, mask):
                if self._rq_of(cpu).nr_running == 0:
                    return cpu
        hard = vcpu.hard_affinity & ids
        if prev in hard and not vcpu.sched_priv.fresh:
            return prev
        return min(cycle_order(prev, hard), key=lambda c: self._rq_of(c).load)

    def pick_cpu(self, vcpu: VCPU) -> PCPU:
        return self.core.hyp.pcpus[self._select_cpu(vcpu)]

    # --- sleep, wake, yield --------------------------------------------------------------------
    def sleep(self, vcpu: VCPU) -> None:
        se: CfsEntity = vcpu.sched_priv
        if not vcpu.pause_flags & PauseFlag.MIGRATING:
            se.slept = True
        rq = se.rq
        if rq is not None and rq.curr is se:
            self.core.raise_softirq(rq.pcpu)  # do_schedule dequeues it
        elif se.on_rq and rq is not None:
            self._dequeue(rq, se)

    def wake(self, vcpu: VCPU) -> None:
        se: CfsEntity = vcpu.sched_priv
        if se.on_rq:
            se.slept = False  # woken before its pCPU got round to descheduling it
            return
        now = self.core.now
        rq = self._rq_of(self._select_cpu(vcpu))
        self._update_curr(rq, now)
        self._rebase(se, rq)
        self._place(rq, se)
        self._enqueue(rq, se)
        self._check_preempt(rq, se)

    def _check_preempt(self, rq: CfsRq, se: CfsEntity) -> None:
        """check_preempt_wakeup, then a fresh look at the running slice (as HRTICK's
        hrtick_update does when the queue grows and the slice shrinks)."""
        curr = rq.curr
        if curr is None or self._wakeup_preempt(curr, se) > 0:
            if curr is not None:
                rq.need_resched = True
                self.stats["preempt"] += 1
            if self.core.trace.enabled:
                self.core.trace.emit(self.core.now, rq.pcpu.cpu_id, "tickle",
                                     se.vcpu.domain.domid, se.vcpu.vcpu_id)
        self.core.raise_softirq(rq.pcpu)

    def yield_(self, vcpu: VCPU) -> None:
        """yield_task_fair: become the skip buddy, passed over if the next is close."""
        se: CfsEntity = vcpu.sched_priv
        rq = se.rq
        if rq is None or rq.curr is not se or rq.nr_running == 1:
            return
        self._update_curr(rq, self.core.now)
        rq.skip = se
        rq.need_resched = True

    # --- the decision ------------------------------------------------------------------------
    def do_schedule(self, pcpu: PCPU, now: SimTime) -> tuple[VCPU, SimTime]:
        rq: CfsRq = pcpu.sched_priv
        curr = rq.curr
        if curr is not None:
            self._update_curr(rq, now)
            if curr.vcpu.runnable and not rq.need_resched:
                left = self._slice_left(rq, curr)
                if left:
                    return curr.vcpu, left
            if curr.vcpu.runnable:  # put_prev_entity: back in the tree
                rq.curr = None
                self._tree_insert(rq, curr)
            else:
                self._dequeue(rq, curr)
        rq.need_resched = False
        if not rq.tasks and pcpu.cpu_id in self.pool.cpu_ids:
            self._idle_pull(rq)
        se = self._pick_next(rq)
        if se is None:
            return pcpu.idle, -1
        self._tree_remove(rq, se)
        rq.curr = se
        se.exec_start = now
        se.prev_sum_exec_runtime = se.sum_exec_runtime
        self._update_min_vruntime(rq)
        return se.vcpu, (-1 if rq.nr_running == 1 else self._sched_slice(rq, se))

    def _slice_left(self, rq: CfsRq, curr: CfsEntity) -> SimTime:
        """What remains of *curr*'s slice: -1 if it runs alone, 0 if it is used up."""
        if rq.nr_running == 1:
            return -1
        ran = curr.sum_exec_runtime - curr.prev_sum_exec_runtime
        ideal = self._sched_slice(rq, curr)
        return ideal - ran if ran < ideal else 0

    def _pick_next(self, rq: CfsRq) -> CfsEntity | None:
        """pick_next_entity: the leftmost, unless it yielded and the next is close."""
        if not rq.tasks:
            return None
        se = rq.tasks[0][2]
        if se is rq.skip:
            if len(rq.tasks) > 1 and self._wakeup_preempt(rq.tasks[1][2], se) < 1:
                se = rq.tasks[1][2]
            else:
                rq.skip = None
        return se

    # --- load balancing ------------------------------------------------------------------------
    def _move(self, se: CfsEntity, src: CfsRq, dst: CfsRq) -> None:
        """detach_task + attach_task: a waiting entity changes run queue, keeping its lag."""
        self._dequeue(src, se)
        self._update_curr(dst, self.core.now)
        self._rebase(se, dst)
        self._enqueue(dst, se)
        if self.core.trace.enabled:
            self.core.trace.emit(self.core.now, dst.pcpu.cpu_id, "steal",
                                 se.vcpu.domain.domid, se.vcpu.vcpu_id, src.pcpu.cpu_id)

    def _idle_pull(self, rq: CfsRq) -> None:
        """newidle_balance: about to idle, take the leftmost allowed waiting entity of
        the busiest run queue."""
        cpu = rq.pcpu.cpu_id
        best: tuple[CfsRq, CfsEntity] | None = None
        for pcpu in self.pool.pcpus:
            src: CfsRq = pcpu.sched_priv
            if src is rq or (best is not None and (src.nr_running, src.load)
                             <= (best[0].nr_running, best[0].load)):
                continue
            se = next((e for _, _, e in src.tasks if cpu in e.vcpu.hard_affinity), None)
            if se is not None:
                best = (src, se)
        if best is not None:
            self._move(best[1], best[0], rq)
            self.stats["pull"] += 1

    def _periodic_balance(self) -> None:
        """rebalance_domains: every pCPU of the pool, in turn, pulls for itself."""
        rqs: list[CfsRq] = [p.sched_priv for p in self.pool.pcpus]
        for dst in rqs:
            self._load_balance(dst, rqs)
        if any(rq.tasks for rq in rqs):
            self._arm_balance()

    def _arm_balance(self) -> None:
        """Next balance in 0.5-1.5 intervals: the noise that keeps rotations varied."""
        jitter = self.rng.randrange(CFS_BALANCE_INTERVAL)
        self.balance_timer.set(self.core.now + CFS_BALANCE_INTERVAL // 2 + jitter)

    def _load_balance(self, dst: CfsRq, rqs: list[CfsRq]) -> None:
        """load_balance, simplified: pull the leftmost allowed waiting entity of the
        busiest queue (ties: the one whose running vCPU has had the least CPU) if its
        weight, halved per failed attempt, is at most half the load difference."""
        cpu = dst.pcpu.cpu_id
        best: tuple[tuple[int, int], CfsRq, CfsEntity] | None = None
        for src in rqs:
            if src.load <= dst.load:
                continue
            se = next((e for _, _, e in src.tasks if cpu in e.vcpu.hard_affinity), None)
            if se is None:
                continue
            key = (-src.load, src.curr.sum_exec_runtime if src.curr else 0)
            if best is None or key < best[0]:
                best = (key, src, se)
        if best is None:
            dst.balance_failed = 0
            return
        _, src, se = best
        if se.weight >> dst.balance_failed > (src.load - dst.load) // 2:
            dst.balance_failed = min(dst.balance_failed + 1, CFS_MAX_BALANCE_FAILED)
            return
        dst.balance_failed = 0
        self._move(se, src, dst)
        self._check_preempt(dst, se)
        self.stats["balance"] += 1

    # --- debug ---------------------------------------------------------------------------------
    def dump(self) -> str:
        def entity(se: CfsEntity) -> str:
            v = se.vcpu
            return (f"[{v.domain.domid}.{v.vcpu_id}] vruntime={se.vruntime} "
                    f"weight={se.weight} sum_exec={se.sum_exec_runtime}")

        lines = [f"Scheduler: {self.long_name} ({self.name})"]
        lines += [f"\t{k:28s} = {v}" for k, v in self.adjust_global().items()]
        lines.append("\t" + " ".join(f"{k}={v}" for k, v in self.stats.items()))
        for pcpu in self.pool.pcpus:
            rq: CfsRq = pcpu.sched_priv
            lines.append(f"cfs_rq[{pcpu.cpu_id}]: nr_running={rq.nr_running} load={rq.load} "
                         f"min_vruntime={rq.min_vruntime}")
            if rq.curr is not None:
                lines.append(f"\tcurr: {entity(rq.curr)}")
            lines += [f"\t{i:4d}: {entity(se)}" for i, (_, _, se) in enumerate(rq.tasks, 1)]
        return "\n".join(lines) + "\n"

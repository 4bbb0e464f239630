"""The credit scheduler: Xen's default for a decade, reproduced from credit.c.

Mirrors: xen/common/sched/credit.c (csched_tick, csched_acct,
csched_schedule, __runq_tickle, csched_load_balance, csched_unit_wake,
_csched_cpu_pick, csched_runq_steal).  Simplified: no locking; no
tasklets; ``this_cpu(last_tickle_cpu)`` is kept per pCPU but indexed by the
woken vCPU's pCPU (xensim has no "CPU executing the wake-up").
``opt_tickle_one_idle`` is on, as Xen's default.  ``_csched_cpu_pick`` uses
the host topology (SMT siblings, sockets) as Xen does; on the default flat
topology it reduces to "stay if idle, else the next idle pCPU".  Boot
parameters (``sched_credit_tslice_ms``, ``sched_ratelimit_us``,
``load-balance-ratelimit``, ``vcpu_migration_delay``) come from the host's
Xen command line.  ``csched_acct`` computes in 32-bit unsigned integers, as
credit.c does, so it wraps on big hosts with high weights as Xen does.

How it shares a host.  Each pCPU has a run queue ordered by priority:
BOOST (0) > UNDER (-1) > OVER (-2) > IDLE (-64), FIFO within a priority.
Credits are burnt from actual run time (10 credits a millisecond).  Every
tick (tslice/3 = 10 ms) the running vCPU is accounted: a BOOSTed one drops
to UNDER, and an idle one joins its domain's *active* list.  Every tslice
(30 ms) the master pCPU hands out ``credits_per_tslice`` per pCPU among
active domains by weight, clipped at what they could use (and at their cap);
a vCPU whose credit is negative is OVER, a capped one far below zero is
*parked* (paused) until its credit recovers, and a vCPU with more than a
tslice of credit leaves the active list with half its credit.  A vCPU
waking from block while UNDER is BOOSTed and tickles a pCPU, which is how
I/O-bound guests get low latency next to CPU hogs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from xensim.hypervisor.cmdline import XenCmdline
from xensim.hypervisor.domain import Domain
from xensim.hypervisor.sched.affinity import cpumask_cycle, cycle_order
from xensim.hypervisor.sched.credit_runq import (
    PRI_IDLE,
    PRI_TS_BOOST,
    PRI_TS_OVER,
    PRI_TS_UNDER,
    CreditRunq,
)
from xensim.hypervisor.sched.ops import SchedParamError, Scheduler, register_scheduler
from xensim.hypervisor.time import MICROSECS, MILLISECS
from xensim.hypervisor.timer import Timer
from xensim.hypervisor.vcpu import VCPU, PauseFlag

# Domain, Timer and VCPU are imported above at run time, not only for type checking:
# compiled by mypyc (make fast), the dataclasses below evaluate their field types.
if TYPE_CHECKING:
    from xensim.hypervisor.cpupool import Cpupool
    from xensim.hypervisor.pcpu import PCPU
    from xensim.hypervisor.sched.core import SchedCore
    from xensim.hypervisor.time import SimTime

CSCHED_DEFAULT_WEIGHT: Final = 256
CSCHED_TICKS_PER_TSLICE: Final = 3
CSCHED_DEFAULT_TSLICE_MS: Final = 30
CSCHED_CREDITS_PER_MSEC: Final = 10
CSCHED_MIN_TIMER: Final = MICROSECS(100)  # XEN_SYSCTL_SCHED_RATELIMIT_MIN
CSCHED_MAX_LOAD_BALANCE_RATELIMIT_US: Final = 1_000_000
U32: Final = 0xFFFF_FFFF
TSLICE_MIN_MS, TSLICE_MAX_MS = 1, 1000  # XEN_SYSCTL_CSCHED_TSLICE_{MIN,MAX}
RATELIMIT_MIN_US, RATELIMIT_MAX_US = 100, 500_000  # XEN_SYSCTL_SCHED_RATELIMIT_{MIN,MAX}
MGR_DLY_MAX_US: Final = 100_000  # XEN_SYSCTL_CSCHED_MGR_DLY_MAX_US
WEIGHT_MIN, WEIGHT_MAX = 1, 65535



def _s32(x: int) -> int:
    """*x* as a C ``int`` (two's complement, 32 bits)."""
    x &= U32
    return x - (1 << 32) if x & 0x8000_0000 else x


# Priorities (higher runs first): PRI_TS_BOOST > PRI_TS_UNDER > PRI_TS_OVER > PRI_IDLE.
PRI_NAMES = {PRI_TS_BOOST: "BOOST", PRI_TS_UNDER: "UNDER", PRI_TS_OVER: "OVER",
             PRI_IDLE: "IDLE"}

# svc.flags
FLAG_PARKED: Final = 1
FLAG_YIELD: Final = 2
FLAG_MIGRATING: Final = 4
FLAG_PINNED: Final = 8


@dataclass(slots=True, eq=False)
class CschedDom:
    dom: Domain
    weight: int = CSCHED_DEFAULT_WEIGHT
    cap: int = 0
    active_units: list[CschedUnit] = field(default_factory=list)
    active: bool = False


@dataclass(slots=True, eq=False)
class CschedUnit:
    vcpu: VCPU
    sdom: CschedDom | None
    pri: int
    credit: int = 0
    residual: int = 0
    start_time: SimTime = 0
    flags: int = 0
    last_sched_time: SimTime = 0
    on_runq: bool = False
    active: bool = False
    hard: frozenset[int] = frozenset()
    """Hard affinity within the pool (cached: load balancing reads it per peer)."""
    soft: frozenset[int] | None = None
    """Useful soft affinity within *hard*, or None (Xen's ``has_soft_affinity``)."""


@dataclass(slots=True, eq=False)
class CschedPcpu:
    ticker: Timer
    runq: CreditRunq[CschedUnit] = field(default_factory=CreditRunq)
    runq_sort_last: int = 0
    nr_runnable: int = 0
    last_load_balance: SimTime = 0
    idle_bias: int = 0
    last_tickle_cpu: int = 0
    """``this_cpu(last_tickle_cpu)``: where the last one-idler tickle from here went."""


class CreditScheduler(Scheduler):
    name = "credit"
    long_name = "SMP Credit Scheduler"
    sched_id = 5

    def __init__(self, core: SchedCore, pool: Cpupool, **params: Any) -> None:
        self.idlers: set[int] = set()
        self.cpus: list[PCPU] = []
        self.active_sdom: list[CschedDom] = []
        self.weight = 0
        self.credit_balance = 0
        self.runq_sort = 0
        self.master: PCPU | None = None
        self.master_ticker = core.new_timer(self._acct)
        self.balance_bias: dict[int, int] = {}
        """Per NUMA node: the pCPU stolen from last (the next search starts after it)."""
        self.nr_soft_affine = 0
        """vCPUs with a useful soft affinity: the soft balancing step is skipped at 0."""
        boot: XenCmdline = getattr(core.hyp, "cmdline", None) or XenCmdline()
        self.topology = core.hyp.topology
        self.smt_power_savings = bool(boot.sched_smt_power_savings)
        tslice_ms = boot.sched_credit_tslice_ms
        if not TSLICE_MIN_MS <= tslice_ms <= TSLICE_MAX_MS:
            tslice_ms = CSCHED_DEFAULT_TSLICE_MS  # csched_global_init's fallback
        self._set_tslice(tslice_ms)
        rl = boot.sched_ratelimit_us
        self.ratelimit = self.tslice if MICROSECS(rl) > self.tslice else MICROSECS(rl)
        delay = boot.vcpu_migration_delay
        self.unit_migr_delay = MICROSECS(delay if delay <= MGR_DLY_MAX_US else 0)
        self.load_balance_ratelimit = MICROSECS(min(boot.load_balance_ratelimit,
                                                    CSCHED_MAX_LOAD_BALANCE_RATELIMIT_US))
        self.stats = {"acct": 0, "boost": 0, "park": 0, "unpark": 0, "steal": 0, "tickle": 0,
                      "ratelimit": 0}
        super().__init__(core, pool, **params)

    # --- parameters -------------------------------------------------------------------
    def _set_tslice(self, tslice_ms: int) -> None:
        self.tslice_ms = tslice_ms
        self.tslice = MILLISECS(tslice_ms)
        self.ticks_per_tslice = CSCHED_TICKS_PER_TSLICE if tslice_ms >= CSCHED_TICKS_PER_TSLICE \
            else 1
        self.tick_period = MICROSECS(tslice_ms * 1000 // self.ticks_per_tslice)
        self.credits_per_tslice = CSCHED_CREDITS_PER_MSEC * tslice_ms
        self.credit = self.credits_per_tslice * len(self.cpus)

    def adjust_global(self, params: dict[str, Any] | None = None) -> dict[str, Any]:
        if params:
            unknown = set(params) - {"tslice_ms", "ratelimit_us", "migration_delay_us"}
            if unknown:
                raise SchedParamError(f"unknown credit parameter(s) {sorted(unknown)}; known: "
                                      "tslice_ms, ratelimit_us, migration_delay_us")
            tslice = int(params.get("tslice_ms", self.tslice_ms))
            rl = int(params.get("ratelimit_us", self.ratelimit // 1000))
            delay = int(params.get("migration_delay_us", self.unit_migr_delay // 1000))
            if not TSLICE_MIN_MS <= tslice <= TSLICE_MAX_MS:
                raise SchedParamError(f"tslice_ms must be in {TSLICE_MIN_MS}..{TSLICE_MAX_MS}, "
                                      f"got {tslice}")
            if rl and not RATELIMIT_MIN_US <= rl <= RATELIMIT_MAX_US:
                raise SchedParamError(f"ratelimit_us must be 0 or in {RATELIMIT_MIN_US}.."
                                      f"{RATELIMIT_MAX_US}, got {rl}")
            if MICROSECS(rl) > MILLISECS(tslice):
                raise SchedParamError(f"ratelimit_us ({rl}) must not exceed tslice_ms ({tslice})")
            if not 0 <= delay <= MGR_DLY_MAX_US:
                raise SchedParamError(f"migration_delay_us must be in 0..{MGR_DLY_MAX_US}")
            self._set_tslice(tslice)
            self.ratelimit = MICROSECS(rl)
            self.unit_migr_delay = MICROSECS(delay)
        return {"tslice_ms": self.tslice_ms, "ratelimit_us": self.ratelimit // 1000,
                "migration_delay_us": self.unit_migr_delay // 1000}

    def adjust(self, dom: Domain, params: dict[str, Any] | None = None) -> dict[str, Any]:
        sdom: CschedDom = dom.sched_priv
        if params:
            unknown = set(params) - {"weight", "cap"}
            if unknown:
                raise SchedParamError(f"unknown credit domain parameter(s) {sorted(unknown)}; "
                                      "known: weight, cap")
            weight = params.get("weight")
            cap = params.get("cap")
            if weight is not None and not WEIGHT_MIN <= int(weight) <= WEIGHT_MAX:
                raise SchedParamError(f"weight must be in {WEIGHT_MIN}..{WEIGHT_MAX}, "
                                      f"got {weight}")
            if cap is not None and not 0 <= int(cap) <= 100 * len(dom.vcpus):
                raise SchedParamError(f"cap must be in 0..{100 * len(dom.vcpus)} "
                                      f"(100 per vCPU), got {cap}")
            if weight is not None:
                if sdom.active:
                    self.weight += (int(weight) - sdom.weight) * len(sdom.active_units)
                sdom.weight = int(weight)
            if cap is not None:
                sdom.cap = int(cap)
        return {"weight": sdom.weight, "cap": sdom.cap}

    # --- life cycle ---------------------------------------------------------------------
    def init_pdata(self, pcpu: PCPU) -> None:
        now = self.core.now
        pcpu.sched_priv = CschedPcpu(ticker=self.core.new_timer(lambda: self._tick(pcpu)),
                                     runq_sort_last=self.runq_sort, last_load_balance=now,
                                     idle_bias=len(self.core.hyp.pcpus) - 1)
        self.cpus.append(pcpu)
        self.cpus.sort(key=lambda p: p.cpu_id)
        self.credit += self.credits_per_tslice
        node = self.topology.node(pcpu.cpu_id)
        if not any(self.topology.node(p.cpu_id) == node for p in self.cpus if p is not pcpu):
            self.balance_bias[node] = pcpu.cpu_id
        if self.master is None:
            self.master = pcpu
            self.master_ticker.set(now + self.tslice)
        pcpu.sched_priv.ticker.set(now + self.tick_period)
        pcpu.idle.sched_priv = CschedUnit(pcpu.idle, None, PRI_IDLE)
        if pcpu.curr.is_idle:
            self.idlers.add(pcpu.cpu_id)

    def deinit_pdata(self, pcpu: PCPU) -> None:
        spc: CschedPcpu = pcpu.sched_priv
        spc.ticker.stop()
        self.cpus.remove(pcpu)
        self.credit -= self.credits_per_tslice
        self.idlers.discard(pcpu.cpu_id)
        if self.master is pcpu:
            # migrate_timer: the accounting keeps its beat on the next master; it stops
            # with the last pCPU (kill_timer).
            self.master = self.cpus[0] if self.cpus else None
            if self.master is None:
                self.master_ticker.stop()
        pcpu.sched_priv = None

    def alloc_domdata(self, dom: Domain) -> CschedDom:
        return CschedDom(dom)

    def alloc_vdata(self, vcpu: VCPU) -> CschedUnit:
        return CschedUnit(vcpu, vcpu.domain.sched_priv, PRI_TS_UNDER)

    def insert(self, vcpu: VCPU) -> None:
        svc: CschedUnit = vcpu.sched_priv
        self._update_affinity(svc)
        vcpu.processor = self.pick_cpu(vcpu)
        # csched_unit_insert queues the vCPU without tickling anyone: the unpause
        # that follows (vcpu_wake) tickles.
        if not svc.on_runq and vcpu.runnable and not vcpu.is_running:
            self._runq_insert(svc)

    def remove(self, vcpu: VCPU) -> None:
        svc: CschedUnit = vcpu.sched_priv
        self.nr_soft_affine -= svc.soft is not None
        if svc.on_runq:
            self._runq_remove(svc)
        if svc.flags & FLAG_PARKED:
            svc.flags &= ~FLAG_PARKED
            vcpu.pause_count -= 1
        if svc.active:
            self._acct_stop(svc)

    # --- run queues ----------------------------------------------------------------------
    def _runq_insert(self, svc: CschedUnit) -> None:
        spc: CschedPcpu = svc.vcpu.processor.sched_priv
        # Before the first vCPU of lower priority; a yielding vCPU goes behind one
        # lower-priority (non-idle) vCPU if it can.
        spc.runq.insert(svc, bool(svc.flags & FLAG_YIELD))
        svc.on_runq = True
        spc.nr_runnable += 1

    def _runq_remove(self, svc: CschedUnit) -> None:
        spc: CschedPcpu = svc.vcpu.processor.sched_priv
        spc.runq.remove(svc)
        svc.on_runq = False
        svc.flags &= ~FLAG_YIELD  # __runq_remove: the yield ends when it leaves the queue
        spc.nr_runnable -= 1

    @staticmethod
    def _runq_take(spc: CschedPcpu, svc: CschedUnit) -> None:
        """__runq_remove of the chosen vCPU: off the queue, still counted as runnable."""
        if svc.on_runq:
            spc.runq.remove(svc)
            svc.on_runq = False
            svc.flags &= ~FLAG_YIELD

    def _runq_sort(self, pcpu: PCPU) -> None:
        """Move UNDER (and BOOST) vCPUs ahead of OVER ones after an accounting pass."""
        spc: CschedPcpu = pcpu.sched_priv
        if spc.runq_sort_last == self.runq_sort:
            return
        spc.runq_sort_last = self.runq_sort
        spc.runq.sort()

    # --- credits -----------------------------------------------------------------------
    def _burn_credits(self, svc: CschedUnit, now: SimTime) -> None:
        delta = now - svc.start_time
        if delta <= 0:
            return
        val = delta * CSCHED_CREDITS_PER_MSEC + svc.residual
        credits, svc.residual = divmod(val, 1_000_000)
        svc.credit -= credits
        svc.start_time += credits * 1_000_000 // CSCHED_CREDITS_PER_MSEC

    def _acct_start(self, svc: CschedUnit) -> None:
        sdom = svc.sdom
        assert sdom is not None
        if not svc.active:
            svc.active = True
            sdom.active_units.insert(0, svc)
            self.weight += sdom.weight
            if not sdom.active:
                sdom.active = True
                self.active_sdom.insert(0, sdom)

    def _acct_stop(self, svc: CschedUnit) -> None:
        sdom = svc.sdom
        assert sdom is not None
        svc.active = False
        sdom.active_units.remove(svc)
        self.weight -= sdom.weight
        if not sdom.active_units:
            sdom.active = False
            self.active_sdom.remove(sdom)

    def _unit_acct(self, pcpu: PCPU) -> None:
        """Tick-time accounting of the vCPU running on *pcpu* (csched_unit_acct)."""
        v = pcpu.curr
        svc: CschedUnit = v.sched_priv
        if svc.pri == PRI_TS_BOOST:
            svc.pri = PRI_TS_UNDER
            if self.core.trace.enabled:
                self.core.trace.emit(self.core.now, pcpu.cpu_id, "boost_end",
                                     v.domain.domid, v.vcpu_id)
        self._burn_credits(svc, self.core.now)
        if not svc.active:
            self._acct_start(svc)
        elif self._cpu_pick(v) is not pcpu:
            v.pause_flags |= PauseFlag.MIGRATING
            self.core.raise_softirq(pcpu)

    def _tick(self, pcpu: PCPU) -> None:
        spc: CschedPcpu = pcpu.sched_priv
        if not pcpu.curr.is_idle:
            self._unit_acct(pcpu)
        self._runq_sort(pcpu)
        spc.ticker.set(self.core.now + self.tick_period)

    def _acct(self) -> None:
        """The master's accounting pass every tslice (csched_acct).

        credit.c computes credit_total, weight_total, weight_left, credit_fair,
        credit_peak and credit_cap as ``uint32_t``; every step below is masked to
        32 bits (and the signed ones wrapped) so that big hosts with high weights
        get exactly the credits Xen gives them, wrap-arounds included.
        """
        self.stats["acct"] += 1
        weight_total = self.weight & U32
        credit_total = self.credit & U32
        if self.credit_balance < 0:
            credit_total = (credit_total - self.credit_balance) & U32
        if weight_total == 0:
            self.credit_balance = 0
            self.master_ticker.set(self.core.now + self.tslice)
            return
        cpt = self.credits_per_tslice
        weight_left = weight_total
        credit_balance = 0
        credit_xtra = False
        credit_cap = 0
        for sdom in list(self.active_sdom):
            n_active = len(sdom.active_units)
            weight_left = (weight_left - sdom.weight * n_active) & U32
            credit_peak = (n_active * cpt) & U32
            if self.credit_balance < 0:
                # int arithmetic (-balance * weight * count), then unsigned
                extra = _s32(-self.credit_balance * sdom.weight * n_active)
                credit_peak = (credit_peak
                               + ((extra + weight_total - 1) & U32) // weight_total) & U32
            if sdom.cap:
                credit_cap = ((sdom.cap * cpt + 99) & U32) // 100
                if credit_cap < credit_peak:
                    credit_peak = credit_cap
                credit_cap = ((credit_cap + n_active - 1) & U32) // n_active
            credit_fair = ((credit_total * sdom.weight * n_active + weight_total - 1) & U32) \
                // weight_total
            if credit_fair < credit_peak:
                credit_xtra = True
            else:
                if weight_left:
                    # Hand the surplus back to the domains still to come.
                    credit_total = (credit_total
                                    + (((credit_fair - credit_peak) * weight_total
                                        + weight_left - 1) & U32) // weight_left) & U32
                if credit_xtra:
                    self.active_sdom.remove(sdom)
                    self.active_sdom.insert(0, sdom)
                credit_fair = credit_peak
            credit_fair = ((credit_fair + n_active - 1) & U32) // n_active
            for svc in list(sdom.active_units):
                svc.credit = credit = _s32(svc.credit + credit_fair)  # atomic_add on an int
                old, svc.pri = svc.pri, PRI_TS_OVER if credit < 0 else PRI_TS_UNDER
                if svc.on_runq and svc.pri != old:  # it keeps its place, as in Xen
                    svc.vcpu.processor.sched_priv.runq.repriced(svc, old)
                if credit < 0:
                    if sdom.cap and credit < -credit_cap and not svc.flags & FLAG_PARKED:
                        svc.flags |= FLAG_PARKED
                        self.stats["park"] += 1
                        self._trace("park", svc)
                        self.core.vcpu_pause(svc.vcpu)
                    if credit < -cpt:
                        svc.credit = credit = -cpt
                else:
                    if svc.flags & FLAG_PARKED:
                        self.stats["unpark"] += 1
                        self._trace("unpark", svc)
                        self.core.vcpu_unpause(svc.vcpu)
                        svc.flags &= ~FLAG_PARKED
                    if credit > cpt:
                        self._acct_stop(svc)
                        svc.credit = credit = int(credit / 2)
                credit_balance = _s32(credit_balance + credit)
        self.credit_balance = credit_balance
        self.runq_sort += 1
        if self.core.trace.enabled:
            self.core.trace.emit(self.core.now, self.master.cpu_id if self.master else -1,
                                 "credit_acct", -1, -1, weight_total, credit_total)
        self.master_ticker.set(self.core.now + self.tslice)

    def _trace(self, event: str, svc: CschedUnit) -> None:
        if self.core.trace.enabled:
            v = svc.vcpu
            self.core.trace.emit(self.core.now, v.processor.cpu_id, event, v.domain.domid,
                                 v.vcpu_id, svc.credit)

    # --- placement ------------------------------------------------------------------------
    def _balance_steps(self, v: VCPU) -> list[frozenset[int]]:
        """Soft affinity first (when it is useful), then hard: Xen's balance steps."""
        svc: CschedUnit = v.sched_priv
        return [svc.soft, svc.hard] if svc.soft is not None else [svc.hard]

    def _cpu_pick(self, v: VCPU, commit: bool = False) -> PCPU:
        """_csched_cpu_pick: stay if idle, else prefer the idle pCPU with the idlest
        neighbourhood (SMT siblings within a socket, a socket twice as idle across)."""
        topo = self.topology
        cur = v.processor.cpu_id
        cpu = cur
        spc: CschedPcpu | None = None
        for mask in self._balance_steps(v):
            if not mask:
                continue
            cpu = cur if cur in mask else cpumask_cycle(cur, mask)
            idlers = set(self.idlers)
            here = v.processor.sched_priv if v.processor.pool is self.pool else None
            if cur == cpu and here is not None and not any(
                    not s.vcpu.is_idle for s in here.runq.vcpus):
                idlers.add(cpu)
            cpus = idlers & mask
            if cpu not in cpus and cpus:
                cpu = cpumask_cycle(cpu, cpus)
            cpus.discard(cpu)
            while cpus:
                nxt = cpumask_cycle(cpu, cpus)
                if topo.same_socket(cpu, nxt):
                    factor = 1  # same socket: compare idle threads of the two cores
                    cpu_idlers = idlers & topo.siblings(cpu)
                    nxt_idlers = idlers & topo.siblings(nxt)
                else:
                    factor = 2  # other socket: move only if it is twice as idle
                    cpu_idlers = idlers & topo.core_mask(cpu)
                    nxt_idlers = idlers & topo.core_mask(nxt)
                if (len(cpu_idlers) > len(nxt_idlers) if self.smt_power_savings
                        else len(cpu_idlers) * factor < len(nxt_idlers)):
                    spc = self.core.hyp.pcpus[nxt].sched_priv
                    assert spc is not None
                    cpu = cpumask_cycle(spc.idle_bias, nxt_idlers & cpus)
                    cpus -= topo.siblings(cpu)
                else:
                    cpus -= nxt_idlers
            if cpu in idlers:
                break
        if commit and spc is not None:
            spc.idle_bias = cpu
        return self.core.hyp.pcpus[cpu]

    def pick_cpu(self, vcpu: VCPU) -> PCPU:
        svc: CschedUnit = vcpu.sched_priv
        svc.flags |= FLAG_MIGRATING
        return self._cpu_pick(vcpu, commit=True)

    def adjust_affinity(self, vcpu: VCPU) -> None:
        self._update_affinity(vcpu.sched_priv)

    def _update_affinity(self, svc: CschedUnit) -> None:
        """Cache the masks and the PINNED flag (csched_aff_cntl)."""
        v = svc.vcpu
        hard = v.hard_affinity & self.pool.cpu_ids
        soft = v.soft_affinity
        self.nr_soft_affine -= svc.soft is not None
        svc.hard = hard
        svc.soft = soft & hard if soft is not None and soft & hard and not hard <= soft \
            else None
        self.nr_soft_affine += svc.soft is not None
        if len(hard) == 1:
            svc.flags |= FLAG_PINNED
        else:
            svc.flags &= ~FLAG_PINNED

    # --- sleep, wake, yield -----------------------------------------------------------------
    def sleep(self, vcpu: VCPU) -> None:
        svc: CschedUnit = vcpu.sched_priv
        if vcpu.processor.curr is vcpu:
            self.core.raise_softirq(vcpu.processor)
        elif svc.on_runq:
            self._runq_remove(svc)

    def wake(self, vcpu: VCPU) -> None:
        svc: CschedUnit = vcpu.sched_priv
        if vcpu.processor.curr is vcpu or svc.on_runq:
            return
        migrating = svc.flags & FLAG_MIGRATING
        svc.flags &= ~FLAG_MIGRATING
        if not migrating and svc.pri == PRI_TS_UNDER and not svc.flags & FLAG_PARKED:
            svc.pri = PRI_TS_BOOST
            self.stats["boost"] += 1
            self._trace("boost_start", svc)
        self._runq_insert(svc)
        self._runq_tickle(svc)

    def yield_(self, vcpu: VCPU) -> None:
        vcpu.sched_priv.flags |= FLAG_YIELD

    def _runq_tickle(self, new: CschedUnit) -> None:
        """Choose which pCPU(s) to poke for a newly queued vCPU (__runq_tickle)."""
        v = new.vcpu
        pcpu = v.processor
        cpu = pcpu.cpu_id
        cur: CschedUnit = pcpu.curr.sched_priv
        idle_mask = self.idlers & self.pool.cpu_ids
        mask: set[int] = set()
        if new.flags & FLAG_PINNED and cpu in idle_mask:
            mask.add(cpu)
        elif cur.pri == PRI_IDLE or (not idle_mask and new.pri > cur.pri):
            mask.add(cpu)
        elif idle_mask:
            steps = self._balance_steps(v)
            for step, aff in enumerate(steps):
                suitable = aff & idle_mask
                if not suitable and step == 0 and len(steps) == 2:
                    continue
                if not suitable and new.pri > cur.pri:
                    if v.hard_affinity & idle_mask:
                        pcpu.curr.pause_flags |= PauseFlag.MIGRATING
                    mask.add(cpu)
                elif suitable:
                    here: CschedPcpu = pcpu.sched_priv
                    here.last_tickle_cpu = cpumask_cycle(here.last_tickle_cpu, suitable)
                    mask.add(here.last_tickle_cpu)
                if mask:
                    break
        for c in sorted(mask):
            self.idlers.discard(c)
            self.stats["tickle"] += 1
            if self.core.trace.enabled:
                self.core.trace.emit(self.core.now, c, "tickle", v.domain.domid, v.vcpu_id)
            self.core.raise_softirq(self.core.hyp.pcpus[c])

    # --- the decision -------------------------------------------------------------------------
    def _runq_steal(self, peer: PCPU, cpu: int, pri: int, step: int) -> CschedUnit | None:
        queued = peer.sched_priv.runq.vcpus
        # Nothing better than *pri* at the head, nothing anywhere: the walk would stop
        # at once (NOTE: for speed: balancing on 256 pCPUs asks every busy peer).
        if peer.curr.is_idle or not queued or queued[0].pri <= pri:
            return None
        now = self.core.now
        for speer in queued:
            if speer.pri <= pri:
                break
            if speer.flags & FLAG_YIELD:
                continue  # it yielded: it is waiting for a reason, leave it
            v = speer.vcpu
            aff = speer.soft if step == 0 else speer.hard
            if v.is_running or aff is None:
                continue
            hot = self.unit_migr_delay and now - speer.last_sched_time < self.unit_migr_delay
            if not hot and cpu in aff:
                self._runq_remove(speer)
                v.processor = self.core.hyp.pcpus[cpu]
                return speer
        return None

    def _load_balance(self, pcpu: PCPU, snext: CschedUnit) -> CschedUnit:
        """csched_load_balance: steal better work, own NUMA node first, then the others."""
        cpu = pcpu.cpu_id
        topo = self.topology
        busy = self.pool.cpu_ids - self.idlers - {cpu}
        if busy:
            pcpus, pri = self.core.hyp.pcpus, snext.pri
            node = topo.node(cpu)
            nodes = cycle_order(node, set(range(topo.nr_nodes)))
            for step in (0, 1) if self.nr_soft_affine else (1,):
                for peer_node in nodes:
                    workers = busy & topo.node_mask(peer_node)
                    if not workers:
                        continue
                    first = cpumask_cycle(self.balance_bias.get(peer_node, 0), workers)
                    for peer_cpu in cycle_order(first, workers):
                        peer = pcpus[peer_cpu]
                        if peer.sched_priv.nr_runnable <= 1:
                            continue
                        speer = self._runq_steal(peer, cpu, pri, step)
                        if speer is not None:
                            self.balance_bias[peer_node] = peer_cpu
                            self.stats["steal"] += 1
                            pcpu.sched_priv.nr_runnable += 1
                            if self.core.trace.enabled:
                                self.core.trace.emit(self.core.now, cpu, "steal",
                                                     speer.vcpu.domain.domid,
                                                     speer.vcpu.vcpu_id, peer_cpu)
                            return speer
        self._runq_take(pcpu.sched_priv, snext)
        return snext

    def do_schedule(self, pcpu: PCPU, now: SimTime) -> tuple[VCPU, SimTime]:
        spc: CschedPcpu = pcpu.sched_priv
        prev = pcpu.curr
        scurr: CschedUnit = prev.sched_priv
        runtime = now - prev.state_entry_time
        if runtime < 0:
            runtime = 0
        if not prev.is_idle:
            self._burn_credits(scurr, now)
            scurr.start_time -= now
            scurr.last_sched_time = now
        else:
            scurr.pri = PRI_IDLE

        if (not scurr.flags & FLAG_YIELD and self.ratelimit and prev.runnable
                and not prev.is_idle and runtime < self.ratelimit):
            scurr.start_time += now
            tslice = self.ratelimit - runtime
            if runtime < CSCHED_MIN_TIMER:
                tslice = CSCHED_MIN_TIMER
            self.stats["ratelimit"] += 1
            return prev, tslice

        if not prev.is_idle:
            if prev.runnable:
                self._runq_insert(scurr)
                spc.nr_runnable -= 1  # __runq_insert: still counted as runnable here
            else:
                spc.nr_runnable -= 1

        while True:
            if spc.runq.vcpus:
                snext = spc.runq.vcpus[0]
            else:
                snext = pcpu.idle.sched_priv
            # Balancing is rate-limited per pCPU (load-balance-ratelimit, Xen 4.18+).
            if snext.pri <= PRI_TS_OVER \
                    and now - spc.last_load_balance > self.load_balance_ratelimit:
                spc.last_load_balance = now
                snext = self._load_balance(pcpu, snext)
            else:
                self._runq_take(spc, snext)
            if snext.vcpu.is_idle or snext.vcpu.runnable:
                break

        if snext.pri == PRI_IDLE:
            self.idlers.add(pcpu.cpu_id)
        else:
            self.idlers.discard(pcpu.cpu_id)
        nxt = snext.vcpu
        if not nxt.is_idle:
            snext.start_time += now
        if prev.is_idle is False and nxt.is_idle:
            spc.ticker.stop()
        if prev.is_idle and not nxt.is_idle:
            spc.ticker.set(now + self.tick_period - now % self.tick_period)
        return nxt, (-1 if nxt.is_idle else self.tslice)

    # --- debug ----------------------------------------------------------------------------------
    def dump(self) -> str:
        lines = [f"Scheduler: {self.long_name} ({self.name})", "info:",
                 f"\tncpus              = {len(self.cpus)}",
                 f"\tmaster             = {self.master.cpu_id if self.master else -1}",
                 f"\tcredit             = {self.credit}",
                 f"\tcredit balance     = {self.credit_balance}",
                 f"\tweight             = {self.weight}",
                 f"\trunq_sort          = {self.runq_sort}",
                 f"\tdefault-weight     = {CSCHED_DEFAULT_WEIGHT}",
                 f"\ttslice             = {self.tslice_ms}ms",
                 f"\tratelimit          = {self.ratelimit // 1000}us",
                 f"\tcredits per msec   = {CSCHED_CREDITS_PER_MSEC}",
                 f"\tticks per tslice   = {self.ticks_per_tslice}",
                 f"\tmigration delay    = {self.unit_migr_delay // 1000}us",
                 "idlers: " + ",".join(str(c) for c in sorted(self.idlers))]
        for pcpu in self.cpus:
            spc: CschedPcpu = pcpu.sched_priv
            lines.append(f"CPU[{pcpu.cpu_id:02d}] nr_run={spc.nr_runnable}, "
                         f"sort={spc.runq_sort_last}")
            if not pcpu.curr.is_idle:
                lines.append("\trun: " + self._dump_unit(pcpu.curr.sched_priv))
            for i, svc in enumerate(spc.runq.vcpus, 1):
                lines.append(f"\t{i:3d}: " + self._dump_unit(svc))
        return "\n".join(lines) + "\n"

    @staticmethod
    def _dump_unit(svc: CschedUnit) -> str:
        v = svc.vcpu
        s = f"[{v.domain.domid}.{v.vcpu_id}] pri={svc.pri} flags={svc.flags:x} " \
            f"cpu={v.processor.cpu_id}"
        if svc.sdom is not None:
            s += f" credit={svc.credit} [w={svc.sdom.weight},cap={svc.sdom.cap}]"
        return s


# registered by a call, not a decorator: mypyc compiles only undecorated classes natively
register_scheduler(CreditScheduler)

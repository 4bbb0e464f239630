"""The generic scheduler core: softirqs, context switches, runstates, sleep and wake.

Mirrors: xen/common/sched/core.c (schedule, sched_context_switch,
vcpu_wake, vcpu_sleep_nosync, vcpu_block, vcpu_migrate_finish); simplified:
no locking, one vCPU per scheduling unit (no core scheduling).

The policy decides and the core acts.  ``schedule(pcpu)`` asks the pool's
policy for ``(next, slice)``, arms the slice timer, switches runstates and
starts the next vCPU's work.  Guest work advances only while its vCPU holds
a pCPU: the core keeps ``work_left`` up to date at every switch and arms one
work timer per pCPU for the running vCPU's completion.
"""

from __future__ import annotations

from functools import partial
from heapq import heappush
from typing import TYPE_CHECKING, Any, Final

from simpy.events import NORMAL

from xensim.hypervisor.timer import Expiry, Timer
from xensim.hypervisor.vcpu import PauseFlag, RunState, WorkDone

if TYPE_CHECKING:
    from xensim.hypervisor.hypervisor import Hypervisor
    from xensim.hypervisor.pcpu import PCPU
    from xensim.hypervisor.time import SimTime
    from xensim.hypervisor.vcpu import VCPU

_BLOCKED: Final = PauseFlag.BLOCKED
_MIGRATING: Final = PauseFlag.MIGRATING
_NOT_MIGRATING: Final = ~PauseFlag.MIGRATING


class SchedCore:
    """Scheduling mechanics shared by every policy of one host."""

    def __init__(self, hyp: Hypervisor) -> None:
        self.hyp = hyp
        self.env: Any = hyp.env
        """SimPy's environment; ``Any`` because SimPy types ``_now`` as int or float, and
        xensim's clock is integer ns (compiled with mypyc, an ``int`` is checked)."""
        self.trace = hyp.trace
        self.switch_cost = hyp.costs["context_switch"]
        self.nr_schedules = 0
        self.nr_switches = 0
        self._softirq_callbacks = (self._softirq,)
        # NOTE: for speed, as Timer does: SimPy's queue and event ids, read once.
        self._heap: list[Any] = self.env._queue
        self._ids: Any = self.env._eid

    @property
    def now(self) -> SimTime:
        return self.env._now  # type: ignore[attr-defined,no-any-return]

    def new_timer(self, fn: WorkDone) -> Timer:
        return Timer(self.env, fn)

    def setup_pcpu(self, pcpu: PCPU) -> None:
        # NOTE: partial rather than a lambda, one Python frame less per expiry (for speed).
        pcpu.s_timer = Timer(self.env, partial(self.schedule, pcpu))
        pcpu.work_timer = Timer(self.env, partial(self._work_complete, pcpu))

    # --- SCHEDULE_SOFTIRQ ---------------------------------------------------------
    def raise_softirq(self, pcpu: PCPU) -> None:
        """Ask *pcpu* to reschedule now; requests in one instant coalesce."""
        if not pcpu.softirq_pending:
            pcpu.softirq_pending = True
            # NOTE: inlined for speed (see benchmarks/): a zero-delay Timeout's place
            # in the queue, without building a Timeout (timer.queue_expiry).
            heappush(self._heap, (self.env._now, NORMAL, next(self._ids),
                                  Expiry(self._softirq_callbacks, pcpu)))

    def _softirq(self, ev: Expiry) -> None:
        pcpu = ev._value
        if pcpu.softirq_pending:
            self.schedule(pcpu)

    def schedule(self, pcpu: PCPU) -> None:
        """Xen's ``schedule()``: let the policy pick, then switch to its choice."""
        pcpu.softirq_pending = False
        if pcpu.pool is None:
            return  # a free pCPU (in no cpupool) only ever runs its idle vCPU
        now: SimTime = self.env._now  # an int, unboxed once (compiled)
        prev = pcpu.curr
        if not prev.is_idle:
            # NOTE: inlined for speed (see benchmarks/): _stop_work(prev, now) and
            # pcpu.work_timer.stop().
            done = now - prev.run_start
            if done > 0:
                if done > prev.work_left:
                    done = prev.work_left
                prev.work_left -= done
                kinds = prev.kind_ns
                kinds[prev.work_kind] = kinds.get(prev.work_kind, 0) + done
                prev.run_start = now
            pcpu.work_timer.active = False
        self.nr_schedules += 1
        nxt, tslice = pcpu.pool.sched.do_schedule(pcpu, now)
        if tslice >= 0:
            # NOTE: inlined for speed (see benchmarks/): pcpu.s_timer.set(now + tslice).
            timer, when = pcpu.s_timer, now + tslice
            timer.expires, timer.active = when, True
            if not 0 <= timer.queued_at <= when:
                timer._queue(when)
        else:
            pcpu.s_timer.active = False  # NOTE: inlined for speed: s_timer.stop()
        if nxt is prev:
            if not prev.is_idle:
                self._arm_work(pcpu, prev, now)
            return
        self._context_switch(pcpu, prev, nxt, now)

    def _context_switch(self, pcpu: PCPU, prev: VCPU, nxt: VCPU, now: SimTime) -> None:
        self.nr_switches += 1
        prev.is_running = False
        if prev.pause_flags & _BLOCKED:
            prev.runstate_change(RunState.BLOCKED, now)
        elif not (prev.pause_flags or prev.pause_count or prev.domain.pause_count):  # runnable
            prev.runstate_change(RunState.RUNNABLE, now)
        else:
            prev.runstate_change(RunState.OFFLINE, now)
        # NOTE: inlined for speed (see benchmarks/): nxt.runstate_change(RUNNING, now).
        delta = now - nxt.state_entry_time
        if delta > 0:
            nxt.runstate_time[nxt.runstate] += delta
        nxt.runstate = RunState.RUNNING
        nxt.state_entry_time = now
        nxt.is_running = True
        nxt.processor = pcpu
        pcpu.curr = nxt
        if self.trace.enabled:
            self.trace.emit(now, pcpu.cpu_id, "switch", nxt.domain.domid,
                            nxt.vcpu_id, prev.domain.domid, prev.vcpu_id)
        if not nxt.is_idle:
            nxt.nr_switches += 1
            if nxt.last_pcpu_id != pcpu.cpu_id:
                if nxt.last_pcpu_id >= 0:
                    nxt.nr_migrations += 1
                nxt.last_pcpu_id = pcpu.cpu_id
            if nxt.wake_time >= 0:
                nxt.wake_latencies.append(now - nxt.wake_time)
                nxt.wake_time = -1
            # Lazy context switch: going through the idle vCPU and back to
            # the same guest costs nothing, as in Xen's __context_switch.
            cost = 0
            if pcpu.last_guest is not nxt:
                cost = self.switch_cost
                pcpu.last_guest = nxt
                kinds = nxt.kind_ns
                kinds["context_switch"] = kinds.get("context_switch", 0) + cost
            nxt.run_start = now + cost
            # Xen delivers pending events on return to the guest
            if not (nxt.upcall_pending and nxt.guest is not None and nxt.guest.on_kick()):
                self._arm_work(pcpu, nxt, now)
        if prev.pause_flags & _MIGRATING:
            self.migrate_finish(prev)

    # --- guest work ---------------------------------------------------------------
    def set_work(self, v: VCPU, ns: SimTime, done: WorkDone, kind: str = "guest") -> None:
        """Give *v* ``ns`` of execution to do, then call *done* (while running)."""
        v.work_left = ns
        v.work_done = done
        v.work_kind = kind
        if v.is_running and v.processor.curr is v:
            now: SimTime = self.env._now  # an int, unboxed once (compiled)
            if v.run_start < now:
                v.run_start = now
            # NOTE: inlined for speed (see benchmarks/): _arm_work() and the work
            # timer's set().
            if done is not None and not (v.pause_flags & _NOT_MIGRATING or v.pause_count
                                         or v.domain.pause_count):
                timer, when = v.processor.work_timer, v.run_start + ns
                timer.expires, timer.active = when, True
                if not 0 <= timer.queued_at <= when:
                    timer._queue(when)

    def _arm_work(self, pcpu: PCPU, v: VCPU, now: SimTime) -> None:
        """Arm *pcpu*'s work timer for the completion of *v*'s work.

        A vCPU its policy picked runs guest code until the pCPU's next decision, as in
        Xen: credit2 flags a unit it has just picked MIGRATING, and that flag takes
        effect only when the unit is switched out, so it does not stop the work.  Any
        other flag or a pause takes the vCPU off its pCPU at this instant (the decision
        is already due), so no completion is armed for it: one SimPy event saved a
        block, the same results."""
        if v.work_done is not None and not (v.pause_flags & _NOT_MIGRATING or v.pause_count
                                            or v.domain.pause_count):
            start = v.run_start if v.run_start > now else now
            pcpu.work_timer.set(start + v.work_left)

    def _stop_work(self, v: VCPU, now: SimTime) -> None:
        """Account the progress of *v*'s work up to *now*."""
        done = now - v.run_start
        if done > 0:
            if done > v.work_left:
                done = v.work_left
            v.work_left -= done
            kinds = v.kind_ns
            kinds[v.work_kind] = kinds.get(v.work_kind, 0) + done
            v.run_start = now

    def _work_complete(self, pcpu: PCPU) -> None:
        v = pcpu.curr
        # NOTE: inlined for speed (see benchmarks/): _stop_work(v, now).
        now: SimTime = self.env._now  # an int, unboxed once (compiled)
        ran = now - v.run_start
        if ran > 0:
            if ran > v.work_left:
                ran = v.work_left
            v.work_left -= ran
            kinds = v.kind_ns
            kinds[v.work_kind] = kinds.get(v.work_kind, 0) + ran
            v.run_start = now
        done = v.work_done
        v.work_done = None
        if done is not None:
            done()

    def interrupt_work(self, v: VCPU) -> tuple[SimTime, WorkDone | None, str]:
        """Take away *v*'s current work (an upcall preempts it); returns it to resume."""
        if v.is_running:
            self._stop_work(v, self.env._now)  # type: ignore[attr-defined]
            v.processor.work_timer.stop()
        saved = (v.work_left, v.work_done, v.work_kind)
        v.work_left, v.work_done = 0, None
        return saved

    # --- sleep and wake -------------------------------------------------------------
    def vcpu_wake(self, v: VCPU) -> None:
        """Xen's ``vcpu_wake()``: a vCPU that may run again goes to its policy."""
        now: SimTime = self.env._now  # an int, unboxed once (compiled)
        if not (v.pause_flags or v.pause_count or v.domain.pause_count):  # v.runnable, inlined
            if v.runstate >= RunState.BLOCKED:
                if v.runstate == RunState.BLOCKED:
                    v.wake_time = now
                v.runstate_change(RunState.RUNNABLE, now)
            if self.trace.enabled:
                self.trace.emit(now, v.processor.cpu_id, "wake", v.domain.domid, v.vcpu_id)
            v.domain.pool.sched.wake(v)
        elif not (v.pause_flags & _BLOCKED) and v.runstate == RunState.BLOCKED:
            v.runstate_change(RunState.OFFLINE, now)

    def vcpu_sleep(self, v: VCPU) -> None:
        """Xen's ``vcpu_sleep_nosync()``: *v* may no longer run."""
        if not v.runnable:
            if v.runstate == RunState.RUNNABLE:
                v.runstate_change(RunState.OFFLINE, self.env._now)  # type: ignore[attr-defined]
            v.domain.pool.sched.sleep(v)

    def vcpu_block(self, v: VCPU) -> None:
        """SCHEDOP_block: sleep until an event arrives, unless one is pending."""
        v.pause_flags |= _BLOCKED
        if v.upcall_pending:
            v.pause_flags &= ~_BLOCKED
            return
        if self.trace.enabled:
            self.trace.emit(self.now, v.processor.cpu_id, "block", v.domain.domid, v.vcpu_id)
        self.vcpu_sleep(v)

    def vcpu_unblock(self, v: VCPU) -> None:
        if v.pause_flags & _BLOCKED:
            v.pause_flags &= ~_BLOCKED
            self.vcpu_wake(v)

    def vcpu_block_in_xen(self, v: VCPU) -> None:
        """Xen's ``wait_on_xen_event_channel``: *v* waits for an emulator, and no
        guest event wakes it (unlike SCHEDOP_block); Xen reports it offline."""
        v.pause_flags |= PauseFlag.BLOCKED_IN_XEN
        self.vcpu_sleep(v)

    def vcpu_unblock_in_xen(self, v: VCPU) -> None:
        if v.pause_flags & PauseFlag.BLOCKED_IN_XEN:
            v.pause_flags &= ~PauseFlag.BLOCKED_IN_XEN
            self.vcpu_wake(v)

    def vcpu_yield(self, v: VCPU) -> None:
        v.domain.pool.sched.yield_(v)
        self.raise_softirq(v.processor)

    def vcpu_pause(self, v: VCPU) -> None:
        v.pause_count += 1
        self.vcpu_sleep(v)

    def vcpu_unpause(self, v: VCPU) -> None:
        v.pause_count -= 1
        if v.pause_count == 0:
            self.vcpu_wake(v)

    def domain_pause(self, d) -> None:  # type: ignore[no-untyped-def]
        """Synchronous, as Xen's ``domain_pause`` (vcpu_sleep_sync): on return no vCPU
        of *d* is running any more."""
        d.pause_count += 1
        if d.pause_count == 1:
            for v in d.vcpus:
                self.vcpu_sleep(v)
                if v.is_running:
                    self.schedule(v.processor)

    def domain_unpause(self, d) -> None:  # type: ignore[no-untyped-def]
        d.pause_count -= 1
        if d.pause_count == 0:
            for v in d.vcpus:
                self.vcpu_wake(v)

    # --- migration and affinity ---------------------------------------------------
    def migrate_finish(self, v: VCPU) -> None:
        """Xen's ``vcpu_migrate_finish()``: re-home a vCPU flagged MIGRATING."""
        if v.is_running or not (v.pause_flags & _MIGRATING):
            return
        v.processor = v.domain.pool.sched.pick_cpu(v)
        v.pause_flags &= ~_MIGRATING
        if self.trace.enabled:
            self.trace.emit(self.now, v.processor.cpu_id, "migrate", v.domain.domid, v.vcpu_id)
        self.vcpu_wake(v)

    def set_affinity(self, v: VCPU, hard: frozenset[int] | None,
                     soft: frozenset[int] | None) -> None:
        """``vcpu-pin``: store the masks and move *v* if it now sits somewhere forbidden."""
        if hard is not None:
            v.hard_affinity = hard
        if soft is not None:
            v.soft_affinity = soft
        sched = v.domain.pool.sched
        sched.adjust_affinity(v)
        v.pause_flags |= _MIGRATING
        self.vcpu_sleep(v)
        self.migrate_finish(v)

"""The scheduling core (xen/common/sched/core.c) seen through one policy: pausing,
blocking in Xen, affinity changes and migration."""

from __future__ import annotations

import pytest

from tests.hypervisor.sched.helpers import assert_trace_well_formed, spies_on_credit
from xensim.host import Host
from xensim.hypervisor.vcpu import PauseFlag, RunState


def _running_host(pcpus: int = 3, **kw) -> Host:  # type: ignore[no-untyped-def]
    host = Host(pcpus=pcpus, seed=1, dom0_vcpus=1, **kw)
    host.create("d", workload="cpu", vcpus=2)
    host.run(ms=25)  # both wake on one pCPU at boot; the 2nd is moved at a tick (20 ms)
    return host


def test_domain_pause_is_synchronous_and_nests() -> None:
    # domain_pause (vcpu_sleep_sync): on return no vCPU of the domain runs; pauses nest
    # by pause_count and only the last unpause wakes the vCPUs again.
    host = _running_host()
    core, d = host.hv.core, host.domain("d")
    assert all(v.is_running for v in d.vcpus)
    core.domain_pause(d)
    assert not any(v.is_running for v in d.vcpus)
    assert all(v.runstate == RunState.OFFLINE for v in d.vcpus)
    core.domain_pause(d)
    core.domain_unpause(d)
    host.run(ms=1)
    assert not any(v.is_running for v in d.vcpus) and d.pause_count == 1
    core.domain_unpause(d)
    host.run(ms=1)
    assert all(v.is_running for v in d.vcpus)


def test_vcpu_pause_nests_and_the_last_unpause_wakes() -> None:
    host = _running_host()
    core, v = host.hv.core, host.domain("d").vcpus[0]
    core.vcpu_pause(v)
    core.vcpu_pause(v)
    host.run(ms=1)
    assert not v.is_running and v.runstate == RunState.OFFLINE and v.pause_count == 2
    core.vcpu_unpause(v)
    host.run(ms=1)
    assert not v.is_running
    core.vcpu_unpause(v)
    host.run(ms=1)
    assert v.is_running


def test_a_vcpu_blocked_in_xen_is_offline_and_only_the_emulator_wakes_it() -> None:
    # wait_on_xen_event_channel: _VPF_blocked_in_xen; a guest event (vcpu_unblock) does
    # not wake it, the emulator's notification (vcpu_unblock_in_xen) does.
    host = _running_host()
    core, v = host.hv.core, host.domain("d").vcpus[0]
    core.vcpu_block_in_xen(v)
    host.run(ms=1)
    assert v.pause_flags & PauseFlag.BLOCKED_IN_XEN and not v.is_running
    assert v.runstate == RunState.OFFLINE
    core.vcpu_unblock(v)
    host.run(ms=1)
    assert not v.is_running
    core.vcpu_unblock_in_xen(v)
    host.run(ms=1)
    assert v.is_running and not v.pause_flags & PauseFlag.BLOCKED_IN_XEN
    core.vcpu_unblock_in_xen(v)  # not blocked in Xen: nothing happens
    assert v.is_running


def test_pinning_a_running_vcpu_away_moves_it_and_keeps_the_other_mask() -> None:
    # vcpu_set_hard_affinity -> vcpu_migrate_start/finish: the vCPU is re-homed by the
    # policy's pick_cpu inside its new mask; a mask not given stays as it was.
    host = _running_host(3, trace=True)
    core, v = host.hv.core, host.domain("d").vcpus[0]
    soft = v.soft_affinity
    away = next(c for c in (0, 1, 2) if c != v.processor.cpu_id)
    core.set_affinity(v, frozenset({away}), None)
    assert v.hard_affinity == frozenset({away}) and v.soft_affinity == soft
    assert v.pause_flags & PauseFlag.MIGRATING  # running: it moves once switched out
    host.run(ms=2)
    assert v.is_running and v.processor.cpu_id == away
    assert not v.pause_flags & PauseFlag.MIGRATING
    core.set_affinity(v, None, frozenset({away}))
    assert v.hard_affinity == frozenset({away}) and v.soft_affinity == frozenset({away})
    migrations = [r for r in host.hv.trace.records if r.event == "migrate"]
    assert (away, host.domain("d").domid, 0) in {(r.cpu, r.domid, r.vcpu) for r in migrations}
    assert_trace_well_formed(host)


def _wakes(host: Host, v) -> int:  # type: ignore[no-untyped-def]
    return sum(1 for r in host.hv.trace.records
               if r.event == "wake" and (r.domid, r.vcpu) == (v.domain.domid, v.vcpu_id))


def test_unblocking_a_vcpu_that_is_not_blocked_wakes_nothing() -> None:
    # vcpu_unblock and the emulator's notification wake only a vCPU whose blocked bit
    # they clear (test_and_clear_bit): no TRC_SCHED_WAKE, no call to the policy.
    host = _running_host(trace=True)
    core, v = host.hv.core, host.domain("d").vcpus[0]
    wakes = _wakes(host, v)
    core.vcpu_unblock(v)
    core.vcpu_unblock_in_xen(v)
    assert _wakes(host, v) == wakes and v.is_running
    core.vcpu_block(v)
    host.run(ms=1)
    core.vcpu_unblock_in_xen(v)  # not the bit it is blocked on
    assert _wakes(host, v) == wakes and v.runstate == RunState.BLOCKED
    core.vcpu_unblock(v)
    assert _wakes(host, v) == wakes + 1


def test_pinning_a_blocked_vcpu_moves_it_and_keeps_it_blocked() -> None:
    # vcpu_migrate_start sets _VPF_migrating beside the other pause flags: the blocked
    # vCPU is re-homed but stays blocked until its event arrives.
    host = _running_host()
    core, v = host.hv.core, host.domain("d").vcpus[0]
    core.vcpu_block(v)
    host.run(ms=1)
    away = next(c for c in (0, 1, 2) if c != v.processor.cpu_id)
    core.set_affinity(v, frozenset({away}), None)
    host.run(ms=2)
    assert not v.is_running and v.runstate == RunState.BLOCKED
    assert v.processor.cpu_id == away and v.pause_flags == PauseFlag.BLOCKED
    core.vcpu_unblock(v)
    host.run(ms=1)
    assert v.is_running and v.processor.cpu_id == away


@pytest.mark.parametrize("in_xen", [False, True])
def test_a_vcpu_blocking_while_being_moved_still_moves(in_xen: bool) -> None:
    # Pinned away while running (MIGRATING pending until it is switched out), then
    # blocked (SCHEDOP_block, or in Xen) before that switch: both bits hold (set_bit),
    # so the switch re-homes it.
    host = _running_host()
    core, v = host.hv.core, host.domain("d").vcpus[0]
    away = next(c for c in (0, 1, 2) if c != v.processor.cpu_id)
    core.set_affinity(v, frozenset({away}), None)
    block, unblock, flag = ((core.vcpu_block_in_xen, core.vcpu_unblock_in_xen,
                             PauseFlag.BLOCKED_IN_XEN) if in_xen else
                            (core.vcpu_block, core.vcpu_unblock, PauseFlag.BLOCKED))
    block(v)
    host.run(ms=1)
    assert not v.is_running and v.processor.cpu_id == away and v.pause_flags == flag
    unblock(v)
    host.run(ms=1)
    assert v.is_running and v.processor.cpu_id == away


def test_a_pcpu_leaving_its_pool_moves_each_of_its_vcpus_once() -> None:
    # cpupool_unassign_cpu: the vCPU running there is re-homed when it is switched out
    # (vcpu_migrate_finish from the context switch); the second call for it finds the
    # MIGRATING bit already cleared and does nothing.
    host = _running_host(trace=True)
    d = host.domain("d")
    pcpu = d.vcpus[0].processor
    leaving = [v for v in d.vcpus if v.processor is pcpu]
    t0 = host.now
    host.hv.cpupool_unassign_cpu(pcpu)
    host.run(ms=1)
    for v in leaving:
        moves = [r for r in host.hv.trace.records if r.event == "migrate" and r.t >= t0
                 and (r.domid, r.vcpu) == (d.domid, v.vcpu_id)]
        assert len(moves) == 1 and v.processor is not pcpu and v.is_running


def _one_hog_on_one_pcpu() -> Host:
    host = Host(pcpus=1, seed=1, dom0_vcpus=1)
    host.create("d", workload="cpu", vcpus=1)
    host.run(ms=5)
    return host


def _scripted_slices(host: Host, slices: list[int]) -> list[int]:
    """Make the pool's policy return *slices* (in turn) as its next decisions' slice;
    returns the list of the times it is asked to decide."""
    sched = host.hv.pools[0].sched
    real, asked = sched.do_schedule, []

    def scripted(pcpu, now):  # type: ignore[no-untyped-def]
        asked.append(now)
        nxt, tslice = real(pcpu, now)
        return nxt, slices.pop(0) if slices else tslice

    sched.do_schedule = scripted  # type: ignore[method-assign]
    return asked


@spies_on_credit
def test_a_zero_slice_decides_again_at_once() -> None:
    # schedule(): the slice timer is armed whenever next_time >= 0, so a zero slice asks
    # for a new decision at the same instant.
    host = _one_hog_on_one_pcpu()
    asked = _scripted_slices(host, [0, -1])
    t = host.now
    host.hv.core.raise_softirq(host.hv.pcpus[0])
    host.run(ns=1)
    assert asked == [t, t]


@spies_on_credit
def test_a_negative_slice_stops_the_slice_timer() -> None:
    # A negative slice means no time limit (next_time < 0: stop_timer): the slice armed
    # by the decision before it never fires.
    host = _one_hog_on_one_pcpu()
    asked = _scripted_slices(host, [3_000_000, -1])
    core, pcpu, t = host.hv.core, host.hv.pcpus[0], host.now
    core.schedule(pcpu)
    core.schedule(pcpu)
    host.run(ms=4)
    assert asked[:2] == [t, t] and t + 3_000_000 not in asked


def test_unpausing_a_blocked_vcpu_leaves_it_blocked() -> None:
    # vcpu_wake of a vCPU that still may not run (its blocked bit set) changes nothing.
    host = _running_host()
    core, v = host.hv.core, host.domain("d").vcpus[0]
    core.vcpu_block(v)
    host.run(ms=1)
    core.vcpu_pause(v)
    core.vcpu_unpause(v)
    core.domain_pause(v.domain)
    core.domain_unpause(v.domain)
    host.run(ms=1)
    assert v.runstate == RunState.BLOCKED and not v.is_running


def test_an_event_for_a_paused_blocked_vcpu_makes_it_offline_until_unpaused() -> None:
    # vcpu_wake of a vCPU whose blocked bit was cleared but that is paused: blocked ->
    # offline (not runnable: no policy wake, no wake latency); the unpause runs it.
    host = _running_host(trace=True)
    core, v = host.hv.core, host.domain("d").vcpus[0]
    core.vcpu_block(v)
    host.run(ms=1)
    core.vcpu_pause(v)
    wakes, samples = _wakes(host, v), len(v.wake_latencies)
    core.vcpu_unblock(v)
    assert v.runstate == RunState.OFFLINE and _wakes(host, v) == wakes
    host.run(ms=1)
    core.vcpu_unpause(v)
    host.run(ms=1)
    assert v.is_running and _wakes(host, v) == wakes + 1
    assert len(v.wake_latencies) == samples  # woken from offline: not an event wake-up


def test_blocking_with_an_event_pending_returns_at_once() -> None:
    # vcpu_block: the blocked bit is set, then cleared again at once if an event is
    # pending (local_events_need_delivery): no trace record, the vCPU keeps running.
    host = _running_host(trace=True)
    core, v = host.hv.core, host.domain("d").vcpus[0]
    v.upcall_pending = True
    core.vcpu_block(v)
    v.upcall_pending = False
    assert v.pause_flags == 0 and v.is_running and v.runstate == RunState.RUNNING
    host.run(ms=1)
    assert v.is_running
    blocks = [r for r in host.hv.trace.records if r.event == "block"]
    assert not [r for r in blocks if (r.domid, r.vcpu) == (v.domain.domid, v.vcpu_id)]
    core.vcpu_block(v)
    blocks = [r for r in host.hv.trace.records if r.event == "block"]
    assert (blocks[-1].t, blocks[-1].cpu, blocks[-1].domid, blocks[-1].vcpu) == \
        (host.now, v.processor.cpu_id, v.domain.domid, v.vcpu_id)


def test_wake_latency_runs_from_an_event_wake_to_the_switch_in() -> None:
    # A vCPU woken from blocked records one sample: the time from its wake to when it
    # runs; it is sampled once, however often it is switched in afterwards.
    host = Host(pcpus=1, seed=1, dom0_vcpus=1, trace=True)
    a, b = (host.create(n, workload="cpu", vcpus=1).vcpus[0] for n in ("a", "b"))
    host.run(ms=5)
    core, v = host.hv.core, a if a.is_running else b
    core.vcpu_block(v)  # only a running vCPU blocks (SCHEDOP_block)
    host.run(ms=1)
    before = len(v.wake_latencies)
    t_wake = host.now
    core.vcpu_unblock(v)
    host.run(ms=100)  # credit's 30 ms slices: it runs, and is switched in again later
    ins = [r.t for r in host.hv.trace.records if r.event == "switch"
           and (r.domid, r.vcpu) == (v.domain.domid, v.vcpu_id) and r.t >= t_wake]
    assert len(ins) >= 2
    assert v.wake_latencies[before:] == [ins[0] - t_wake]


def test_a_switch_record_names_the_vcpu_switched_out() -> None:
    # TRC_SCHED_SWITCH carries the previous unit and the next one: each switch names
    # the vCPU the pCPU's switch before it switched in (or its idle vCPU first).
    host = _running_host(trace=True)
    host.run(ms=60)
    last: dict[int, tuple[int, int]] = {}
    for r in host.hv.trace.records:
        if r.event != "switch":
            continue
        if r.cpu in last:
            assert r.data == last[r.cpu], r
        last[r.cpu] = (r.domid, r.vcpu)
    assert len(last) == 3


def test_a_vcpu_woken_at_time_zero_still_samples_its_wake_latency() -> None:
    # The wake time is a time stamp: 0 is a real one (the boot instant), -1 means none.
    host = Host(pcpus=1, seed=1, dom0_vcpus=1)
    core, v = host.hv.core, host.dom0.vcpus[0]
    while not v.is_running:
        host.env.step()
    assert host.now == 0
    core.vcpu_block(v)
    while v.is_running:
        host.env.step()
    core.vcpu_unblock(v)
    while not v.is_running:
        host.env.step()
    assert host.now == 0 and v.wake_latencies == [0]


@spies_on_credit
def test_runstate_times_are_exact_to_the_nanosecond() -> None:
    # vcpu_runstate_change accounts every nanosecond: a vCPU woken at t and switched in
    # at t + 1 was runnable for 1 ns.
    host = Host(pcpus=1, seed=1, dom0_vcpus=1)
    v = host.create("d", workload="cpu", vcpus=1).vcpus[0]
    host.run(ms=5)
    core, pcpu, sched = host.hv.core, v.processor, v.domain.pool.sched
    core.vcpu_block(v)
    host.run(ms=1)
    runnable = v.runstate_time[RunState.RUNNABLE]
    real = sched.do_schedule
    sched.do_schedule = lambda p, now: (p.curr, -1)  # type: ignore[method-assign]
    core.vcpu_unblock(v)  # runnable now, but this decision keeps the idle vCPU
    host.run(ns=1)
    sched.do_schedule = real  # type: ignore[method-assign]
    core.schedule(pcpu)
    assert pcpu.curr is v and v.runstate_time[RunState.RUNNABLE] == runnable + 1

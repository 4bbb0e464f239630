"""The scheduling core's guest work: it progresses only while its vCPU holds a pCPU,
after the context switch's cost, and is accounted by kind to the nanosecond.

Mirrors the time a vCPU spends in a guest between two calls of Xen's ``schedule()``
(xen/common/sched/core.c): what runs between two decisions is the vCPU the last one
picked; a switch to a different guest pays ``__context_switch`` (the lazy switch through
the idle vCPU and back to the same guest pays nothing).
"""

from __future__ import annotations

from tests.hypervisor.sched.helpers import spies_on_credit
from xensim.host import Host
from xensim.hypervisor.vcpu import VCPU, PauseFlag


def _one_pcpu(*names: str, trace: bool = False) -> tuple[Host, list[VCPU]]:
    """A one-pCPU host whose guests (cpu hogs, one vCPU each) have started running."""
    host = Host(pcpus=1, seed=1, dom0_vcpus=1, trace=trace)
    vcpus = [host.create(n, workload="cpu", vcpus=1).vcpus[0] for n in names]
    host.run(ms=5)
    return host, vcpus


def _probe(host: Host, v: VCPU, ns: int, kind: str = "probe") -> list[int]:
    """Give *v* *ns* of work of *kind* (setting its own aside); returns the list its
    completion time is appended to."""
    host.hv.core.interrupt_work(v)
    done: list[int] = []
    host.hv.core.set_work(v, ns, lambda: done.append(host.now), kind=kind)
    return done


def _switch_in_times(host: Host, v: VCPU) -> list[int]:
    return [r.t for r in host.hv.trace.records
            if r.event == "switch" and (r.domid, r.vcpu) == (v.domain.domid, v.vcpu_id)]


def test_work_is_accounted_by_kind_to_the_nanosecond_at_each_schedule() -> None:
    # schedule() accounts the running vCPU's progress since the last decision: 1 ns of
    # progress is 1 ns of its kind, and a second decision adds to the first.
    host, (v,) = _one_pcpu("a")
    core, pcpu = host.hv.core, v.processor
    assert pcpu.curr is v
    done = _probe(host, v, 1000)
    before = dict(v.kind_ns)
    core.schedule(pcpu)  # at the same instant: no progress, and no empty "probe" entry
    assert "probe" not in v.kind_ns and v.work_left == 1000
    host.run(ns=1)
    core.schedule(pcpu)
    assert pcpu.curr is v and v.kind_ns["probe"] == 1 and v.work_left == 999
    host.run(ns=2)
    core.schedule(pcpu)
    assert v.kind_ns["probe"] == 3 and v.work_left == 997
    host.run(ns=1000)
    assert done == [host.now - 3]  # the work's 1000 ns ended 1000 ns after it was given
    assert v.kind_ns["probe"] == 1000 and v.work_left == 0
    assert {k: n for k, n in v.kind_ns.items() if k != "probe"} == before


def test_a_vcpu_running_out_of_work_accounts_no_more_than_it_had() -> None:
    # A vCPU that keeps its pCPU after its work is done progresses by what was left,
    # not by the time it held the pCPU.  Work without a continuation arms no completion:
    # it is accounted at the next decision.
    host, (v,) = _one_pcpu("a")
    core, pcpu = host.hv.core, v.processor
    core.interrupt_work(v)
    for kind in ("leftover", "kept"):
        core.set_work(v, 200, None, kind=kind)
        if kind == "kept":
            core.schedule(pcpu)  # a decision that keeps the vCPU arms nothing either
        host.run(ms=1)
        assert kind not in v.kind_ns
        core.schedule(pcpu)
        assert pcpu.curr is v and v.kind_ns[kind] == 200 and v.work_left == 0


def test_work_replaced_before_its_end_never_completes() -> None:
    # set_work replaces the work: the old continuation is not called, and the new work
    # (no continuation) is accounted to no more than its length.
    host, (v,) = _one_pcpu("a")
    core, pcpu = host.hv.core, v.processor
    done = _probe(host, v, 1000)
    core.set_work(v, 200, None, kind="leftover")
    host.run(ns=2000)
    core.schedule(pcpu)
    assert not done and v.kind_ns["leftover"] == 200 and v.work_left == 0
    assert "probe" not in v.kind_ns


def test_work_given_while_switched_out_starts_after_the_switch_cost() -> None:
    # Back on a pCPU whose last guest was another one, the vCPU pays the context switch
    # (accounted as its "context_switch" time) before its work progresses.
    host, (a, b) = _one_pcpu("a", "b", trace=True)
    host.run(ms=30)  # both have run once (credit's 30 ms slice)
    cost = host.hv.core.switch_cost
    assert cost > 0
    running, waiting = (a, b) if a.is_running else (b, a)
    done_running = _probe(host, running, 10**10)
    done = _probe(host, waiting, 1000)  # does not touch the running vCPU's work
    switch_ns = waiting.kind_ns["context_switch"]
    host.run(ms=40)  # credit's 30 ms slice ends within this
    t_in = [t for t in _switch_in_times(host, waiting) if t > host.now - 40_000_000]
    assert t_in and done == [t_in[0] + cost + 1000] and not done_running
    assert waiting.kind_ns["context_switch"] == switch_ns + cost


def test_the_lazy_switch_back_to_the_same_guest_costs_nothing() -> None:
    # __context_switch is skipped when the idle vCPU ran in between and the same guest
    # comes back: the work starts at once.
    host, (v,) = _one_pcpu("a", trace=True)
    core = host.hv.core
    assert v.nr_switches == 1 and v.kind_ns["context_switch"] == core.switch_cost
    core.vcpu_pause(v)
    host.run(ms=1)
    assert not v.is_running and v.processor.last_guest is v
    done = _probe(host, v, 1000)
    switch_ns = v.kind_ns["context_switch"]
    core.vcpu_unpause(v)
    host.run(ms=1)
    t_in = _switch_in_times(host, v)[-1]
    assert done == [t_in + 1000]
    assert v.kind_ns["context_switch"] == switch_ns


def test_interrupted_work_is_accounted_up_to_now_and_handed_back() -> None:
    # An upcall takes the running vCPU's work away: what ran is accounted, the rest is
    # returned to be resumed, and nothing completes or progresses meanwhile.
    host, (v,) = _one_pcpu("a")
    core, pcpu = host.hv.core, v.processor
    done = _probe(host, v, 1000)
    t = host.now
    host.run(ns=1)
    saved = core.interrupt_work(v)
    assert (saved[0], saved[2]) == (999, "probe") and saved[1] is not None
    assert v.kind_ns["probe"] == 1
    assert v.work_left == 0 and v.work_done is None
    host.run(ms=1)
    core.schedule(pcpu)
    assert not done and v.kind_ns["probe"] == 1 and v.work_left == 0
    core.set_work(v, *saved)
    host.run(ns=299)
    again = core.interrupt_work(v)
    assert again[0] == 700 and v.kind_ns["probe"] == 300
    core.set_work(v, *again)
    host.run(ms=1)
    assert done == [t + 1 + 1_000_000 + 999] and v.kind_ns["probe"] == 1000
    core.set_work(v, 100, None, kind="leftover")  # no continuation: runs past its end
    host.run(ms=1)
    assert core.interrupt_work(v) == (0, None, "leftover") and v.kind_ns["leftover"] == 100
    core.set_work(v, 100, lambda: None, kind="fresh")
    core.interrupt_work(v)  # at the same instant: nothing ran, no empty entry
    assert "fresh" not in v.kind_ns


def test_tiny_work_completes_on_time_and_is_accounted_exactly() -> None:
    # 1 ns of work completes 1 ns later and counts 1 ns; zero work completes at once and
    # adds no entry of its kind.
    host, (v,) = _one_pcpu("a")
    core = host.hv.core
    done = _probe(host, v, 1, kind="one")
    host.run(ns=5)
    assert done == [host.now - 4] and v.kind_ns["one"] == 1 and v.work_left == 0
    assert v.work_done is None and v.is_running  # done, and nothing more to complete
    zero: list[int] = []
    core.set_work(v, 0, lambda: zero.append(host.now), kind="zero")
    host.run(ns=5)
    assert zero == [host.now - 5] and "zero" not in v.kind_ns
    guest = v.kind_ns.get("guest", 0)
    core.set_work(v, 7, lambda: None)  # the default kind: guest code
    host.run(ns=10)
    assert v.kind_ns["guest"] == guest + 7


@spies_on_credit
def test_switch_counters_match_the_trace() -> None:
    # The core counts each decision and each switch (the run's "sched" metrics); each
    # vCPU counts its switches in and its moves to another pCPU.
    host = Host(pcpus=2, seed=1, dom0_vcpus=1, trace=True)
    host.create("a", workload="cpu", vcpus=3)
    decisions = 0
    for pool in host.hv.pools.values():
        real = pool.sched.do_schedule

        def counted(pcpu, now, real=real):  # type: ignore[no-untyped-def]
            nonlocal decisions
            decisions += 1
            return real(pcpu, now)

        pool.sched.do_schedule = counted  # type: ignore[method-assign]
    host.run(ms=100)
    core = host.hv.core
    switches = [r for r in host.hv.trace.records if r.event == "switch"]
    assert core.nr_switches == len(switches) > 0
    assert core.nr_schedules == decisions >= core.nr_switches
    m = host.metrics()["sched"]
    assert m == {"schedules": core.nr_schedules, "context_switches": core.nr_switches}
    for d in host.hv.domains.values():
        for v in d.vcpus:
            ins = [r.cpu for r in switches if (r.domid, r.vcpu) == (d.domid, v.vcpu_id)]
            assert v.nr_switches == len(ins)
            assert v.nr_migrations == sum(1 for x, y in zip(ins, ins[1:], strict=False) if x != y)


def test_a_vcpu_counts_each_move_to_another_pcpu() -> None:
    # nr_migrations counts a switch-in on another pCPU than the vCPU's last one.
    host = Host(pcpus=2, seed=1, dom0_vcpus=1)
    v = host.create("a", workload="cpu", vcpus=1).vcpus[0]
    host.run(ms=5)
    core, moved = host.hv.core, v.nr_migrations
    for _ in range(2):  # pinned away and back: two moves
        away = 1 - v.processor.cpu_id
        core.set_affinity(v, frozenset({away}), None)
        host.run(ms=1)
        assert v.is_running and v.processor.cpu_id == away
    assert v.nr_migrations == moved + 2


def test_a_switch_stops_the_completion_timer_of_the_vcpu_switched_out() -> None:
    # The work timer belongs to the pCPU: switching away from a vCPU stops it, so the
    # time its work would have ended completes nothing on the next vCPU (whose work,
    # without a continuation, is accounted at the next decision), and the vCPU's own
    # work resumes where it stopped when it runs again.
    host, (a, b) = _one_pcpu("a", "b")
    core = host.hv.core
    running, waiting = (a, b) if a.is_running else (b, a)
    done = _probe(host, running, 10_000)  # longer than the switch cost
    core.interrupt_work(waiting)
    core.set_work(waiting, 10**9, None, kind="nocont")
    core.vcpu_pause(running)
    host.run(ns=20_000)
    assert waiting.is_running and "nocont" not in waiting.kind_ns and not done
    core.vcpu_unpause(running)
    host.run(ms=40)  # credit's 30 ms slice of the other one ends within this
    assert done and running.kind_ns["probe"] == 10_000


@spies_on_credit
def test_a_picked_vcpu_completes_its_work_on_time_while_a_move_is_pending() -> None:
    # Xen runs the unit its policy picked until the pCPU's next decision, whatever its
    # pause flags: credit2's migrate() flags a unit it has just picked _VPF_migrating
    # and tickles the unit's old pCPU, and the flag takes effect at its switch-out.  The
    # core completes such a vCPU's work on time (it already counted its progress).
    host, (v,) = _one_pcpu("a")
    core, pcpu = host.hv.core, v.processor
    v.pause_flags |= PauseFlag.MIGRATING  # as credit2's migrate() of a picked unit
    done = _probe(host, v, 1000)
    host.run(ns=2000)
    assert done == [host.now - 1000] and v.kind_ns["probe"] == 1000
    sched = pcpu.pool.sched
    sched.do_schedule = lambda p, now: (p.curr, 10_000_000)  # type: ignore[method-assign]
    done = _probe(host, v, 1000, kind="kept")
    core.schedule(pcpu)  # a decision that keeps it
    host.run(ns=2000)
    assert done == [host.now - 1000] and v.kind_ns["kept"] == 1000


def test_no_completion_is_armed_for_a_vcpu_whose_decision_is_due_at_this_instant() -> None:
    # A blocked or paused vCPU is switched out at the instant its flag or pause is set
    # (its decision is due), so the core arms no completion for it: only MIGRATING,
    # which credit2 sets on a unit it has just picked, leaves the work running.
    for flags, vcpu_pauses, domain_pauses, armed in ((PauseFlag.BLOCKED, 0, 0, False),
                                                     (PauseFlag.DOWN, 0, 0, False),
                                                     (0, 1, 0, False), (0, 0, 1, False),
                                                     (PauseFlag.MIGRATING, 0, 0, True)):
        host, (v,) = _one_pcpu("a")
        core, timer = host.hv.core, v.processor.work_timer
        core.interrupt_work(v)
        timer.stop()
        v.pause_flags |= flags
        v.pause_count += vcpu_pauses
        v.domain.pause_count += domain_pauses
        core.set_work(v, 1000, lambda: None)  # set_work arms the completion itself
        assert timer.active is armed, (flags, vcpu_pauses, domain_pauses)
        timer.stop()
        core._arm_work(v.processor, v, host.now)  # as a switch to v arms it
        assert timer.active is armed, (flags, vcpu_pauses, domain_pauses)

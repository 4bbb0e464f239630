"""credit2.c details that shares alone do not show: yield, weights, pools, traces, dump."""

from __future__ import annotations

import pytest

from tests.conftest import shares
from tests.hypervisor.sched.helpers import assert_trace_well_formed
from xensim.host import Host
from xensim.hypervisor.sched.credit2 import CSCHED2_CREDIT_INIT, Credit2Scheduler


def _host(pcpus: int, **kw) -> Host:  # type: ignore[no-untyped-def]
    return Host(pcpus=pcpus, scheduler="credit2", seed=1, dom0_vcpus=1, **kw)


def _sched(host: Host, pool: int = 0) -> Credit2Scheduler:
    sched = host.hv.pools[pool].sched
    assert isinstance(sched, Credit2Scheduler)
    return sched


def test_a_yielding_unit_gives_way_to_one_with_less_credit() -> None:
    host = _host(1)
    a = host.create("a", workload="cpu")
    b = host.create("b", workload="cpu")
    host.run(ms=20)
    sched = _sched(host)
    run, wait = (a, b) if a.vcpus[0].is_running else (b, a)
    sr, sw = run.vcpus[0].sched_priv, wait.vcpus[0].sched_priv
    sw.credit = sr.credit - 1_000_000  # the waiting one has less credit
    host.hv.core.vcpu_yield(run.vcpus[0])
    host.run(ns=1)
    # runq_candidate: a yielding unit lets the first runnable one in the queue run,
    # whatever its credit, and the rate limit does not hold it back
    assert wait.vcpus[0].is_running and sr.on_runq and not sr.yielding
    assert sched.stats["reset"] >= 0


def test_a_weight_change_updates_the_run_queues_max_weight() -> None:
    host = _host(2)
    d = host.create("d", workload="cpu")
    host.run(ms=5)
    rqd = _sched(host).rqds[0]
    assert rqd.max_weight == 256
    host.toolstack.sched_params(d, {"weight": 1024})
    assert rqd.max_weight == 1024 and d.vcpus[0].sched_priv.weight == 1024
    host.toolstack.sched_params(d, {"weight": 128})
    assert rqd.max_weight == 256  # Domain-0's 256 is now the largest
    assert host.toolstack.sched_params(d) == {"weight": 128, "cap": 0}


def test_a_pcpu_leaving_removes_its_run_queue_when_it_was_the_last() -> None:
    host = _host(4, xen_cmdline="sched=credit2 credit2_runqueue=cpu")
    pool0 = host.hv.pools[0]
    sched = _sched(host)
    assert [sorted(r.active) for r in sched.rqds] == [[0], [1], [2], [3]]
    host.toolstack.cpupool_cpu_remove(pool0, 2)
    assert [r.id for r in sched.rqds] == [0, 1, 3]
    host.toolstack.cpupool_cpu_add(pool0, 2)  # the first unused id comes back
    assert [(r.id, sorted(r.active)) for r in sched.rqds] == [(0, [0]), (1, [1]), (2, [2]),
                                                              (3, [3])]
    _, out, _ = host.xl("dmesg")
    assert "Removing cpu 2 from runqueue 2\n" in out and " No cpus left on runqueue" in out


def test_trace_has_tickles_and_credit_resets() -> None:
    host = _host(1, trace=True)
    host.create("hog", workload="cpu")
    host.create("io", workload="duty:busy_ms=0.2,idle_ms=3")
    host.run(ms=200)
    recs = host.hv.trace.records
    resets = [r for r in recs if r.event == "credit2_reset"]
    tickles = [r for r in recs if r.event == "tickle"]
    assert resets and all(r.data == (0,) and r.cpu == 0 for r in resets)
    assert tickles and {r.domid for r in tickles} >= {2}
    assert_trace_well_formed(host)


def test_credits_reset_to_init_plus_what_is_left_capped_at_the_carryover() -> None:
    host = _host(1)
    host.create("a", workload="cpu", paused=True)
    host.create("b", workload="cpu", paused=True)
    sched = _sched(host)
    rqd = sched.rqds[0]
    sa, sb = (host.domain(n).vcpus[0].sched_priv for n in "ab")
    sa.credit, sb.credit = 300_000, -2_000_000
    sched._reset_credit(rqd, host.now, sb)
    assert sa.credit == CSCHED2_CREDIT_INIT + 300_000  # under the carry-over cap (500 us)
    assert sb.credit == CSCHED2_CREDIT_INIT - 2_000_000
    sa.credit = 900_000
    sched._reset_credit(rqd, host.now, sb)
    assert sa.credit == CSCHED2_CREDIT_INIT + 500_000  # capped at INIT + CARRYOVER_MAX
    sb.credit = -CSCHED2_CREDIT_INIT  # the chosen unit at CREDIT_MIN: a double reset
    sched._reset_credit(rqd, host.now, sb)
    assert sb.credit == CSCHED2_CREDIT_INIT


def test_soft_affinity_places_and_keeps_a_vcpu_on_its_preferred_queue() -> None:
    host = _host(4, xen_cmdline="sched=credit2 credit2_runqueue=cpu")
    d = host.create("d", workload="cpu", cpus_soft="2")
    for i in range(2):
        host.create(f"hog{i}", workload="cpu")
    host.run(ms=500)
    v = d.vcpus[0]
    assert v.processor.cpu_id == 2
    assert v.runstate_snapshot(host.now)[0] > 0.9 * 500_000_000  # ran 90%+ of the time


def test_dump_shows_domains_units_and_each_cpu() -> None:
    host = _host(2, topology=None)
    host.create("a", workload="cpu", cpu_weight=300, cap=50)
    host.run(ms=20)
    lines = _sched(host).dump().splitlines()
    assert lines[:3] == ["Scheduler: SMP Credit Scheduler rev2 (credit2)", "Active queues: 1",
                         "\tdefault-weight     = 256"]
    assert "\tmax_weight         = 300" in lines and "\tcpus               = 0-1" in lines
    assert any(ln.startswith("\taveload            = ") and ln.endswith("%)") for ln in lines)
    assert "\tDomain: 1 w 300 c 50 v 1" in lines
    assert "CPU[01] runq=0, sibling={1}, core={0-1}" in lines
    unit = [ln for ln in lines if "[1.0]" in ln and "budget=" in ln]
    assert unit and "[w=300]" in unit[0] and "load=" in unit[0]
    assert "RUNQ:" in lines


def test_shares_hold_on_two_run_queues_with_balancing() -> None:
    host = Host(topology="2x2x1", xen_cmdline="sched=credit2", dom0_vcpus=1, seed=1)
    for i in range(6):
        host.create(f"hog{i}", workload="cpu")
    host.run(ms=3_000)
    s = shares(host)
    # six hogs on four pCPUs in two run queues: 2/3 of a pCPU each once the
    # averaged loads have balanced; 5% allows for the queues' uneven first second
    for i in range(6):
        assert s[f"hog{i}"] == pytest.approx(4 / 6, abs=0.05)

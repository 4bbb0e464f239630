"""credit2.c behaviours that change results, each checked against Xen 4.19's source.

Each test fails on a policy that leaves the behaviour out (see docs/fidelity.md).
"""

from __future__ import annotations

import pytest

from tests.conftest import shares
from xensim.host import Host
from xensim.hypervisor.sched.credit2 import Credit2Scheduler
from xensim.hypervisor.vcpu import RunState


def _sched(host: Host) -> Credit2Scheduler:
    sched = host.hv.pools[0].sched
    assert isinstance(sched, Credit2Scheduler)
    return sched


def test_runq_candidate_skips_a_capped_unit_without_budget_and_takes_the_next() -> None:
    host = Host(pcpus=1, scheduler="credit2", seed=1, dom0_vcpus=1)
    host.create("capped", workload="cpu", vcpus=4, cap=40)
    host.create("hog", workload="cpu")
    host.run(ms=3_000)
    s = shares(host)
    # The capped domain gets its 40% (4 ms of each 10 ms period); the hog gets the
    # rest instead of the pCPU idling behind a parked head.  2% of 3 s is 60 ms,
    # six budget periods' worth of rounding.
    assert s["capped"] == pytest.approx(0.40, abs=0.02)
    assert s["hog"] == pytest.approx(0.60, abs=0.02)


@pytest.mark.parametrize("cmdline, spec, sizes", [
    ("", "2x8x2", [16, 16]),                   # 32 pCPUs, one socket each: 16 + 16
    ("", "1x32x1", [16, 16]),                  # one socket of 32: capped at 16, spread
    ("", "1x20x1", [10, 10]),                  # 20: two queues of 10, not 16 + 4
    ("credit2_runqueue=all", "1x20x1", [10, 10]),
    ("credit2_runqueue=node sched_credit2_max_cpus_runqueue=4", "2x4x1", [4, 4]),
    # at most 6, spread: 16 // 3 = 5 per queue, and only whole 2-thread cores fit
    ("sched_credit2_max_cpus_runqueue=6", "1x8x2", [4, 4, 4, 4]),
    ("credit2_runqueue=core", "1x2x2", [2, 2]),
    ("credit2_runqueue=cpu", "1x2x2", [1, 1, 1, 1]),
])
def test_run_queues_hold_at_most_max_cpus_runqueue_spread_evenly(cmdline: str, spec: str,
                                                                  sizes: list[int]) -> None:
    host = Host(topology=spec, xen_cmdline=f"sched=credit2 {cmdline}", dom0_vcpus=1)
    rqds = _sched(host).rqds
    assert [len(r.active) for r in rqds] == sizes
    topo = host.hv.topology
    for r in rqds:  # no run queue splits a core's threads (except one per cpu)
        for cpu in r.active if "=cpu" not in cmdline else ():
            assert topo.siblings(cpu) <= r.active


def test_a_32_pcpu_host_shows_two_run_queues_in_debug_keys_and_dmesg() -> None:
    host = Host(topology="2x8x2", xen_cmdline="sched=credit2", dom0_vcpus=1)
    assert host.xl("debug-keys r")[0] == 0
    rc, out, _ = host.xl("dmesg")
    assert "Active queues: 2" in out
    assert "Runqueue 0:\n\tncpus              = 16\n\tcpus               = 0-15" in out
    assert "Runqueue 1:\n\tncpus              = 16\n\tcpus               = 16-31" in out
    assert "Adding cpu 16 to runqueue 1" in out


def test_parked_unit_taken_off_the_queue_stays_runnable_in_its_runstate() -> None:
    host = Host(pcpus=1, scheduler="credit2", seed=1, dom0_vcpus=1)
    d = host.create("capped", workload="cpu", vcpus=4, cap=10)
    host.create("hog", workload="cpu")
    seen: set[RunState] = set()
    sched = _sched(host)
    real = sched._park

    def spy(svc):  # type: ignore[no-untyped-def]
        queued = svc.on_runq
        real(svc)
        if queued:
            seen.add(svc.vcpu.runstate)

    sched._park = spy  # type: ignore[method-assign]
    host.run(ms=500)
    # park_unit only sets _VPF_parked: nothing changes the runstate of a queued unit
    assert seen == {RunState.RUNNABLE}
    assert d.vcpus[0].runstate_snapshot(host.now)[RunState.RUNNABLE] > 0


def test_capping_a_running_domain_reschedules_its_pcpu_at_once() -> None:
    host = Host(pcpus=1, scheduler="credit2", seed=1, dom0_vcpus=1)
    d = host.create("d", workload="cpu")
    host.run(ms=5)
    pcpu = host.hv.pcpus[0]
    assert pcpu.curr is d.vcpus[0]
    host.toolstack.sched_params(d, {"cap": 20})
    assert pcpu.softirq_pending  # csched2_dom_cntl: cpu_raise_softirq for running units
    assert pcpu.cpu_id in _sched(host).rqds[0].tickled


def test_load_average_follows_the_runnable_count_with_xen_decay() -> None:
    host = Host(pcpus=2, scheduler="credit2", seed=1, dom0_vcpus=1)
    for i in range(3):
        host.create(f"hog{i}", workload="cpu")
    host.run(ms=5_000)
    sched = _sched(host)
    rqd = sched.rqds[0]
    sched._update_runq_load(rqd, 0, host.now)
    assert rqd.load == 3
    # 5 s is ~5 windows of 2^30 ns: the average has converged to 3.0 within 1%
    assert rqd.avgload / (1 << sched.load_precision_shift) == pytest.approx(3.0, rel=0.01)
    for i in range(3):
        host.xl(f"pause hog{i}")
    host.run(ms=1_100)  # more than one window: Xen restarts the average from the count
    sched._update_runq_load(rqd, 0, host.now)
    assert rqd.load == 0 and rqd.avgload == 0


def test_balance_load_moves_work_to_an_idle_run_queue() -> None:
    host = Host(pcpus=4, scheduler="credit2", dom0_vcpus=1, seed=1,
                xen_cmdline="sched=credit2 credit2_runqueue=cpu")
    doms = [host.create(f"hog{i}", workload="cpu", cpus="0") for i in range(4)]
    host.run(ms=50)
    for d in doms:  # pinned to cpu 0 at creation, then free to run anywhere
        host.xl(f"vcpu-pin {d.name} 0 all")
    host.run(ms=2_000)
    sched = _sched(host)
    assert sched.stats["balance"] > 0
    busy = {d.vcpus[0].processor.cpu_id for d in doms}
    assert len(busy) == 4  # one hog per run queue once the averages have moved

"""Fidelity of the null scheduler against null.c: static assignment, a waitqueue.

Dom0 gets a single vCPU in these tests: under null every Domain-0 vCPU would
own a pCPU (as it does on a real null-scheduled host, which is why such hosts
boot with a small ``dom0_max_vcpus``).
"""

from __future__ import annotations

import pytest

from tests.conftest import shares
from tests.hypervisor.sched.helpers import assert_runstates_add_up, sampler
from xensim.host import Host
from xensim.hypervisor.vcpu import RunState


def _host(pcpus: int = 3, **kw) -> Host:  # type: ignore[no-untyped-def]
    return Host(pcpus=pcpus, scheduler="null", dom0_vcpus=1, seed=1, **kw)


def test_one_vcpu_per_pcpu_and_no_vcpu_ever_moves() -> None:
    host = _host(4)
    host.create("hog", workload="cpu", vcpus=2)
    host.create("duty", workload="duty:busy_ms=1,idle_ms=2")
    host.create("extra", workload="cpu")  # 5th vCPU on 4 pCPUs: waits
    seen: dict[str, int] = {}

    def check() -> str | None:
        running = [p.curr for p in host.hv.pcpus if not p.curr.is_idle]
        if len(running) != len({id(v) for v in running}):
            return f"a vCPU runs twice: {running}"
        for p in host.hv.pcpus:
            v = p.curr
            if v.is_idle:
                continue
            if seen.setdefault(repr(v), p.cpu_id) != p.cpu_id:
                return f"{v} moved from cpu{seen[repr(v)]} to {p}"
            if p.sched_priv.unit is not v:
                return f"{p} runs {v} but is assigned {p.sched_priv.unit}"
        return None

    problems = sampler(host, 50_000, check)
    host.run(ms=500)
    assert problems == []
    # hog v0, hog v1 and duty ran (dom0's vCPU too, serving xenstore); extra never ran.
    assert set(seen) - {"d0v0"} == {"d1v0", "d1v1", "d2v0"}
    assert host.domain("extra").vcpus[0].runstate_snapshot(host.now)[RunState.RUNNING] == 0
    assert all(v.nr_migrations == 0 for d in host.all_domains for v in d.vcpus)


def test_a_blocked_vcpu_leaves_its_pcpu_idle() -> None:
    host = _host(2)
    host.create("duty", workload="duty:busy_ms=1,idle_ms=3,phase=0")
    host.create("hog", workload="cpu")  # waits: dom0 and duty own both pCPUs
    host.run(ms=1_000)
    s = shares(host)
    assert s["duty"] == pytest.approx(0.25, abs=0.01)
    assert s["hog"] == 0
    m = host.metrics()
    duty_cpu = host.domain("duty").vcpus[0].processor.cpu_id
    # Its pCPU idles the other 75%: the waiting hog may not use it.
    assert m["pcpus"][duty_cpu]["idle_ns"] == pytest.approx(0.75 * m["duration_ns"], rel=0.02)


def test_the_waiting_vcpu_gets_the_pcpu_its_predecessor_frees() -> None:
    host = _host(2)
    first = host.create("first", workload="cpu")
    host.create("second", workload="cpu")
    host.run(ms=100)
    freed = first.vcpus[0].processor.cpu_id
    assert [n.vcpu for n in host.hv.pools[0].sched.waitq] == host.domain("second").vcpus
    rc, _, err = host.xl("destroy first")
    assert rc == 0, err
    host.reset_metrics()
    host.run(ms=100)
    v = host.domain("second").vcpus[0]
    assert v.processor.cpu_id == freed and v.is_running
    assert shares(host)["second"] == pytest.approx(1.0, abs=0.001)
    assert host.hv.pools[0].sched.waitq == []


def test_soft_affinity_chooses_the_free_pcpu() -> None:
    host = _host(4)
    d = host.create("soft", workload="cpu", cpus_soft="3")
    host.run(ms=10)
    assert d.vcpus[0].processor.cpu_id == 3 and d.vcpus[0].is_running


def test_hard_affinity_keeps_a_vcpu_waiting_for_its_own_pcpu() -> None:
    host = _host(3)
    host.create("a", workload="cpu", cpus="1")
    b = host.create("b", workload="cpu", cpus="1")  # cpu2 is free, but not allowed
    host.run(ms=50)
    assert b.vcpus[0].sched_priv.in_waitq and 2 in host.hv.pools[0].sched.cpus_free
    host.xl("destroy a")
    host.run(ms=10)
    assert b.vcpus[0].processor.cpu_id == 1 and b.vcpus[0].is_running


def test_vcpu_pin_moves_an_assigned_vcpu_to_a_free_pcpu() -> None:
    host = _host(3)
    d = host.create("a", workload="cpu")
    host.run(ms=10)
    old = d.vcpus[0].processor.cpu_id
    target = ({1, 2} - {old}).pop()
    host.hv.core.set_affinity(d.vcpus[0], frozenset({target}), None)
    host.run(ms=10)
    sched = host.hv.pools[0].sched
    assert d.vcpus[0].processor.cpu_id == target and d.vcpus[0].is_running
    assert old in sched.cpus_free and host.hv.pcpus[target].sched_priv.unit is d.vcpus[0]


def test_runstate_times_add_up() -> None:
    host = _host(2)
    host.create("hog", workload="cpu")
    host.create("duty", workload="duty:busy_ms=1,idle_ms=2")
    host.create("waiter", workload="cpu")
    host.run(ms=300)
    host.xl("destroy hog")
    host.run(ms=300)
    assert_runstates_add_up(host)


def test_dump_shows_assignments_and_the_waitqueue() -> None:
    host = _host(2)
    host.create("a", workload="cpu")
    host.create("b", workload="cpu")
    text = host.hv.pools[0].sched.dump()
    assert "unit=d1v0" in text and "Waitqueue: d2v0" in text


def test_with_no_free_pcpu_the_fallback_is_random_from_the_seeded_rng() -> None:
    def picks(seed: int) -> list[int]:
        host = Host(pcpus=4, scheduler="null", seed=seed, dom0_vcpus=4)
        sched = host.hv.pools[0].sched
        d = host.create("late", workload="cpu", vcpus=1)
        v = d.vcpus[0]
        return [sched._pick_res(v) for _ in range(40)]

    first = picks(1)
    assert first == picks(1)  # the same seed draws the same pCPUs
    assert len(set(first)) > 1  # cpumask_any(): not always the same pCPU
    assert first != picks(2)

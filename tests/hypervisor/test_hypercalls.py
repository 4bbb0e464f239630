"""The hypercall ABI as far as the host core goes: sched_op, set_timer_op, dispatch."""

from __future__ import annotations

from xensim.host import Host
from xensim.hypervisor.errno import EINVAL, ENOSYS, EPERM, ESRCH
from xensim.hypervisor.hypercall import HC
from xensim.hypervisor.sched_op import SCHEDOP
from xensim.hypervisor.vcpu import PauseFlag


def test_unknown_hypercall_number_is_enosys_and_counted() -> None:
    host = Host(pcpus=1)
    d = host.create("g")
    v = d.vcpus[0]
    assert host.hv.hypercall(v, 99) == ENOSYS
    assert d.hypercall_counts["#99"] == 1


def test_malformed_arguments_get_einval_and_the_host_keeps_running() -> None:
    host = Host(pcpus=1)
    d = host.create("g", workload="cpu")
    v = d.vcpus[0]
    assert host.hv.hypercall(v, HC.set_timer_op, "soon") == EINVAL
    assert host.hv.hypercall(v, HC.sched_op) == EINVAL
    assert host.hv.hypercall(v, HC.sched_op, 77) == EINVAL
    assert host.hv.hypercall(v, HC.sched_op, SCHEDOP.shutdown, 99) == EINVAL
    host.run(ms=100)
    assert host.metrics()["domains"]["g"]["cpu_share"] > 0.9


def test_remote_shutdown_is_privileged() -> None:
    host = Host(pcpus=1)
    a = host.create("a")
    b = host.create("b")
    rc = host.hv.hypercall(a.vcpus[0], HC.sched_op, SCHEDOP.remote_shutdown, (b.domid, 0))
    assert rc == EPERM and a.denied == 1 and not b.is_shutdown
    dom0 = host.dom0.vcpus[0]
    assert host.hv.hypercall(dom0, HC.sched_op, SCHEDOP.remote_shutdown, (999, 0)) == ESRCH
    assert host.hv.hypercall(dom0, HC.sched_op, SCHEDOP.remote_shutdown, (b.domid, 0)) == 0
    assert b.is_shutdown and b.pause_count > 0


def test_block_with_a_pending_event_returns_at_once() -> None:
    host = Host(pcpus=1)
    v = host.create("g").vcpus[0]
    v.upcall_pending = True
    assert host.hv.hypercall(v, HC.sched_op, SCHEDOP.block) == 0
    assert not v.pause_flags & PauseFlag.BLOCKED


def test_singleshot_timer_in_the_past_fires_immediately() -> None:
    host = Host(pcpus=1)
    host.run(ms=1)
    v = host.create("g").vcpus[0]
    v.pause_flags |= PauseFlag.BLOCKED
    assert host.hv.hypercall(v, HC.set_timer_op, 5) == 0
    assert not v.pause_flags & PauseFlag.BLOCKED


def test_destroy_removes_the_domain_and_its_vcpus_never_run_again() -> None:
    host = Host(pcpus=2)
    d = host.create("g", workload="cpu", vcpus=2)
    host.run(ms=50)
    rc, _, err = host.xl("destroy g")
    assert rc == 0, err
    assert d.domid not in host.hv.domains
    assert all(p.curr.domain is not d for p in host.hv.pcpus)
    before = [v.runstate_snapshot(host.now)[0] for v in d.vcpus]
    host.run(ms=50)
    assert [v.runstate_snapshot(host.now)[0] for v in d.vcpus] == before

"""ABI conformance of the wired PV hypercalls, error paths included."""

from __future__ import annotations

from xensim.host import Host
from xensim.hypervisor.console_io import CONSOLEIO, XENVER
from xensim.hypervisor.domain import DOMID_SELF
from xensim.hypervisor.domctl import DOMCTL, SYSCTL, Domctl, Sysctl
from xensim.hypervisor.errno import EFAULT, EINVAL, ENOENT, ENOSYS, EPERM, ESRCH
from xensim.hypervisor.evtchn import event_channel as ev
from xensim.hypervisor.grant import abi as gta
from xensim.hypervisor.hypercall import HC
from xensim.hypervisor.memory_op import XENMEM, XenMemoryReservation
from xensim.hypervisor.vcpu import PauseFlag
from xensim.hypervisor.vcpu_op import VCPUOP, VcpuRunstateInfo


def _host() -> tuple[Host, object, object]:
    host = Host(pcpus=2, seed=1)
    return host, host.create("a", memory=64, maxmem=72, vcpus=2), host.create("b")


def test_domctl_and_sysctl_are_privileged() -> None:
    host, a, b = _host()
    hv, va = host.hv, a.vcpus[0]
    assert hv.hypercall(va, HC.domctl, Domctl(DOMCTL.pausedomain, b.domid)) == EPERM
    assert hv.hypercall(va, HC.sysctl, Sysctl(SYSCTL.physinfo)) == EPERM
    assert a.denied == 2 and b.pause_count == 0
    v0 = host.dom0.vcpus[0]
    op = Domctl(DOMCTL.getdomaininfo, a.domid)
    assert hv.hypercall(v0, HC.domctl, op) == 0
    assert op.u["domid"] == a.domid and op.u["tot_pages"] == 64 * 256
    assert op.u["max_pages"] == 72 * 256 and op.u["nr_online_vcpus"] == 2
    assert hv.hypercall(v0, HC.domctl, Domctl(DOMCTL.getdomaininfo, 999)) == ESRCH
    assert hv.hypercall(v0, HC.domctl, Domctl(DOMCTL.pausedomain, b.domid)) == 0
    assert b.pause_count == 1
    assert hv.hypercall(v0, HC.domctl, Domctl(DOMCTL.unpausedomain, b.domid)) == 0
    assert hv.hypercall(v0, HC.domctl, Domctl(DOMCTL.unpausedomain, b.domid)) == EINVAL
    assert hv.hypercall(v0, HC.domctl, Domctl(DOMCTL.pausedomain, 0)) == EINVAL  # itself
    sop = Domctl(DOMCTL.scheduler_op, b.domid, {"cmd": "putinfo", "params": {"weight": 512}})
    assert hv.hypercall(v0, HC.domctl, sop) == 0 and sop.u["params"]["weight"] == 512
    bad = Domctl(DOMCTL.scheduler_op, b.domid, {"cmd": "putinfo", "params": {"weight": 0}})
    assert hv.hypercall(v0, HC.domctl, bad) == EINVAL
    assert hv.hypercall(v0, HC.domctl, Domctl(77, b.domid)) == ENOSYS
    assert hv.hypercall(v0, HC.domctl, "garbage") == EFAULT
    phys = Sysctl(SYSCTL.physinfo)
    assert hv.hypercall(v0, HC.sysctl, phys) == 0 and phys.u["nr_cpus"] == 2
    lst = Sysctl(SYSCTL.getdomaininfolist)
    assert hv.hypercall(v0, HC.sysctl, lst) == 0
    assert [i["domid"] for i in lst.u["domains"]] == [0, a.domid, b.domid]


def test_memory_op_within_maxmem_and_free_memory() -> None:
    host, a, b = _host()
    hv, va = host.hv, a.vcpus[0]
    assert hv.hypercall(va, HC.memory_op, XENMEM.current_reservation, DOMID_SELF) == 64 * 256
    assert hv.hypercall(va, HC.memory_op, XENMEM.maximum_reservation, DOMID_SELF) == 72 * 256
    # 8 MiB of room: 2048 4-KiB pages, so 4 of 5 2-MiB extents fit
    grow = XenMemoryReservation(5, 9)
    assert hv.hypercall(va, HC.memory_op, XENMEM.increase_reservation, grow) == 4
    assert a.memory_kib == 72 * 1024
    assert hv.hypercall(va, HC.memory_op, XENMEM.increase_reservation,
                        XenMemoryReservation(1, 0)) == 0
    assert hv.hypercall(va, HC.memory_op, XENMEM.decrease_reservation,
                        XenMemoryReservation(256, 0)) == 256
    assert a.memory_kib == 71 * 1024
    other = XenMemoryReservation(1, 0, 0, b.domid)
    assert hv.hypercall(va, HC.memory_op, XENMEM.increase_reservation, other) == EPERM
    assert hv.hypercall(va, HC.memory_op, XENMEM.current_reservation, b.domid) == EPERM
    assert hv.hypercall(va, HC.memory_op, XENMEM.increase_reservation, "x") == EFAULT
    assert hv.hypercall(va, HC.memory_op, XENMEM.increase_reservation,
                        XenMemoryReservation(-1)) == EINVAL
    assert hv.hypercall(va, HC.memory_op, 99, None) == ENOSYS
    v0 = host.dom0.vcpus[0]
    assert hv.hypercall(v0, HC.memory_op, XENMEM.current_reservation, 4242) == ESRCH


def test_vcpu_op_up_down_and_runstate() -> None:
    host, a, _ = _host()
    hv, va = host.hv, a.vcpus[0]
    assert hv.hypercall(va, HC.vcpu_op, VCPUOP.is_up, 1) == 1
    assert hv.hypercall(va, HC.vcpu_op, VCPUOP.down, 1) == 0
    assert a.vcpus[1].pause_flags & PauseFlag.DOWN and not a.vcpus[1].runnable
    assert hv.hypercall(va, HC.vcpu_op, VCPUOP.is_up, 1) == 0
    assert hv.hypercall(va, HC.vcpu_op, VCPUOP.up, 1) == 0 and a.vcpus[1].runnable
    assert hv.hypercall(va, HC.vcpu_op, VCPUOP.is_up, 2) == ENOENT
    assert hv.hypercall(va, HC.vcpu_op, VCPUOP.is_up, "0") == EFAULT
    host.run(ms=5)
    info = VcpuRunstateInfo()
    assert hv.hypercall(va, HC.vcpu_op, VCPUOP.get_runstate_info, 0, info) == 0
    assert sum(info.time) == host.now
    assert hv.hypercall(va, HC.vcpu_op, VCPUOP.get_runstate_info, 0, None) == EFAULT
    assert hv.hypercall(va, HC.vcpu_op, 42, 0) == ENOSYS


def test_console_io_and_xen_version() -> None:
    host, a, _ = _host()
    hv, va, v0 = host.hv, a.vcpus[0], host.dom0.vcpus[0]
    assert hv.hypercall(va, HC.console_io, CONSOLEIO.write, 5, "hello, world") == 0
    assert hv.consoles[a.domid] == ["hello"]
    assert hv.hypercall(va, HC.console_io, CONSOLEIO.write, 5, None) == EFAULT
    buf: list[str] = []
    assert hv.hypercall(va, HC.console_io, CONSOLEIO.read, 100, buf) == EPERM
    assert a.denied == 1
    n = hv.hypercall(v0, HC.console_io, CONSOLEIO.read, 100, buf)
    assert n == len(buf[0]) > 0 and buf[0].startswith("(XEN) ")
    assert hv.hypercall(va, HC.xen_version, XENVER.version) == (4 << 16) | 19
    extra: list[str] = []
    assert hv.hypercall(va, HC.xen_version, XENVER.extraversion, extra) == 0 and extra
    assert hv.hypercall(va, HC.xen_version, XENVER.commandline, []) == EPERM
    assert hv.hypercall(va, HC.xen_version, 99) == ENOSYS


def test_mmu_update_is_batched_and_checked() -> None:
    host, a, b = _host()
    hv, va, c = host.hv, a.vcpus[0], host.hv.costs
    reqs = [(i << 3, i) for i in range(10)]
    done: list[int] = []
    assert hv.hypercall(va, HC.mmu_update, reqs, 10, done) == 0 and done == [10]
    assert hv.hc_charge == c["mmu_update_batch"] + 10 * c["mmu_update_entry"]
    assert hv.hypercall(va, HC.mmu_update, reqs, 11) == EFAULT
    assert hv.hypercall(va, HC.mmu_update, [(3, 0)], 1) == ENOSYS  # bad command bits
    assert hv.hypercall(va, HC.mmu_update, reqs, 1, None, b.domid) == EPERM
    assert hv.hypercall(va, HC.update_va_mapping, 0x1000, 0, 0) == 0
    assert hv.hypercall(va, HC.update_va_mapping, 1 << 50, 0, 0) == EINVAL
    hvm = host.create("h", type="hvm")
    assert hv.hypercall(hvm.vcpus[0], HC.mmu_update, reqs, 1) == ENOSYS


def test_event_channel_op_wakes_a_blocked_vcpu_through_the_scheduler() -> None:
    host, a, b = _host()
    hv = host.hv
    host.run(ms=5)  # both idle guests are blocked now
    vb = b.vcpus[0]
    assert vb.pause_flags & PauseFlag.BLOCKED
    alloc = ev.EvtchnAllocUnbound(DOMID_SELF, a.domid)
    assert hv.hypercall(vb, HC.event_channel_op, ev.EVTCHNOP.alloc_unbound, alloc) == 0
    bind = ev.EvtchnBindInterdomain(b.domid, alloc.port)
    assert hv.hypercall(a.vcpus[0], HC.event_channel_op, ev.EVTCHNOP.bind_interdomain,
                        bind) == 0
    host.run(ms=1)
    switches = vb.nr_switches
    assert hv.hypercall(a.vcpus[0], HC.event_channel_op, ev.EVTCHNOP.send,
                        ev.EvtchnSend(bind.local_port)) == 0
    assert not vb.pause_flags & PauseFlag.BLOCKED  # woken (and boosted) at once
    host.run(ms=1)
    assert vb.nr_switches == switches + 1 and vb.wake_latencies[-1] < 10_000
    assert hv.evtchn.counters[a.domid]["sends"] == 1
    # error paths: wrong struct, garbage, someone else's table
    assert hv.hypercall(vb, HC.event_channel_op, ev.EVTCHNOP.send, ev.EvtchnClose(1)) == EFAULT
    assert hv.hypercall(vb, HC.event_channel_op, ev.EVTCHNOP.send, ev.EvtchnSend("1")) == EFAULT
    other = ev.EvtchnAllocUnbound(a.domid, b.domid)
    assert hv.hypercall(vb, HC.event_channel_op, ev.EVTCHNOP.alloc_unbound, other) == EPERM
    assert hv.hypercall(vb, HC.event_channel_op, ev.EVTCHNOP.init_control, None) == ENOSYS
    # teardown: the destroyed domain's ports are gone and its peer's port is unbound
    host.toolstack.domain_destroy(b)
    assert b.domid not in hv.evtchn.doms
    assert hv.evtchn.chn(a, bind.local_port).state == ev.ECS.UNBOUND


def test_grant_table_op_checks_batches_and_charges_per_entry() -> None:
    host, a, b = _host()
    hv, va, c = host.hv, a.vcpus[0], host.hv.costs
    m = gta.GnttabMapGrantRef(0x1000, gta.GNTMAP.host_map, 9, b.domid)
    assert hv.hypercall(va, HC.grant_table_op, gta.GNTTABOP.map_grant_ref, [m], 1) == 0
    assert m.status == gta.GNTST.general_error  # b never granted ref 9 to a
    assert hv.hc_charge == c["grant_map"]
    assert hv.hypercall(va, HC.grant_table_op, gta.GNTTABOP.map_grant_ref, [m], 2) == EFAULT
    assert hv.hypercall(va, HC.grant_table_op, gta.GNTTABOP.map_grant_ref, "x", 1) == EFAULT
    neg = gta.GnttabCopy(gta.GnttabCopyPtr(DOMID_SELF), gta.GnttabCopyPtr(DOMID_SELF), -8, 0)
    assert hv.hypercall(va, HC.grant_table_op, gta.GNTTABOP.copy, [neg], 1) == EFAULT
    cp = gta.GnttabCopy(gta.GnttabCopyPtr(DOMID_SELF), gta.GnttabCopyPtr(DOMID_SELF), 4096, 0)
    assert hv.hypercall(va, HC.grant_table_op, gta.GNTTABOP.copy, [cp], 1) == 0
    assert cp.status == gta.GNTST.okay
    assert hv.hc_charge == c["grant_copy"] + c["grant_copy_4k"]
    st = gta.GnttabSetupTable(b.domid, 2)
    assert hv.hypercall(va, HC.grant_table_op, gta.GNTTABOP.setup_table, [st], 1) == 0
    assert st.status == gta.GNTST.permission_denied and a.denied == 1

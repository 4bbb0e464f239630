"""The KVM host kind: where exits are handled, virtio with ioeventfd/vhost/irqfd, configs.

Each run is 100-200 ms of simulated time on 2 pCPUs, enough for hundreds of
disk requests or thousands of packets.
"""

from __future__ import annotations

import pytest

from xensim.domains.hosted.virtio import VhostNet, VirtioBlkDriver, VirtioNetDriver
from xensim.domains.pvio.ring import BackRing, FrontRing, SharedRing
from xensim.host import Host
from xensim.hypervisor.domain import Domain
from xensim.hypervisor.kvm.vm import KvmVm
from xensim.toolstack.libxl import LibxlError
from xensim.toolstack.xlcfg import XlCfgError

VIRTIO = "-device virtio-net-pci -device virtio-blk-pci"


def _run(workload: str, ms: int = 150, **keys: object) -> tuple[Host, Domain]:
    host = Host(pcpus=2, hypervisor="kvm")
    g = host.create("g", type="hvm", workload=workload, **keys)
    host.run(ms=50)
    host.reset_metrics()
    host.run(ms=ms)
    return host, g


def _ops(host: Host, g: Domain) -> int:
    return int(host.toolstack.guest_stats[g.domid][0].get("io_ops", 0))


def test_kvm_host_is_linux_with_cfs_and_a_host_domain() -> None:
    host = Host(pcpus=2, hypervisor="kvm")
    assert host.dom0.name == "host"
    assert host.hv.pools[0].sched.name == "cfs"
    g = host.create("g", type="hvm")
    assert isinstance(g.hvm, KvmVm)


def test_emulated_ide_read_exits_to_qemu_on_the_vcpu_thread() -> None:
    host, g = _run("disk:depth=1")
    vm, dm = g.hvm, g.info["device_model"]
    ops = _ops(host, g)
    assert ops > 100
    assert isinstance(vm, KvmVm) and vm.user_exits >= 10 * ops  # ~15 port accesses per read
    assert g.vmexit_counts["IO_INSTRUCTION"] >= 10 * ops
    guest_qemu = sum(v.kind_ns.get("qemu", 0) for v in g.vcpus)
    host_qemu = sum(v.kind_ns.get("qemu", 0) for v in host.dom0.vcpus)
    assert guest_qemu > 0  # QEMU's device work ran on the guest's own vCPU thread
    assert 0 < host_qemu < guest_qemu  # the I/O thread only completes the AIO (and DMA)
    assert dm.server.sent == 0 and dm.notifications == 0  # no ioreq, no event channel
    # one host-task item per request (the AIO completion), not one per register access
    assert host.dom0.info["dom0svc"].items_done <= 3 * ops + 50


def test_xen_hvm_serves_the_same_reads_through_dom0() -> None:
    """The contrast: under Xen every access is an ioreq served on a dom0 vCPU."""
    host = Host(pcpus=2)
    g = host.create("g", type="hvm", workload="disk:depth=1", xen_platform_pci=0)
    host.run(ms=100)
    dm = g.info["device_model"]
    assert dm.server.sent > 10 * int(host.toolstack.guest_stats[g.domid][0]["io_ops"])
    assert sum(v.kind_ns.get("qemu", 0) for v in g.vcpus) == 0


def test_virtio_blk_kick_is_an_in_kernel_exit() -> None:
    host, g = _run("disk", qemu_args=VIRTIO)
    vm = g.hvm
    assert isinstance(vm, KvmVm)
    ops = _ops(host, g)
    assert ops > 500
    assert vm.user_exits == 0
    assert g.vmexit_counts.get("EPT_MISCONFIG", 0) > 0
    assert "IO_INSTRUCTION" not in g.vmexit_counts and "EPT_VIOLATION" not in g.vmexit_counts
    assert sum(v.kind_ns.get("qemu", 0) for v in g.vcpus) == 0
    drv = next(f for f in g.info["kernel"].fronts if isinstance(f, VirtioBlkDriver))
    assert drv.dev.vq.kicks == g.vmexit_counts["EPT_MISCONFIG"]


def test_vhost_net_work_runs_on_a_host_task_with_few_kicks_and_interrupts() -> None:
    host, g = _run("net-stream", ms=100, qemu_args=VIRTIO)
    drv = next(f for f in g.info["kernel"].fronts if isinstance(f, VirtioNetDriver))
    dev = drv.dev
    assert isinstance(dev, VhostNet)
    assert drv.tx_packets > 5_000
    assert sum(v.kind_ns.get("dom0", 0) for v in host.dom0.vcpus) > 0  # vhost-net worker
    assert sum(v.kind_ns.get("qemu", 0) for v in g.vcpus) == 0
    # event-idx suppression: a busy vhost is not kicked, a busy driver not interrupted
    assert dev.tx.kicks * 50 < drv.tx_packets
    assert dev.tx.interrupts * 50 < drv.tx_packets


def test_event_idx_suppresses_kicks_while_the_device_is_busy() -> None:
    s = SharedRing(8)
    drv, dev = FrontRing(s), BackRing(s)
    drv.put_request(1)
    assert drv.push_requests_and_check_notify()  # idle device: kick
    dev.get_request()  # the device is working and has not re-armed
    for i in range(3):
        drv.put_request(i)
        assert not drv.push_requests_and_check_notify()
    while dev.unconsumed_requests():
        dev.get_request()
    assert not dev.final_check_for_requests()  # re-armed at the next index
    drv.put_request(9)
    assert drv.push_requests_and_check_notify()


def test_vif_model_and_vdev_choose_virtio() -> None:
    host = Host(pcpus=2, hypervisor="kvm")
    g = host.create("g", type="hvm", workload="disk", vif=["model=virtio-net"],
                    disk=["vdev=vda, target=/img"])
    kinds = sorted(type(f).__name__ for f in g.info["kernel"].fronts)
    assert kinds == ["VirtioBlkDriver", "VirtioNetDriver"]
    e = host.create("e", type="hvm", workload="disk", disk=["vdev=hda, target=/img"])
    assert [type(f).__name__ for f in e.info["kernel"].fronts] == ["IdeDriver"]


def test_qemu_args_smp_and_m_become_vcpus_and_memory() -> None:
    host = Host(pcpus=2, hypervisor="kvm")
    g = host.create("g", type="hvm", qemu_args="-smp 2 -m 1G")
    assert len(g.vcpus) == 2 and g.memory_kib == 1024 * 1024
    with pytest.raises(XlCfgError, match="contradicts vcpus"):
        host.create("h", type="hvm", vcpus=1, qemu_args="-smp 2")
    with pytest.raises(XlCfgError, match="unsupported option"):
        host.create("i", type="hvm", qemu_args="-enable-kvm")


@pytest.mark.parametrize("gtype", ["pv", "pvh"])
def test_pv_configs_are_refused_on_kvm(gtype: str) -> None:
    host = Host(pcpus=1, hypervisor="kvm")
    with pytest.raises(LibxlError, match="no Xen underneath"):
        host.create("g", type=gtype)


def test_kvm_cannot_run_another_architecture() -> None:
    with pytest.raises(LibxlError, match="binary translation"):
        Host(pcpus=1, hypervisor="kvm").create("g", type="hvm", guest_arch="aarch64")

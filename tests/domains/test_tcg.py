"""The qemu-tcg host kind: translated compute, no exits, devices as function calls, arch factors."""

from __future__ import annotations

import pytest

from xensim.domains.hosted.platforms import TcgPlatform
from xensim.host import Host
from xensim.hypervisor.domain import Domain
from xensim.toolstack.libxl import LibxlError


def _build_rate(hypervisor: str, ms: int = 200, **keys: object) -> float:
    """kernel-build jobs per simulated second after a 50 ms warm-up."""
    host = Host(pcpus=2, hypervisor=hypervisor)
    g = host.create("g", type="hvm", workload="kernel-build", **keys)
    host.run(ms=50)
    stats = host.toolstack.guest_stats[g.domid][0]
    before = stats.get("io_ops", 0)
    host.run(ms=ms)
    return (stats.get("io_ops", 0) - before) / (ms / 1000)


def test_compute_is_many_times_slower_than_under_kvm() -> None:
    kvm, tcg = _build_rate("kvm"), _build_rate("qemu-tcg")
    assert tcg > 0
    assert kvm / tcg > 5  # tcg_slowdown_permille 8000, plus syscalls and MMU helpers


def test_aarch64_guest_costs_the_arch_factor_more() -> None:
    x86 = _build_rate("qemu-tcg", ms=400)
    arm = _build_rate("qemu-tcg", ms=400, guest_arch="aarch64")
    assert x86 / arm == pytest.approx(1.3, rel=0.15)  # tcg_arch_aarch64_permille 1300


def test_translation_cache_warm_up_is_paid_once() -> None:
    host = Host(pcpus=1, hypervisor="qemu-tcg")
    g = host.create("g", type="hvm", paused=True)
    plat = g.info["platform"]
    assert isinstance(plat, TcgPlatform)
    c = host.hv.costs
    cold = c["tcg_cold_code_ns"]
    first = plat.compute_ns(cold, "guest")
    again = plat.compute_ns(cold, "guest")
    assert first == cold * c["tcg_translate_permille"] // 1000
    assert again == cold * c["tcg_slowdown_permille"] // 1000
    assert plat.compute_ns(1000, "qemu") == 1000  # QEMU's own code is not translated


def _disk(hypervisor: str) -> tuple[Host, Domain]:
    host = Host(pcpus=2, hypervisor=hypervisor)
    g = host.create("g", type="hvm", workload="disk:depth=1")
    host.run(ms=150)
    return host, g


def test_devices_are_function_calls_without_exits() -> None:
    host, g = _disk("qemu-tcg")
    assert host.toolstack.guest_stats[g.domid][0]["io_ops"] > 100
    assert g.vmexit_counts == {}
    assert sum(v.kind_ns.get("qemu", 0) for v in g.vcpus) > 0  # on the vCPU thread
    assert g.info["device_model"].notifications == 0


def test_virtio_is_refused_under_tcg() -> None:
    host = Host(pcpus=1, hypervisor="qemu-tcg")
    with pytest.raises(LibxlError, match="virtio"):
        host.create("g", type="hvm", workload="disk", qemu_args="-device virtio-blk-pci")
    assert host.hv.domain_by_name("g") is None  # nothing half-built is left

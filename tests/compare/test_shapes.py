"""``xensim compare`` reproduces the published shape of PV vs HVM (published-results 2.1, 2.2, 2.6).

Shapes, not numbers: each assertion is an ordering or a ratio with a wide
margin, and the margin is said next to it.  Runs are short (0.1-0.3
simulated s) because every quantity here settles within a few hundred
operations; the same seed gives the same numbers (a test below).
"""

from __future__ import annotations

from typing import Any

import pytest

from xensim.compare.measure import Setup, compare


def _run(workload: str, modes: list[str], seconds: float, **kw: Any) -> dict[str, Any]:
    return compare(Setup(workload, seconds=seconds, **kw), modes)["modes"]  # type: ignore[no-any-return]


def _dom0_and_dm(m: dict[str, Any]) -> float:
    """dom0 + device-model CPU per operation (ns): what the I/O path costs the host."""
    return (m["cpu_ns"]["dom0"] + m["cpu_ns"]["device_model"]) / max(m["ops"], 1)


@pytest.fixture(scope="module")
def disk() -> dict[str, Any]:
    return _run("disk:pattern=seq", ["pv", "hvm", "pvhvm"], 0.1)


@pytest.fixture(scope="module")
def stream() -> dict[str, Any]:
    return _run("net-stream", ["pv", "hvm", "pvhvm"], 0.05)


def test_emulated_disk_is_several_times_slower_and_dearer_for_dom0(disk: dict[str, Any]) -> None:
    pv, hvm = disk["pv"], disk["hvm"]
    # Gregg (2.6): emulated devices 2-10x slower; here ~4x on sequential reads
    assert pv["throughput"] > 2.5 * hvm["throughput"]
    assert hvm["latency_us"]["p50"] > 2.5 * pv["latency_us"]["p50"]
    # the host pays for emulation: an order of magnitude more dom0+qemu CPU per read
    assert _dom0_and_dm(hvm) > 5 * _dom0_and_dm(pv)
    assert hvm["cpu_ns"]["device_model"] > 0 and pv["cpu_ns"]["device_model"] == 0
    # ~15 register accesses per read, each an exit; PV takes none
    assert hvm["counts"]["vmexits"] > 10 * hvm["ops"] and pv["counts"]["vmexits"] == 0
    assert pv["counts"]["grant_ops"] >= pv["ops"] and hvm["counts"]["grant_ops"] == 0


def test_emulated_nic_is_several_times_slower(stream: dict[str, Any]) -> None:
    pv, hvm = stream["pv"], stream["hvm"]
    # Barham (2.1): VMware's emulated NIC lost 68% on TX at MTU 1500; here PV runs at
    # wire speed and the emulated NIC at well under half of it
    assert pv["throughput"] > 2.5 * hvm["throughput"]
    assert hvm["cpu_ns"]["device_model"] > hvm["cpu_ns"]["guest"]


@pytest.mark.parametrize("which", ["disk", "stream"])
def test_hvm_with_pv_drivers_is_close_to_pv(which: str, disk: dict[str, Any],
                                            stream: dict[str, Any]) -> None:
    res = {"disk": disk, "stream": stream}[which]
    pv, pvhvm = res["pv"], res["pvhvm"]
    # Xen Orchestra / Gregg (2.6): PV drivers in an HVM guest perform like PV (within 10%)
    assert pvhvm["throughput"] == pytest.approx(pv["throughput"], rel=0.10)
    assert pvhvm["counts"]["grant_ops"] == pytest.approx(pv["counts"]["grant_ops"], rel=0.10)
    # its I/O takes no emulated round trips: only the idle HLTs and timer MSRs exit
    assert pvhvm["cpu_ns"]["device_model"] < 0.01 * pvhvm["cpu_ns"]["dom0"]


def test_page_table_churn_hap_beats_pv_and_shadow_is_slowest() -> None:
    res = _run("pagetable", ["pv", "hvm", "hvm-shadow"], 0.05)
    hap, pv, shadow = (res[m]["throughput"] for m in ("hvm", "pv", "hvm-shadow"))
    # Adams & Agesen (2.2): trap-and-emulate page tables are the worst case (forkwait
    # 106 s vs 6 s native); with HAP the guest writes its own tables
    assert hap > 1.2 * pv > 1.2 * shadow
    assert shadow * 5 < hap
    assert res["hvm-shadow"]["vmexits_by_reason"]["EXCEPTION_NMI"] > 0
    assert "EXCEPTION_NMI" not in res["hvm"]["vmexits_by_reason"]
    assert res["pv"]["counts"]["hypercalls"] > 0  # mmu_update batches


def test_64bit_pv_pays_more_per_syscall_than_hvm() -> None:
    res = _run("syscall", ["pv", "pvh", "hvm"], 0.02)
    assert res["pv"]["latency_us"]["p50"] > 3 * res["hvm"]["latency_us"]["p50"]
    assert res["pvh"]["throughput"] == pytest.approx(res["hvm"]["throughput"], rel=0.01)
    assert res["pv"]["cpu_ns"]["hypervisor"] > res["pv"]["cpu_ns"]["guest"]


def test_kernel_build_pv_is_slower_than_pvhvm_by_about_the_published_margin() -> None:
    res = _run("kernel-build", ["pv", "pvhvm", "hvm-shadow"], 0.2)
    ratio = res["pvhvm"]["throughput"] / res["pv"]["throughput"]
    # Xen Orchestra (2.6): PVHVM builds a kernel 16% faster than PV; Barham: PV ~3% off
    # native. Accept 5-30%.
    assert 1.05 < ratio < 1.30
    assert res["hvm-shadow"]["throughput"] < res["pv"]["throughput"]


def test_starved_dom0_hurts_emulated_io_more_than_pv_io() -> None:
    fed = _run("disk", ["pv", "hvm"], 0.1)
    starved = _run("disk", ["pv", "hvm"], 0.4, hogs=2, dom0_weight=1)
    kept = {m: starved[m]["throughput"] / fed[m]["throughput"] for m in ("pv", "hvm")}
    # an emulated read needs ~15 round trips through qemu on dom0 against PV's two dom0
    # passes, and each waits for dom0 to be scheduled: PV keeps several times the share
    # of its throughput that the emulated disk keeps (which can be none at all: credit
    # never runs an OVER dom0 vCPU while UNDER hogs are runnable)
    assert kept["pv"] > 2 * kept["hvm"]
    assert 0 < kept["pv"] < 0.5


def test_same_seed_same_numbers() -> None:
    a = compare(Setup("ping:rate=500", seconds=0.05, seed=3), ["hvm"])
    b = compare(Setup("ping:rate=500", seconds=0.05, seed=3), ["hvm"])
    assert a == b

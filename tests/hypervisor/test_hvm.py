"""HVM and PVH vCPUs: exits by reason, Xen's own devices, interrupts, and what each mode
charges for the same guest operation."""

from __future__ import annotations

import random
from typing import Any

import pytest

from tests.hypervisor.hvm_helpers import ProbeProgram, delta, exits, kinds, probe
from xensim.domains.guest.emul_drivers import inp, mmio_read, mmio_write, outp
from xensim.domains.guest.guest_vcpu import (
    Compute,
    GuestOp,
    GuestVcpu,
    Hypercall,
    IoAccess,
    SleepUntil,
)
from xensim.domains.guest.platform import PV_MMU_BATCH, mode_of
from xensim.host import Host
from xensim.hypervisor.costs import CostModel
from xensim.hypervisor.errno import ENOSYS
from xensim.hypervisor.hvm.ioreq import IOREQ_TYPE_COPY, IOREQ_TYPE_PIO
from xensim.hypervisor.hvm.vdevices import LAPIC_EOI, PIT_HZ
from xensim.hypervisor.hypercall import HC
from xensim.hypervisor.mmu_op import MMU
from xensim.hypervisor.time import MILLISECS
from xensim.hypervisor.vcpu import PauseFlag

RTC_INDEX, RTC_DATA, PIT_CH0, PIT_CMD = 0x70, 0x71, 0x40, 0x43


def _internal_ns(host: Host) -> int:
    c = host.hv.costs
    return c["vmexit"] + c["hvm_io_decode"] + c["hvm_internal_device"]


# --- Xen's own devices ----------------------------------------------------------------------
def _clock_reads(log: dict[str, Any], n: int = 20) -> ProbeProgram:
    def prog(g: GuestVcpu) -> Any:
        yield SleepUntil(MILLISECS(1))
        d = g.vcpu.domain
        log["before"] = exits(d), d.info["device_model"].ioreqs
        yield outp(RTC_INDEX, 0x0B)
        log["status_b"] = yield inp(RTC_DATA)
        yield outp(RTC_INDEX, 0x00)
        log["seconds"] = yield inp(RTC_DATA)
        log["latch_t"] = g.now
        yield outp(PIT_CMD, 0x00)  # latch channel 0
        lo = yield inp(PIT_CH0)
        hi = yield inp(PIT_CH0)
        log["pit"] = hi << 8 | lo
        lat = []
        for _ in range(n):
            t0 = g.now
            yield inp(RTC_DATA)
            lat.append(g.now - t0)
        log["latency"] = lat
        log["after"] = exits(d), d.info["device_model"].ioreqs
    return prog


def test_rtc_and_pit_are_answered_by_xen_without_an_ioreq() -> None:
    host = Host(pcpus=2, seed=1)
    log: dict[str, Any] = {}
    d = probe(host, _clock_reads(log), type="hvm", xen_platform_pci=0)
    host.run(ms=3)
    assert log["status_b"] == 0x02 and log["seconds"] == 0x00  # 24h BCD; t < 1 s
    t = log["latch_t"]
    assert log["pit"] == (0x10000 - t * PIT_HZ // 10**9) % 0x10000
    assert delta(log["after"][0], log["before"][0]) == {"IO_INSTRUCTION": 7 + 20}
    assert log["after"][1] == log["before"][1]  # qemu saw none of them
    assert log["latency"] == [_internal_ns(host)] * 20
    assert [dev.accesses for dev in d.hvm.devices[:2]] == [4 + 20, 3]  # RTC, PIT


def test_a_starved_dom0_does_not_slow_xens_own_devices() -> None:
    """dom0 paused: an RTC read still costs exactly its exit, while an access that needs
    qemu waits (blocked in Xen) until dom0 runs again."""
    host = Host(pcpus=2, seed=1)
    log: dict[str, Any] = {}
    ide_log: list[int] = []
    rtc = _clock_reads(log)

    def prog(g: GuestVcpu) -> Any:
        yield from rtc(g)
        t0 = g.now
        yield inp(0x1F7)  # the IDE status register: qemu's
        ide_log.append(g.now - t0)

    d = probe(host, prog, type="hvm", xen_platform_pci=0, disk=["/dev/vg/g,raw,hda,r"])
    host.run(ms=0.5)
    host.toolstack.domain_pause(host.dom0)
    host.run(ms=5)
    assert log["latency"] == [_internal_ns(host)] * 20
    assert ide_log == [] and d.vcpus[0].pause_flags & PauseFlag.BLOCKED_IN_XEN
    host.toolstack.domain_unpause(host.dom0)
    host.run(ms=1)
    assert len(ide_log) == 1 and ide_log[0] > MILLISECS(3)


def test_pvh_has_no_emulated_timers_only_the_lapic() -> None:
    """libxl gives a PVH domU XEN_X86_EMU_LAPIC only: the RTC and PIT ports are unclaimed
    (all ones), while the LAPIC EOI register is still Xen's."""
    host = Host(pcpus=2, seed=1)
    got: list[int] = []

    def prog(g: GuestVcpu) -> Any:
        yield outp(RTC_INDEX, 0x0B)
        got.append((yield inp(RTC_DATA)))
        got.append((yield inp(PIT_CH0)))
        got.append((yield inp(0x1F7)))
        yield mmio_write(LAPIC_EOI, 0)
        got.append((yield mmio_read(LAPIC_EOI)))

    d = probe(host, prog, type="pvh")
    host.run(ms=2)
    assert got == [0xFF, 0xFF, 0xFF, 0]
    assert [type(dev).__name__ for dev in d.hvm.devices] == ["LapicEoi"]
    assert d.hvm.devices[0].accesses == 2
    assert d.vmexit_counts == {"IO_INSTRUCTION": 4, "EPT_VIOLATION": 2, "HLT": 1}


# --- interrupts and idling ------------------------------------------------------------------
def test_each_emulated_interrupt_costs_an_eoi_exit() -> None:
    host = Host(pcpus=2, seed=1)
    d = host.create("g", type="hvm", xen_platform_pci=0, workload="disk")
    host.run(ms=30)
    ops = host.toolstack.guest_stats[d.domid][0]["io_ops"]
    assert ops > 50
    assert d.hvm.irqs_injected >= ops
    assert d.vmexit_counts["APIC_ACCESS"] == d.hvm.irqs_injected


def test_a_line_still_asserted_at_eoi_is_delivered_again() -> None:
    host = Host(pcpus=1, seed=1)
    d = host.create("g", type="hvm", xen_platform_pci=0, paused=True)
    hvm = d.hvm
    hvm.set_irq_level(10, 1)
    hvm.set_irq_level(10, 1)  # no new edge: nothing more to deliver
    assert hvm.ack_irqs(0) == [10] and hvm.irqs_injected == 1
    hvm.eoi(0, 10)  # still asserted (level-triggered): again
    assert hvm.ack_irqs(0) == [10] and hvm.irqs_injected == 2
    hvm.set_irq_level(10, 0)
    hvm.eoi(0, 10)
    assert hvm.ack_irqs(0) == [] and hvm.irqs_injected == 2


def test_an_idle_hvm_guest_halts_and_a_pv_one_blocks() -> None:
    host = Host(pcpus=2, seed=1)
    hvm = host.create("h", type="hvm", workload="idle")
    pvh = host.create("p", type="pvh", workload="idle")
    pv = host.create("v", workload="idle")
    host.run(ms=5)
    assert hvm.vmexit_counts == {"HLT": 1, "IO_INSTRUCTION": 2}  # the unplug, then HLT
    assert pvh.vmexit_counts == {"HLT": 1}
    assert pv.vmexit_counts == {} and pv.hypercall_counts["sched_op"] == 1
    assert pvh.hypercall_counts.get("sched_op", 0) == 0


@pytest.mark.parametrize("gtype", ["hvm", "pvh", "pv"])
def test_a_sleep_is_a_tsc_deadline_write_and_hlt_or_two_hypercalls(gtype: str) -> None:
    host = Host(pcpus=2, seed=1)
    d = host.create("g", type=gtype, workload="duty:busy_ms=0.5,idle_ms=0.5,phase=0")
    host.run(ms=10)
    cycles = host.toolstack.guest_stats[d.domid][0]["cycles"]
    assert cycles >= 9
    if gtype == "pv":
        assert d.vmexit_counts == {}
        assert d.hypercall_counts["set_timer_op"] in (cycles, cycles + 1)
        assert d.hypercall_counts["sched_op"] == d.hypercall_counts["set_timer_op"]
    else:
        assert d.vmexit_counts["MSR_WRITE"] in (cycles, cycles + 1)
        assert d.vmexit_counts["HLT"] == d.vmexit_counts["MSR_WRITE"]
        assert "set_timer_op" not in d.hypercall_counts and "sched_op" not in d.hypercall_counts


# --- guest operations under each mode ---------------------------------------------------------
OPS = (("syscall", 100), ("pte_write", 100), ("page_fault", 40), ("tlb_miss", 1000),
       ("cpuid", 10))


def _ops_run(**keys: Any) -> tuple[Any, dict[str, dict[str, int]], dict[str, int], list[int]]:
    """Each guest operation once, as a batch: the exits, hypercalls and vCPU time each cost."""
    host = Host(pcpus=2, seed=1)
    out: dict[str, dict[str, int]] = {}
    durations: dict[str, int] = {}
    rcs: list[int] = []

    def prog(g: GuestVcpu) -> Any:
        d, v = g.vcpu.domain, g.vcpu
        yield SleepUntil(MILLISECS(1))
        for op, n in OPS:
            before = exits(d), dict(d.hypercall_counts), dict(v.kind_ns), g.now
            yield GuestOp(op, n)
            durations[op] = g.now - before[3]
            out[op] = {**delta(exits(d), before[0]),
                       **{f"hc:{k}": n for k, n in delta(d.hypercall_counts, before[1]).items()},
                       **{f"ns:{k}": n for k, n in delta(v.kind_ns, before[2]).items()}}
        reqs = [(0x1000 | MMU.NORMAL_PT_UPDATE, 0x2067)]
        rcs.append((yield Hypercall(HC.mmu_update, (reqs, 1))))

    probe(host, prog, **keys)
    host.run(ms=3)
    return host, out, durations, rcs


def test_pv_page_table_writes_are_mmu_update_hypercalls_in_batches_of_32() -> None:
    host, out, _, rcs = _ops_run(type="pv")
    assert PV_MMU_BATCH == 32
    assert out["pte_write"]["hc:mmu_update"] == 4  # 100 = 32 + 32 + 32 + 4
    assert not any(k.isupper() for o in out.values() for k in o)  # no VM exits at all
    assert rcs == [0]


@pytest.mark.parametrize("paging", ["hap", "shadow"])
def test_hvm_page_table_writes_and_faults_exit_only_under_shadow_paging(paging: str) -> None:
    host, out, _, rcs = _ops_run(type="hvm", hap=int(paging == "hap"))
    c = host.hv.costs
    if paging == "hap":
        assert out["pte_write"] == {"ns:kernel": 100 * c["native_pte_write"]}
        assert out["page_fault"] == {"ns:kernel": 40 * c["native_page_fault"]}
        assert out["tlb_miss"] == {"ns:guest": 1000 * c["tlb_miss_hap"]}
    else:
        assert out["pte_write"] == {"EXCEPTION_NMI": 100, "ns:kernel": 100 * c["native_pte_write"],
                                    "ns:vmexit": 100 * (c["vmexit"] + c["shadow_pte_write"])}
        assert out["page_fault"]["EXCEPTION_NMI"] == 40
        assert out["tlb_miss"] == {"ns:guest": 1000 * c["tlb_miss"]}
    assert out["cpuid"] == {"CPUID": 10, "ns:vmexit": 10 * (c["vmexit"] + c["hvm_cpuid_msr"])}
    assert out["syscall"] == {"ns:kernel": 100 * c["native_syscall"]}
    assert rcs == [ENOSYS]  # an HVM guest has no mmu_update


def test_a_pv_syscall_costs_more_than_an_hvm_one_and_shadow_faults_the_most() -> None:
    per = {mode: _ops_run(**keys)[2] for mode, keys in (
        ("pv", {"type": "pv"}), ("hvm", {"type": "hvm"}), ("pvh", {"type": "pvh"}),
        ("shadow", {"type": "hvm", "hap": 0}))}
    assert per["pv"]["syscall"] > 3 * per["hvm"]["syscall"]
    assert per["pvh"]["syscall"] == per["hvm"]["syscall"]
    assert per["hvm"]["pte_write"] < per["pv"]["pte_write"] < per["shadow"]["pte_write"]
    assert per["hvm"]["page_fault"] < per["pv"]["page_fault"] < per["shadow"]["page_fault"]
    assert per["pv"]["tlb_miss"] == per["shadow"]["tlb_miss"] < per["hvm"]["tlb_miss"]


def test_pv_guests_have_no_vmexit_counts_and_no_hvm_state() -> None:
    host = Host(pcpus=2, seed=1)
    ds = [host.create(w, workload=w) for w in ("disk", "pagetable", "ping")]
    host.run(ms=20)
    for d in ds:
        assert d.hvm is None and d.vmexit_counts == {}
        assert "device_model" not in d.info
        assert d.info["platform"].name == "pv"
    assert ds[1].hypercall_counts["mmu_update"] > 0


def test_a_pv_guest_touching_a_device_register_is_refused() -> None:
    host = Host(pcpus=2, seed=1)
    got: list[int] = []

    def prog(g: GuestVcpu) -> Any:
        got.append((yield inp(RTC_DATA)))
        got.append((yield mmio_read(0xF000_00C0)))

    d = probe(host, prog)
    host.run(ms=1)
    assert got == [0xFF, 0xFFFF_FFFF] and d.denied == 2 and d.vmexit_counts == {}


@pytest.mark.parametrize("keys,mode", [({"type": "pv"}, "pv"), ({"type": "pvh"}, "pvh"),
                                       ({"type": "hvm"}, "pvhvm"),
                                       ({"type": "hvm", "xen_platform_pci": 0}, "hvm"),
                                       ({"type": "hvm", "hap": 0}, "pvhvm-shadow")])
def test_the_mode_of_a_config(keys: dict[str, Any], mode: str) -> None:
    host = Host(pcpus=1, seed=1)
    d = host.create("g", **keys)
    assert mode_of(d.info["config"]) == mode == d.info["platform"].name


# --- hostile HVM guests -----------------------------------------------------------------------
def test_random_register_accesses_from_an_hvm_guest_never_hurt_the_host() -> None:
    """Garbage to every port and MMIO window, qemu's devices included: the guest only ever
    gets values back (all ones where nothing decodes), and a PV neighbour keeps working."""
    host = Host(pcpus=2, seed=1)
    rng = random.Random(7)
    hot = [0x10, 0x40, 0x43, 0x70, 0x71, 0x1F0, 0x1F7, 0x3F6, 0x3F8, 0x3FD, 0xC000, 0xC002,
           0xC004, 0xC100, 0xC110, 0xC120, 0xC13E]
    mmio = [0xA0000, 0xB8000, 0xF000_0000, 0xF000_00C0, 0xF000_2818, 0xF000_3818, LAPIC_EOI,
            0xFEC0_0000, 0xDEAD_0000]
    values: list[int] = []

    def prog(g: GuestVcpu) -> Any:
        for _ in range(1500):
            size = rng.choice((1, 2, 4))
            if rng.random() < 0.5:
                space, addr = IOREQ_TYPE_PIO, (rng.choice(hot) + rng.randrange(-2, 3)
                                               if rng.random() < 0.8 else rng.randrange(1 << 16))
            else:
                space, addr = IOREQ_TYPE_COPY, rng.choice(mmio) + rng.randrange(0, 0x40, 4)
            val = yield IoAccess(space, addr, size, rng.random() < 0.5,
                                 rng.choice((0, 1, 0xFF, 0xC8, 0x20, -1, 1 << 40,
                                             rng.getrandbits(32))))
            values.append(val)
            if rng.random() < 0.1:
                yield Compute(rng.randrange(1, 50_000))

    for keys in ({"xen_platform_pci": 0, "vif": ["model=e1000"]},
                 {"xen_platform_pci": 0}, {}):
        hvm = probe(host, prog, name=f"bad{len(host.all_domains)}", type="hvm",
                    disk=["/dev/vg/g,raw,hda,r"], **keys)
        host.run(ms=40)
        assert hvm.domid in host.hv.domains and not hvm.is_shutdown
    pv = host.create("pv", workload="disk")
    host.run(ms=20)
    assert len(values) == 3 * 1500
    assert all(isinstance(v, int) and 0 <= v < 1 << 32 for v in values)
    assert host.toolstack.guest_stats[pv.domid][0]["io_ops"] > 10


def test_a_hypercall_fuzzer_in_an_hvm_guest_leaves_the_host_running() -> None:
    host = Host(pcpus=2, seed=3)
    fz = host.create("fuzz", type="hvm", workload="hypercall-fuzz")
    ok = host.create("ok", type="hvm", workload="disk")
    host.run(ms=60)
    st = host.toolstack.guest_stats[fz.domid][0]
    assert st["fuzz_calls"] > 1000 and "fuzz_bad_rc" not in st
    assert fz.hypercall_counts["mmu_update"] > 0
    assert host.dom0.domid in host.hv.domains and not host.dom0.is_shutdown
    assert host.toolstack.guest_stats[ok.domid][0]["io_ops"] > 10


# --- determinism ------------------------------------------------------------------------------
def _fingerprint(seed: int) -> Any:
    host = Host(pcpus=2, seed=seed)
    a = host.create("a", type="hvm", xen_platform_pci=0, workload="ping:rate=500")
    b = host.create("b", type="hvm", hap=0, workload="kernel-build:cc_ms=1")
    c = host.create("c", type="pvh", workload="disk")
    host.run(ms=40)
    return ([(d.vmexit_counts, d.hypercall_counts, host.toolstack.guest_stats[d.domid][0])
             for d in (a, b, c)], kinds(host, "qemu"), a.info["device_model"].ioreqs)


def test_same_seed_same_exits_and_ioreqs() -> None:
    first = _fingerprint(5)
    assert first == _fingerprint(5)
    assert first[0][0][0]["IO_INSTRUCTION"] > 0 and first[0][1][0]["EXCEPTION_NMI"] > 0


# --- the cost table --------------------------------------------------------------------------
COST_SCENARIOS = {
    "emulated": {"type": "hvm", "xen_platform_pci": 0, "vif": ["model=e1000"],
                 "workload": "web:rate=1000,cpu_ms=0.05"},
    "shadow": {"type": "hvm", "hap": 0, "workload": "kernel-build:cc_ms=0.1,read=0"},
    "pvh": {"type": "pvh", "workload": "kernel-build:cc_ms=0.1,read=0"},
    "pv": {"type": "pv", "workload": "kernel-build:cc_ms=0.1,read=0"},
    "sleeper": {"type": "hvm", "workload": "duty:busy_ms=0.1,idle_ms=0.1"},
}
ONLY_IN = {"pv_syscall_bounce": {"pv"}, "pv_fault_bounce": {"pv"},
           "shadow_pte_write": {"shadow"}, "shadow_page_fault": {"shadow"},
           "tlb_miss_hap": {"pvh"}, "hvm_cpuid_msr": {"sleeper"},
           "qemu_dma_4k": {"emulated"}, "qemu_net_packet": {"emulated"},
           "qemu_disk_request": {"emulated"}, "hvm_internal_device": {"emulated"}}


def _cpu_by_kind(costs: dict[str, int] | None) -> dict[str, Any]:
    out = {}
    for name, keys in COST_SCENARIOS.items():
        host = Host(pcpus=2, seed=1, costs=costs)
        host.create("g", **keys)
        host.run(ms=12)
        out[name] = {repr(v): dict(v.kind_ns) for d in host.all_domains for v in d.vcpus}
    return out


def test_every_hvm_cost_row_is_charged_and_only_where_its_mode_pays_it() -> None:
    """Raise one row at a time: the runs it changes are those that use it (a row nothing
    charges, as qemu_disk_request was, changes none)."""
    c = CostModel()
    base = _cpu_by_kind(None)
    rows = ["vmexit", "hvm_io_decode", "ioreq_send", "ioreq_complete", "qemu_ioreq",
            "qemu_register", "hvm_irq_inject", "native_syscall", "native_page_fault",
            "native_pte_write", "tlb_miss", *ONLY_IN]
    for row in rows:
        changed = {name for name, cpu in _cpu_by_kind({row: 3 * c[row] + 1000}).items()
                   if cpu != base[name]}
        assert changed == ONLY_IN.get(row, changed) and changed, row

"""The device model as a process: buffered VGA, unplug, NICs, the serial console, its
death and its stub domain, and ``xl create`` of an HVM config."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.hypervisor.hvm_helpers import delta, exits, kinds, probe
from xensim.domains.guest.emul_drivers import inp, serial_write, vga_write
from xensim.domains.guest.guest_vcpu import GuestVcpu, SleepUntil
from xensim.domains.pvio.blkif import BlkFront
from xensim.domains.pvio.netif import NetFront
from xensim.host import Host
from xensim.hypervisor.domain import ShutdownReason
from xensim.hypervisor.hvm.ioreq import IOREQ_BUFFER_SLOT_NUM, IOREQ_READ, IOREQ_TYPE_PIO, Ioreq
from xensim.hypervisor.time import MILLISECS
from xensim.hypervisor.vcpu import PauseFlag
from xensim.toolstack.libxl import LibxlError

ROOT = Path(__file__).resolve().parents[2]
HVM_CFG = ROOT / "configs" / "hvm-guest.cfg"
DISK = ["/dev/vg/g,raw,hda,r"]


def _stats(host: Host, d: Any) -> dict[str, Any]:
    return host.toolstack.guest_stats[d.domid][0]  # type: ignore[no-any-return]


# --- buffered ioreqs: the VGA window ----------------------------------------------------------
def test_vga_writes_are_buffered_one_notification_per_run_and_drained_by_qemu() -> None:
    host = Host(pcpus=2, seed=1)
    log: dict[str, Any] = {}

    def prog(g: GuestVcpu) -> Any:
        d, v = g.vcpu.domain, g.vcpu
        srv = d.info["device_model"].server
        yield SleepUntil(MILLISECS(1))
        before = exits(d), srv.sent, dict(v.kind_ns), g.now
        yield from vga_write("hello, world")
        log["run1"] = (delta(exits(d), before[0]), srv.sent - before[1],
                       delta(v.kind_ns, before[2]), g.now - before[3], len(srv.buffered))
        yield SleepUntil(MILLISECS(4))
        before = srv.sent
        yield from vga_write("again", row=1)
        log["run2"] = srv.sent - before

    d = probe(host, prog, type="hvm", xen_platform_pci=0)
    dm = d.info["device_model"]
    host.run(ms=0.5)
    ioreqs = dm.ioreqs
    host.toolstack.domain_pause(host.dom0)  # qemu cannot drain while we look
    host.run(ms=1.5)
    c = host.hv.costs
    posted = c["vmexit"] + c["hvm_io_decode"]  # no ioreq_send, no wait for an answer
    assert log["run1"] == ({"EPT_VIOLATION": 12}, 1, {"vmexit": 12 * posted}, 12 * posted, 12)
    assert dm.ioreqs == ioreqs and dm.device("vga").screen()[0] == ""
    host.toolstack.domain_unpause(host.dom0)
    host.run(ms=1)
    assert dm.ioreqs == ioreqs + 12 and not dm.server.buffered
    assert dm.device("vga").screen()[0] == "hello, world"
    host.run(ms=2)
    # a run after the drain notifies again (qemu, now free to run on the other pCPU, may
    # drain in the middle of the run, which makes it two runs)
    assert log["run2"] >= 1
    assert dm.device("vga").screen()[:2] == ["hello, world", "again"]


def test_a_full_buffered_ring_makes_the_next_write_synchronous() -> None:
    host = Host(pcpus=2, seed=1)
    rows = [f"{r:02d}" + "x" * 70 for r in range(8)]  # 576 writes > 511 slots

    vmexit_ns: list[int] = []

    def prog(g: GuestVcpu) -> Any:
        yield SleepUntil(MILLISECS(1))
        vmexit_ns.append(g.vcpu.kind_ns["vmexit"])
        for r, text in enumerate(rows):
            yield from vga_write(text, row=r)

    d = probe(host, prog, type="hvm", xen_platform_pci=0)
    dm = d.info["device_model"]
    host.run(ms=0.5)
    host.toolstack.domain_pause(host.dom0)
    host.run(ms=3)
    assert len(dm.server.buffered) == IOREQ_BUFFER_SLOT_NUM
    v = d.vcpus[0]
    assert v.pause_flags & PauseFlag.BLOCKED_IN_XEN  # the 512th waits for qemu
    c = host.hv.costs
    posted = c["vmexit"] + c["hvm_io_decode"]
    assert v.kind_ns["vmexit"] - vmexit_ns[0] == 512 * posted + c["ioreq_send"]
    host.toolstack.domain_unpause(host.dom0)
    host.run(ms=3)
    assert dm.device("vga").screen()[:8] == rows
    assert d.vmexit_counts["EPT_VIOLATION"] == 8 * 72


# --- the serial console -----------------------------------------------------------------------
def test_serial_output_costs_two_round_trips_per_character_and_reaches_xl_console() -> None:
    host = Host(pcpus=2, seed=1)

    def prog(g: GuestVcpu) -> Any:
        yield from serial_write("hi there")

    d = probe(host, prog, type="hvm", xen_platform_pci=0, serial="pty")
    host.run(ms=2)
    dm = d.info["device_model"]
    assert d.vmexit_counts["IO_INSTRUCTION"] == 2 * 9  # LSR poll + THR per char and "\n"
    assert dm.ioreqs == 18
    rc, out, _ = host.xl("console -t serial g")
    assert rc == 0 and out.endswith("hi there\n")


# --- HVM with PV drivers: unplug --------------------------------------------------------------
@pytest.mark.parametrize("model", ["rtl8139", "e1000"])
def test_pv_drivers_unplug_the_emulated_disk_and_nic(model: str) -> None:
    host = Host(pcpus=2, seed=1)
    got: list[int] = []

    def late_access(g: GuestVcpu) -> Any:
        yield SleepUntil(MILLISECS(5))
        got.append((yield inp(0x1F7)))

    d = host.create("g", type="hvm", workload="web:rate=300", vif=[f"model={model}"])
    p = probe(host, late_access, name="p", type="hvm", disk=DISK)
    host.run(ms=40)
    dm = d.info["device_model"]
    assert [dev.name for dev in dm.devices] == ["serial", "vga", "xen-platform"]
    assert dm.device("xen-platform").removed == ["ide", model]  # type: ignore[attr-defined]
    assert dm.nics == [] and dm.disks == []
    # exactly the unplug's two exits (read the magic, write the mask), both to qemu
    assert d.vmexit_counts["IO_INSTRUCTION"] == 2 and dm.ioreqs == 2
    c = host.hv.costs
    assert kinds(host, "qemu")[f"d0v{d.domid % 2}"] >= 2 * (c["qemu_ioreq"] + c["qemu_register"])
    fronts = d.info["kernel"].fronts
    assert [type(f) for f in fronts] == [NetFront, BlkFront] and all(f.connected for f in fronts)
    st = _stats(host, d)
    assert st["io_ops"] > 3
    assert d.hypercall_counts["event_channel_op"] > st["io_ops"]  # the rings' notifications
    assert (host.dom0.hypercall_counts.get("grant_table_op", 0)) > 0  # blkback/netback
    # after the unplug the IDE ports are nobody's: all ones, answered by Xen, not qemu
    pdm = p.info["device_model"]
    assert got == [0xFF] and pdm.ioreqs == 2
    assert pdm.server.claims(Ioreq(IOREQ_TYPE_PIO, 0x1F7, 1, IOREQ_READ)) == (False, False)


# --- PVH: no device model ---------------------------------------------------------------------
def test_pvh_starts_no_device_model_and_does_pv_io() -> None:
    host = Host(pcpus=2, seed=1)
    d = host.create("g", type="pvh", workload="web:rate=300")
    host.run(ms=40)
    assert "device_model" not in d.info and "stubdom" not in d.info
    assert d.hvm is not None and d.hvm.servers == []
    assert kinds(host, "qemu") == {}
    assert "IO_INSTRUCTION" not in d.vmexit_counts and "EPT_VIOLATION" not in d.vmexit_counts
    assert [type(f) for f in d.info["kernel"].fronts] == [NetFront, BlkFront]
    assert _stats(host, d)["io_ops"] > 3
    assert [x.name for x in host.hv.domains.values()] == ["Domain-0", "g"]


# --- emulated NICs ----------------------------------------------------------------------------
def _nic_run(model: str, workload: str, ms: float = 40) -> tuple[Host, Any]:
    host = Host(pcpus=2, seed=1)
    d = host.create("g", type="hvm", xen_platform_pci=0, vif=[f"model={model}"],
                    workload=workload)
    host.run(ms=ms)
    return host, d


@pytest.mark.parametrize("model", ["e1000", "rtl8139"])
def test_both_emulated_nics_carry_ping_and_net_stream(model: str) -> None:
    host, d = _nic_run(model, "ping:rate=500")
    st = _stats(host, d)
    dm = d.info["device_model"]
    assert [n.name for n in dm.nics] == [model]
    assert st["io_sent"] >= 15 and st["io_ops"] >= st["io_sent"] - 1  # every ping answered
    host, d = _nic_run(model, "net-stream:mbps=100")
    assert _stats(host, d)["io_ops"] > 200
    assert d.info["device_model"].nics[0].rx_dropped == 0


def test_rtl8139_costs_more_exits_per_packet_than_e1000() -> None:
    """A packet sent, one interrupt each at this rate: e1000 is the TDT doorbell and the
    handler's ICR read, IMC and IMS writes (4 MMIO exits); rtl8139 is TSAD and TSD, then
    the handler's ISR read and write and the TSD read-back (5 port exits)."""
    per = {}
    for model in ("e1000", "rtl8139"):
        host, d = _nic_run(model, "net-stream:mbps=100")
        io = d.vmexit_counts.get("IO_INSTRUCTION", 0) + d.vmexit_counts.get("EPT_VIOLATION", 0)
        per[model] = io / _stats(host, d)["io_ops"]
    assert per["e1000"] == pytest.approx(4, abs=0.02)
    assert per["rtl8139"] == pytest.approx(5, abs=0.02)


@pytest.mark.parametrize("model", ["e1000", "rtl8139"])
def test_a_busy_nic_keeps_interrupting(model: str) -> None:
    """Requests arrive while the handler runs, so the line is still up at its EOI: Xen
    must deliver it again (a level-triggered pin), or the NIC falls silent for good."""
    host, d = _nic_run(model, "web:rate=3000,cpu_ms=0", ms=20)
    first = _stats(host, d)["io_ops"]
    host.run(ms=20)
    assert first > 15 and _stats(host, d)["io_ops"] > 2 * first - 5
    assert d.info["device_model"].nics[0].rx_dropped == 0
    assert d.vmexit_counts["APIC_ACCESS"] == d.hvm.irqs_injected


def test_the_default_nic_model_is_rtl8139_and_an_unemulated_one_is_refused() -> None:
    host = Host(pcpus=2, seed=1)
    d = host.create("g", type="hvm", xen_platform_pci=0, workload="ping")
    assert [n.name for n in d.info["device_model"].nics] == ["rtl8139"]
    with pytest.raises(LibxlError, match="model=virtio is not emulated"):
        host.create("bad", type="hvm", vif=["model=virtio"])
    assert [x.name for x in host.hv.domains.values()] == ["Domain-0", "g"]  # nothing left


# --- the device model's death -----------------------------------------------------------------
def _crash_run(**keys: Any) -> tuple[Host, Any]:
    host = Host(pcpus=2, seed=1)
    d = host.create("g", type="hvm", xen_platform_pci=0, workload="disk", **keys)
    host.run(ms=10)
    assert _stats(host, d)["io_ops"] > 0
    d.info["device_model"].crash()
    return host, d


def test_a_crashed_device_model_crashes_its_guest_which_is_destroyed_by_default() -> None:
    host, d = _crash_run()
    dm = d.info["device_model"]
    assert d.is_shutdown and d.shutdown_code == ShutdownReason.CRASH
    host.run(ms=5)
    assert d.domid not in host.hv.domains and not dm.alive
    assert host.toolstack.io.leaks(d.domid) == []
    qemu = kinds(host, "qemu")
    host.run(ms=10)
    assert kinds(host, "qemu") == qemu  # no more emulation


def test_on_crash_preserve_keeps_the_guest_shut_down() -> None:
    host, d = _crash_run(on_crash="preserve")
    host.run(ms=5)
    assert d.domid in host.hv.domains and d.is_shutdown
    assert d.shutdown_code == ShutdownReason.CRASH
    line = next(ln for ln in host.xl("list")[1].splitlines() if ln.startswith("g "))
    assert "c" in line.split()[4]
    ran = sum(v.runstate_time[0] for v in d.vcpus)
    host.run(ms=10)
    assert sum(v.runstate_time[0] for v in d.vcpus) == ran  # its vCPUs never run again
    assert host.xl("destroy g")[0] == 0
    assert host.toolstack.io.leaks(d.domid) == []


def test_on_crash_restart_gets_a_new_device_model() -> None:
    host, d = _crash_run(on_crash="restart")
    host.run(ms=2130)  # xl sleeps 2 s and libxl builds (100 ms) before the new one exists
    nd = host.domain("g")
    assert nd.domid != d.domid and d.info["restarted_as"] == nd.domid
    assert nd.info["device_model"] is not d.info["device_model"]
    assert nd.info["device_model"].alive and _stats(host, nd)["io_ops"] > 10


def test_destroying_an_hvm_guest_stops_its_device_model() -> None:
    host = Host(pcpus=2, seed=1)
    d = host.create("g", type="hvm", xen_platform_pci=0, workload="disk")
    host.run(ms=5)
    dm = d.info["device_model"]
    assert host.xl("destroy g")[0] == 0
    assert not dm.alive and d.hvm.servers == []
    # An emulation step already running on a dom0 vCPU finishes (xensim does not cut a
    # work item short); after that, no more qemu time.
    host.run(ms=1)
    qemu = kinds(host, "qemu")
    host.run(ms=5)
    assert kinds(host, "qemu") == qemu and host.toolstack.io.leaks(d.domid) == []


# --- stub domains -----------------------------------------------------------------------------
def _stub_run(**keys: Any) -> tuple[Host, Any, Any]:
    host = Host(pcpus=2, seed=1)
    d = host.create("g", type="hvm", xen_platform_pci=0, workload="disk",
                    device_model_stubdomain_override=1, **keys)
    host.run(ms=20)
    return host, d, host.domain("g-dm")


@pytest.mark.parametrize("version,mib", [("qemu-xen", 128), ("qemu-xen-traditional", 32)])
def test_a_stub_domain_runs_the_device_model_on_its_own_vcpu(version: str, mib: int) -> None:
    host, d, stub = _stub_run(device_model_version=version)
    assert d.info["stubdom"] is stub and stub.info["dm_of"] is d
    assert len(stub.vcpus) == 1 and stub.memory_kib == mib * 1024
    assert d.info["device_model"].version == version
    assert _stats(host, d)["io_ops"] > 10
    assert list(kinds(host, "qemu")) == [repr(stub.vcpus[0])]  # none of it on dom0
    assert stub.hypercall_counts["dm_op"] > 0 and "dm_op" not in host.dom0.hypercall_counts
    assert "g-dm" in host.xl("list")[1]
    assert host.metrics()["domains"]["g-dm"]["cpu_share"] > 0.1  # the emulation's CPU


@pytest.mark.parametrize("on_crash", ["destroy", "preserve"])
def test_destroying_the_stub_domain_crashes_its_guest(on_crash: str) -> None:
    host, d, stub = _stub_run(on_crash=on_crash)
    assert host.xl("destroy g-dm")[0] == 0
    host.run(ms=5)
    assert stub.domid not in host.hv.domains
    assert d.shutdown_code == ShutdownReason.CRASH and not d.info["device_model"].alive
    assert (d.domid in host.hv.domains) == (on_crash == "preserve")
    assert host.toolstack.io.leaks(stub.domid) == []


def test_destroying_the_guest_removes_its_stub_domain() -> None:
    host, d, stub = _stub_run()
    assert host.xl("destroy g")[0] == 0
    host.run(ms=5)
    assert [x.name for x in host.hv.domains.values()] == ["Domain-0"]
    assert host.toolstack.io.leaks(d.domid) == [] and host.toolstack.io.leaks(stub.domid) == []
    assert "-dm" not in host.xl("list")[1]


def test_no_memory_for_the_stub_domain_fails_the_create_and_leaves_nothing(
        tmp_path: Path) -> None:
    host = Host(pcpus=2, seed=1, memory=1024 + 200)
    free = host.hv.free_memory_kib
    with pytest.raises(LibxlError, match="device model: not enough memory"):
        host.create("g", type="hvm", memory=128, device_model_stubdomain_override=1)
    cfg = tmp_path / "g.cfg"
    cfg.write_text('name = "g"\ntype = "hvm"\nmemory = 128\n'
                   "device_model_stubdomain_override = 1\n")
    rc, _, err = host.xl(f"create {cfg}")
    assert rc == 1 and "not enough memory" in err and "Traceback" not in err
    assert [x.name for x in host.hv.domains.values()] == ["Domain-0"]
    assert host.hv.free_memory_kib == free and host.toolstack.io.leaks(1) == []
    host.create("g", type="hvm", memory=128)  # without a stub domain it fits


# --- xl create --------------------------------------------------------------------------------
def test_xl_create_of_the_hvm_example_config() -> None:
    host = Host(pcpus=2, seed=1)
    rc, _, err = host.xl(f"create {HVM_CFG}")
    assert rc == 0, err
    host.run(ms=30)
    d = host.domain("hvm-guest")
    assert (d.guest_type, d.hvm.paging, len(d.vcpus)) == ("hvm", "hap", 2)
    dm = d.info["device_model"]
    assert dm.version == "qemu-xen" and dm.svc.dom0 is host.dom0
    assert dm.device("xen-platform").removed == ["ide", "e1000"]  # type: ignore[attr-defined]
    assert d.vmexit_counts["IO_INSTRUCTION"] == 2
    line = next(ln for ln in host.xl("list")[1].splitlines() if ln.startswith("hvm-guest"))
    assert line.split()[1:4] == [str(d.domid), "1024", "2"]
    rc, _, err = host.xl(f"create {HVM_CFG} xen_platform_pci=0 'name=\"emu\"'")
    assert rc == 0, err
    host.run(ms=10)
    e = host.domain("emu")
    assert [dev.name for dev in e.info["device_model"].devices] == ["serial", "vga", "ide",
                                                                   "cdrom", "e1000"]
    assert e.vmexit_counts.get("EPT_VIOLATION", 0) >= 2  # the e1000 driver's init


# --- competing for CPU ----------------------------------------------------------------------
def _disk_ops(starve_dom0: bool, **keys: Any) -> int:
    """Disk reads on one pCPU shared with dom0 and two CPU hogs, dom0 at weight 1 or 256."""
    host = Host(pcpus=1, seed=1)
    if starve_dom0:
        host.toolstack.sched_params(host.dom0, {"weight": 1})
    d = host.create("g", workload="disk", **keys)
    host.create("h1", workload="cpu")
    host.create("h2", workload="cpu")
    host.run(ms=200)
    return _stats(host, d)["io_ops"]  # type: ignore[no-any-return]


def test_a_starved_dom0_slows_emulated_io_and_a_stub_domain_shields_it() -> None:
    """An emulated read costs an ioreq round trip per register access, which in dom0 must
    fit in dom0's share of the pCPU.  In a stub domain the emulation is weighted as a
    domain of its own, so dom0's weight no longer matters to it.  (PV against HVM under a
    starved dom0 is tests/compare/test_shapes.py's.)"""
    emu = {"type": "hvm", "xen_platform_pci": 0}
    ratio = {name: _disk_ops(True, **keys) / _disk_ops(False, **keys) for name, keys in (
        ("hvm", emu), ("stub", {**emu, "device_model_stubdomain_override": 1}))}
    assert ratio["stub"] > 0.95
    assert ratio["hvm"] < 0.8


def test_renaming_a_guest_renames_its_stub_domain() -> None:
    """libxl__domain_rename: <name>-dm follows its guest, so rename-restart after a crash
    leaves one g-dm (the new guest's), not two."""
    host, d, stub = _stub_run(on_crash="rename-restart")
    assert host.xl("rename g h")[0] == 0
    assert (d.name, stub.name) == ("h", "h-dm")
    d.info["device_model"].crash()
    host.run(ms=2120)  # xl's 2 s sleep and libxl's build before the restart
    names = sorted(x.name for x in host.hv.domains.values())
    assert names == ["Domain-0", "g", "g-dm", f"h--{d.domid}", f"h--{d.domid}-dm"]
    assert host.xl("destroy g-dm")[0] == 0  # the new guest's: it crashes, and restarts
    host.run(ms=2105)
    assert stub.domid in host.hv.domains

"""The ioreq path of the emulated IDE disk: exits and device-model round trips per read."""

from __future__ import annotations

from typing import Any

import pytest

from tests.hypervisor.hvm_helpers import delta, exits, kinds, probe
from xensim.domains.guest.emul_drivers import inp
from xensim.domains.guest.guest_vcpu import GuestVcpu, SleepUntil, WaitEvent
from xensim.domains.guest.io_workloads import wait_connected
from xensim.domains.guest.kernel import raise_port
from xensim.host import Host
from xensim.hypervisor.evtchn import event_channel as ev
from xensim.hypervisor.time import MILLISECS
from xensim.hypervisor.vcpu import PauseFlag, RunState
from xensim.qemu_dm import ide

DISK = ["/dev/vg/g,raw,hda,r"]
DMA_REQUEST_EXITS = 11
"""ata_bmdma_setup (PRD, BM_CMD read, BM_CMD write), the task file (5), the command,
ata_bmdma_start (BM_CMD read and write)."""
DMA_ISR_EXITS = 5
"""ata_bmdma_interrupt: BM status, BM_CMD read and write, the ATA status, BM status ack."""


def _one_read(dma: bool, nbytes: int) -> tuple[Host, Any, dict[str, Any]]:
    host = Host(pcpus=2, seed=1)
    log: dict[str, Any] = {"states": []}

    def prog(g: GuestVcpu) -> Any:
        d = g.vcpu.domain
        dm = d.info["device_model"]
        drv = d.info["kernel"].fronts[0]
        drv.dma = dma
        yield from wait_connected(g)
        before = exits(d), dm.ioreqs, dm.hypercalls, d.hvm.irqs_injected
        done: list[tuple[int, int]] = []
        t0 = g.now
        yield from drv.request(g, 8, nbytes, lambda st, lat: done.append((st, lat)))
        log["issued"] = delta(exits(d), before[0]), dm.ioreqs - before[1]
        yield WaitEvent(lambda: bool(done))
        log["done"] = done, g.now - t0
        log["exits"] = delta(exits(d), before[0])
        log["ioreqs"] = dm.ioreqs - before[1]
        log["dm_ops"] = dm.hypercalls - before[2]
        log["irqs"] = d.hvm.irqs_injected - before[3]

    d = probe(host, prog, type="hvm", xen_platform_pci=0, disk=DISK)
    hvm = d.hvm
    complete = hvm.complete

    def spy(srv: Any, vcpu_id: int, data: int = 0) -> bool:
        v = d.vcpus[vcpu_id]
        log["states"].append((bool(v.pause_flags & PauseFlag.BLOCKED_IN_XEN), v.runstate))
        return complete(srv, vcpu_id, data)

    hvm.complete = spy
    host.run(ms=20)
    return host, d, log


def test_a_dma_read_takes_the_exits_and_round_trips_of_its_register_sequence() -> None:
    host, d, log = _one_read(True, 4096)
    assert log["issued"] == ({"IO_INSTRUCTION": DMA_REQUEST_EXITS}, DMA_REQUEST_EXITS)
    n = DMA_REQUEST_EXITS + DMA_ISR_EXITS
    # one interrupt (its EOI is an APIC_ACCESS exit) and one HLT while the disk works
    assert log["exits"] == {"IO_INSTRUCTION": n, "APIC_ACCESS": 1, "HLT": 1}
    assert log["ioreqs"] == n  # every IDE access went to qemu
    assert log["irqs"] == 1
    assert log["dm_ops"] == 2  # dm_op: raise IRQ 14 at completion, lower it on the status read
    assert log["done"][0] == [(0, log["done"][1])]
    assert d.info["device_model"].device("ide").reads == 1
    # the vCPU waited blocked in Xen (offline, not runnable) for each answer
    assert len(log["states"]) >= n
    assert all(s == (True, RunState.OFFLINE) for s in log["states"])


@pytest.mark.parametrize("sectors", [1, 3])
def test_a_pio_read_takes_an_interrupt_and_two_exits_per_sector(sectors: int) -> None:
    host, d, log = _one_read(False, 512 * sectors)
    assert log["issued"] == ({"IO_INSTRUCTION": 6}, 6)  # task file (5) and the command
    n = 6 + 2 * sectors  # per sector: the status read, then rep insw from the data port
    assert log["exits"]["IO_INSTRUCTION"] == n
    assert log["exits"]["APIC_ACCESS"] == sectors
    assert log["ioreqs"] == n
    assert log["irqs"] == sectors
    assert log["dm_ops"] == 2 * sectors
    assert log["done"][0][0][0] == 0


def _sync_access_ns(host: Host) -> int:
    c = host.hv.costs
    return c["vmexit"] + c["hvm_io_decode"] + c["ioreq_send"] + c["ioreq_complete"]


@pytest.mark.parametrize("dma,nbytes", [(True, 4096), (False, 1024)])
def test_a_read_costs_the_guest_its_exits_and_qemu_its_ioreqs(dma: bool, nbytes: int) -> None:
    """Every CPU nanosecond of the read is accounted: the guest's exits (its accesses, an
    EOI per interrupt, and two HLTs: waiting for the disk, and the program's end) and
    qemu's work on dom0's vCPU:
    an ioreq and a register handler per access, the block layer, the DMA, and a dm_op
    hypercall per interrupt-line change."""
    host, d, log = _one_read(dma, nbytes)
    c = host.hv.costs
    n = log["exits"]["IO_INSTRUCTION"]
    assert d.vmexit_counts["HLT"] == 2
    eoi = c["vmexit"] + c["hvm_internal_device"]
    assert kinds(host, "vmexit") == {"d1v0": n * _sync_access_ns(host) + 2 * c["vmexit"]
                                     + log["irqs"] * eoi}
    qemu = (n * (c["qemu_ioreq"] + c["qemu_register"]) + c["qemu_disk_request"]
            + log["dm_ops"] * c["hypercall"] + -(-nbytes * c["qemu_dma_4k"] // 4096))
    assert kinds(host, "qemu") == {f"d0v{d.domid % 2}": qemu}
    assert host.dom0.hypercall_counts["dm_op"] == log["dm_ops"]


def test_the_vcpu_stays_blocked_in_xen_until_qemu_answers_even_if_an_event_arrives() -> None:
    """wait_on_xen_event_channel: unlike SCHEDOP_block, a guest event does not end the
    wait; the event is taken once the emulator's answer lets the vCPU run."""
    host = Host(pcpus=2, seed=1)
    log: list[tuple[str, int, int]] = []

    def prog(g: GuestVcpu) -> Any:
        yield SleepUntil(MILLISECS(2))
        t0 = g.now
        status = yield inp(ide.CMD_BASE + 7)
        log.append(("answer", t0, status))

    d = probe(host, prog, type="hvm", xen_platform_pci=0, disk=DISK)
    k = d.info["kernel"]
    op = ev.EvtchnBindIpi(0)
    assert k.evtchn_op(ev.EVTCHNOP.bind_ipi, op) == 0
    k.handlers[op.port] = lambda g, port: log.append(("event", host.now, 0)) or 0
    host.run(ms=1)
    host.toolstack.domain_pause(host.dom0)  # qemu cannot run
    host.run(ms=2)
    v = d.vcpus[0]
    assert v.pause_flags & PauseFlag.BLOCKED_IN_XEN and v.runstate == RunState.OFFLINE
    assert 0 in d.hvm.pending and log == []
    raise_port(host.hv, d, op.port)  # an event for the guest while it waits
    host.run(ms=2)
    assert v.pause_flags & PauseFlag.BLOCKED_IN_XEN and v.runstate == RunState.OFFLINE
    assert log == []
    host.toolstack.domain_unpause(host.dom0)
    host.run(ms=1)
    assert not v.pause_flags & PauseFlag.BLOCKED_IN_XEN and not d.hvm.pending
    assert [e[0] for e in log] == ["event", "answer"]  # taken on the way back to the guest
    _, t0, status = log[1]
    assert status == ide.ST_DRDY and t0 < MILLISECS(3)
    assert log[0][1] >= MILLISECS(5)

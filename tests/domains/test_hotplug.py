"""Device hot-plug and hot-unplug through xenstore: both ends negotiate, close, let go.

Drives libxl's device operations from Python (``host.toolstack``) and checks
the xenbus states on both ends, the traffic that keeps flowing, and that a
removed device leaves nothing: no grant, port, mapping, shared page, watch or
xenstore node (``IoSystem.leaks(domid, kind, devid)``).
"""

from __future__ import annotations

from typing import Any

import pytest

from xensim.domains.pvio.xenbus import XenbusState
from xensim.host import Host
from xensim.hypervisor.grant import lifecycle as life
from xensim.toolstack.diskspec import DiskSpec
from xensim.toolstack.libxl import LibxlError
from xensim.toolstack.libxl_device import DeviceOp
from xensim.toolstack.vifspec import VifSpec


def finish(host: Host, op: DeviceOp, limit_ms: int = 30_000) -> int:
    """Let simulated time pass until libxl is done with *op*; its rc."""
    while op.rc is None and limit_ms > 0:
        host.run(ms=1)
        limit_ms -= 1
    assert op.rc is not None
    return op.rc


def stats(host: Host, name: str) -> dict[str, Any]:
    return host.toolstack.guest_stats[host.domain(name).domid][0]


def test_attach_to_a_guest_without_devices_and_detach_leaving_nothing() -> None:
    host = Host(pcpus=2, seed=1)
    d = host.create("g", workload="cpu")
    k = d.info["kernel"]
    assert k.fronts == [] and not k.timer_bound
    lx, io = host.toolstack, host.toolstack.io
    assert finish(host, lx.device_nic_add(d, VifSpec(mac="00:16:3e:12:34:56"))) == 0
    assert finish(host, lx.device_disk_add(d, DiskSpec("xvdb", "/dev/vg/b"))) == 0
    host.run(ms=20)  # libxl is done at InitWait; the guest connects on its own
    assert [(f.kind, f.devid, f.state) for f in k.fronts] == [
        ("vif", 0, XenbusState.Connected), ("vbd", 51728, XenbusState.Connected)]
    assert k.timer_bound and k.net.front is k.fronts[0]
    assert io.store.read(0, "/local/domain/0/backend/vif/1/0/mac") == "00:16:3e:12:34:56"
    assert io.backends[("vbd", d.domid, 51728)].state == XenbusState.Connected
    assert io.leaks(d.domid, "vbd", 51728)  # attached: its nodes, watches, ends exist

    for kind, devid, op in (("vif", 0, lx.device_nic_remove(d, 0)),
                            ("vbd", 51728, lx.device_disk_remove(d, 51728))):
        assert finish(host, op) == 0 and op.errors == []
        host.run(ms=5)  # the guest sees its device node go and lets go of everything
        assert io.leaks(d.domid, kind, devid) == [], kind
    assert k.fronts == [] and not io.backends and k.net.front is None
    assert io.store.directory(0, f"/local/domain/{d.domid}/device") == ["suspend"]


def test_detach_waits_for_block_requests_in_flight() -> None:
    """A disk guest keeps 32 reads in flight: every one is answered before blkfront
    closes, nothing fails, and then nothing is left."""
    host = Host(pcpus=2, seed=1)
    d = host.create("disk", workload="disk:pattern=rand,bs=4k,depth=32")
    host.run(ms=50)
    bf = d.info["kernel"].fronts[0]
    assert len(bf.inflight) > 0
    done_before = stats(host, "disk")["io_ops"]
    op = host.toolstack.device_disk_remove(d, 51712)
    host.run(ms=1)
    assert bf.state in (XenbusState.Closing, XenbusState.Closed) and not bf.can_submit()
    assert finish(host, op) == 0
    assert bf.state == XenbusState.Closed and not bf.inflight
    host.run(ms=5)
    io = host.toolstack.io
    assert io.leaks(d.domid, "vbd", 51712) == []
    assert stats(host, "disk")["io_ops"] > done_before  # the ones in flight completed
    assert life.mapped_grants_of_dead_domains(host.hv.gnttab) == []
    host.run(ms=100)  # the workload just waits now: no exception, no traffic
    assert io.leaks(d.domid, "vbd", 51712) == []


def test_forced_removal_of_a_paused_guests_disk_fails_its_requests_cleanly() -> None:
    """The guest cannot answer (paused): blkback closes as its frontend vanishes, and
    when the guest runs again the requests it had queued fail, their grants end."""
    host = Host(pcpus=2, seed=1)
    d = host.create("disk", workload="disk:pattern=rand,bs=4k,depth=8")
    host.run(ms=50)
    bf = d.info["kernel"].fronts[0]
    failed: list[int] = []
    host.toolstack.domain_pause(d)
    bf.submit(0, 4096, lambda st, lat: failed.append(st))  # never notified: never served
    op = host.toolstack.device_disk_remove(d, 51712, force=True)
    assert finish(host, op) == 0
    io = host.toolstack.io
    assert ("vbd", d.domid, 51712) not in io.backends
    assert io.store.read(0, f"/local/domain/{d.domid}/name") == "disk"
    host.toolstack.domain_unpause(d)
    host.run(ms=10)
    assert failed == [-1] and bf.released
    assert io.leaks(d.domid, "vbd", 51712) == []


def test_safe_removal_times_out_on_a_paused_guest_and_leaves_the_device() -> None:
    host = Host(pcpus=2, seed=1)
    d = host.create("g", disk=["/dev/vg/g,raw,xvda,w"])
    host.run(ms=20)
    host.toolstack.domain_pause(d)
    start = host.now
    op = host.toolstack.device_disk_remove(d, 51712)
    assert finish(host, op) == -9
    assert 10_000_000_000 <= host.now - start < 10_100_000_000  # LIBXL_DESTROY_TIMEOUT
    assert op.errors == [
        "libxl: error: libxl_device.c: Domain 1:unable to remove device with path "
        "/local/domain/0/backend/vbd/1/51712 - rc -9",
        "libxl: error: libxl_device.c: Domain 1:Unable to remove vbd with id 51712"]
    io = host.toolstack.io
    be = "/local/domain/0/backend/vbd/1/51712"
    assert io.store.read(0, be + "/online") == "0"
    host.toolstack.domain_unpause(d)  # the guest closes late; nobody removes the nodes
    host.run(ms=20)
    assert io.store.read(0, be + "/state") == "6" and ("vbd", 1, 51712) not in io.backends
    assert finish(host, host.toolstack.device_disk_remove(d, 51712)) == 0  # already Closed
    host.run(ms=5)
    assert io.leaks(d.domid, "vbd", 51712) == []


def test_network_detach_of_a_paused_guest_forces_after_the_timeout() -> None:
    host = Host(pcpus=2, seed=1)
    d = host.create("g", vif=["bridge=xenbr0"])
    host.run(ms=20)
    host.toolstack.domain_pause(d)
    op = host.toolstack.device_nic_remove(d, 0)
    assert finish(host, op) == 0 and op.errors == []
    io = host.toolstack.io
    assert io.backends == {} and d.domid not in io.bridge.ports
    host.toolstack.domain_unpause(d)
    host.run(ms=10)
    assert io.leaks(d.domid, "vif", 0) == []


def test_a_reattached_device_with_the_same_id_connects_again() -> None:
    host = Host(pcpus=2, seed=1)
    d = host.create("g", vif=["bridge=xenbr0"])
    host.run(ms=20)
    lx = host.toolstack
    assert finish(host, lx.device_nic_remove(d, 0)) == 0
    op = lx.device_nic_add(d, VifSpec())  # before the guest even saw the removal
    assert op.devid == 0
    assert finish(host, op) == 0
    host.run(ms=20)
    fronts = d.info["kernel"].fronts
    assert [(f.devid, f.state, f.released) for f in fronts] == [(0, XenbusState.Connected,
                                                                  False)]
    assert lx.io.leaks(d.domid, "vbd", 0) == []  # accounting: only the live vif holds


def test_detaching_one_vif_keeps_the_guest_reachable_over_the_other() -> None:
    host = Host(pcpus=2, seed=1)
    d = host.create("ping", workload="ping:rate=500")
    lx = host.toolstack
    assert finish(host, lx.device_nic_add(d, VifSpec())) == 0
    host.run(ms=100)
    answered = stats(host, "ping")["io_ops"]
    assert finish(host, lx.device_nic_remove(d, 0)) == 0
    host.run(ms=200)
    assert stats(host, "ping")["io_ops"] > answered + 50  # now over vif 1
    assert d.info["kernel"].net.front.devid == 1
    assert lx.io.leaks(d.domid, "vif", 0) == []


def test_hotplug_errors() -> None:
    host = Host(pcpus=2, seed=1)
    d = host.create("g", disk=["/dev/vg/g,raw,xvda,w"])
    lx = host.toolstack
    op = lx.device_disk_add(d, DiskSpec("xvda", "/dev/vg/other"))
    assert op.rc == -17 and op.errors[0] == ("libxl: error: libxl_device.c: Domain 1:"
                                             "device already exists in xenstore")
    op = lx.device_nic_add(d, VifSpec(bridge="xenbr1"))
    assert finish(host, op) == -3
    assert "Could not find bridge device xenbr1" in op.errors[1]
    assert lx.io.leaks(d.domid, "vif", 0) == []  # the half-added vif is gone
    with pytest.raises(LibxlError, match="bridge device xenbr1"):
        host.create("h", vif=["bridge=xenbr1"])
    assert host.hv.domain_by_name("h") is None


def test_destroying_a_domain_mid_detach_cancels_the_operation() -> None:
    host = Host(pcpus=2, seed=1)
    d = host.create("g", disk=["/dev/vg/g,raw,xvda,w"])
    host.run(ms=20)
    host.toolstack.domain_pause(d)
    op = host.toolstack.device_disk_remove(d, 51712)
    host.run(ms=5)
    host.toolstack.domain_destroy(d)
    assert op.rc == -24 and host.toolstack.device_ops == []
    assert host.toolstack.io.leaks(d.domid) == []

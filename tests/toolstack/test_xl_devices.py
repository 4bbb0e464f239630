"""``xl network-list`` / ``block-list``: xl's columns, read from the frontends in xenstore."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from xensim.host import Host
from xensim.toolstack.xl.xl_devices import DISK_HEADER, NIC_HEADER

ROOT = Path(__file__).resolve().parents[2]
PV = str(ROOT / "configs" / "pv-guest.cfg")
HOG = str(ROOT / "configs" / "cpu-hog.cfg")


@pytest.fixture
def host() -> Host:
    h = Host(pcpus=2, memory=4096, seed=1)
    h.create_from_config(PV)
    return h


def test_headers_are_xls() -> None:
    assert NIC_HEADER == ("Idx BE Mac Addr.         handle state evt-ch   tx-/rx-ring-ref "
                          "BE-path" + " " * 23 + "\n")
    assert DISK_HEADER == ("Vdev  BE  handle state evt-ch ring-ref BE-path" + " " * 23 + "\n")


def test_network_list_before_and_after_the_handshake(host: Host) -> None:
    rc, out, err = host.xl("network-list pv-guest")
    assert (rc, err) == (0, "")
    assert out == NIC_HEADER + ("0   0  00:16:3e:00:00:01     0     1     -1    -1/-1          "
                                "/local/domain/0/backend/vif/1/0\n")
    host.run(ms=50)
    store = host.toolstack.io.xsd.store
    fe = "/local/domain/1/device/vif/0"
    evtch, tx, rx = (store.read(0, f"{fe}/{k}")
                     for k in ("event-channel", "tx-ring-ref", "rx-ring-ref"))
    row = host.xl("network-list 1")[1].splitlines()[1]
    assert row == ("0   0  00:16:3e:00:00:01     0     4 %6s %5s/%-11s "
                   "/local/domain/0/backend/vif/1/0" % (evtch, tx, rx))


def test_block_list_handle_is_the_frontend_domid(host: Host) -> None:
    host.run(ms=50)
    store = host.toolstack.io.xsd.store
    fe = "/local/domain/1/device/vbd/51712"
    evtch, ref = store.read(0, f"{fe}/event-channel"), store.read(0, f"{fe}/ring-ref")
    row = "51712 0   1      4     %-6s %-8s /local/domain/0/backend/vbd/1/51712\n" % (evtch, ref)
    assert host.xl("block-list pv-guest") == (0, DISK_HEADER + row, "")


def test_domains_without_devices_list_only_the_header(host: Host) -> None:
    host.xl(f"create -q {HOG}")
    assert host.xl("network-list 0 cpu-hog") == (0, NIC_HEADER, "")
    assert host.xl("block-list 0 cpu-hog") == (0, DISK_HEADER, "")


def test_bad_domains_network_list_stops_block_list_carries_on(host: Host) -> None:
    assert host.xl("network-list nope 1") == (
        1, NIC_HEADER, "nope is an invalid domain identifier (rc=-6)\n")
    rc, out, err = host.xl("block-list nope 1")
    assert (rc, err) == (0, "nope is an invalid domain identifier\n")
    assert out.startswith(DISK_HEADER + "51712 ")
    rc, _, err = host.xl("block-list")
    assert rc == 2 and err.startswith("'xl block-list' requires at least 1 argument.")


def test_destroyed_guest_devices_are_gone(host: Host) -> None:
    host.run(ms=50)
    assert host.xl("destroy pv-guest")[0] == 0
    assert host.xl("xenstore-ls /local/domain/0/backend/vif") == (0, "", "")
    assert host.xl("network-list 0") == (0, NIC_HEADER, "")


# --- attach and detach ------------------------------------------------------------------------
def test_network_attach_then_detach_by_devid_and_by_mac(host: Host) -> None:
    host.run(ms=20)
    assert host.xl("network-attach pv-guest bridge=xenbr0 ip=10.0.0.7") == (0, "", "")
    host.run(ms=20)
    rows = host.xl("network-list 1")[1].splitlines()[1:]
    assert [r[:36] for r in rows] == ["0   0  00:16:3e:00:00:01     0     4",
                                      f"1   0  {rows[1][7:24]}     1     4"]
    assert re.fullmatch(r"00:16:3e:[0-7][0-9a-f](:[0-9a-f]{2}){2}", rows[1][7:24])
    store = host.toolstack.io.xsd.store
    assert store.read(0, "/local/domain/0/backend/vif/1/1/ip") == "10.0.0.7"
    top = {r.split()[0]: r.split() for r in host.xl("top -b -i 1")[1].splitlines()[1:]}
    assert (top["pv-guest"][9], top["pv-guest"][12]) == ("2", "1")  # NETS, VBDS
    assert host.xl("network-detach pv-guest 1") == (0, "", "")
    assert host.xl("network-detach pv-guest 00:16:3E:00:00:01") == (0, "", "")
    assert host.xl("network-list 1") == (0, NIC_HEADER, "")
    host.run(ms=10)
    for devid in (0, 1):
        assert host.toolstack.io.leaks(1, "vif", devid) == []


def test_network_attach_and_detach_errors(host: Host) -> None:
    rc, _, err = host.xl("network-attach")
    assert rc == 2 and err.startswith("'xl network-attach' requires at least 1 argument.")
    assert host.xl("network-attach nope") == (
        1, "", "nope is an invalid domain identifier (rc=-6)\n")
    assert host.xl("network-attach 1 mac=00:16:3e:zz:00:01") == (
        1, "", "Invalid parameter `mac': `00:16:3e:zz:00:01'\n")
    rc, out, err = host.xl("-N network-attach 1 bridge=xenbr0 mac=00:16:3e:00:00:42")
    assert (rc, err) == (0, "") and out.startswith("vif: {")
    assert json.loads(out[5:])["mac"] == "00:16:3e:00:00:42"
    assert host.xl("network-attach 1 bridge=xenbr1") == (1, "", (
        "libxl: error: libxl_exec.c: /etc/xen/scripts/vif-bridge online exited with error "
        "status 1\n"
        "libxl: error: libxl_device.c: device_hotplug_child_death_cb: script: Could not find "
        "bridge device xenbr1\n"
        "libxl: error: libxl_device.c: Domain 1:Unable to add vif with id 1\n"
        "libxl_device_nic_add failed.\n"))
    assert [r[:3] for r in host.xl("network-list 1")[1].splitlines()[1:]] == ["0  "]
    assert host.xl("network-detach 1 7") == (1, "", "Unknown device 7.\n")
    assert host.xl("network-detach 1 00:16:3e:00:00:99") == (
        1, "", "Unknown device 00:16:3e:00:00:99.\n")
    rc, _, err = host.xl("network-detach 1")
    assert rc == 2 and err.startswith("'xl network-detach' requires at least 2 arguments.")
    rc, _, err = host.xl("network-attach 0")
    assert rc == 1 and err.endswith("libxl_device_nic_add failed.\n")


def test_block_attach_then_detach_by_vdev_or_devid(host: Host) -> None:
    assert host.xl("block-attach pv-guest /dev/vg/data,raw,xvdb,r") == (0, "", "")
    assert host.xl("block-attach 1 format=raw vdev=hdc target=/srv/x.img") == (0, "", "")
    host.run(ms=30)
    _, out, _ = host.xl("block-list 1")
    assert [r.split()[:4] for r in out.splitlines()[1:]] == [
        ["5632", "0", "1", "4"], ["51712", "0", "1", "4"], ["51728", "0", "1", "4"]]
    store = host.toolstack.io.xsd.store
    assert store.read(0, "/local/domain/0/backend/vbd/1/51728/mode") == "r"
    assert store.read(0, "/local/domain/0/backend/vbd/1/5632/params") == "/srv/x.img"
    assert "blkfront: xvdb: barrier or flush: disabled;" in host.xl("console 1")[1]
    assert host.xl("block-detach pv-guest xvdb") == (0, "", "")
    assert host.xl("block-detach 1 5632") == (0, "", "")
    assert [r.split()[0] for r in host.xl("block-list 1")[1].splitlines()[1:]] == ["51712"]


def test_block_attach_and_detach_errors(host: Host) -> None:
    assert host.xl("block-attach nope /dev/x,raw,xvdb") == (
        1, "", "nope is an invalid domain identifier\n")
    rc, _, err = host.xl("block-attach 1")
    assert rc == 2 and err.startswith("'xl block-attach' requires at least 2 arguments.")
    assert host.xl("block-attach 1 /dev/x,raw,xvdb,rw,extra") == (1, "", (
        "command line: config parsing error in disk specification: too many positional "
        "parameters: near `extra' in `/dev/x,raw,xvdb,rw,extra'\n"))
    assert host.xl("block-attach 1 /dev/x,raw,xvda,rw") == (1, "", (
        "libxl: error: libxl_device.c: Domain 1:device already exists in xenstore\n"
        "libxl: error: libxl_device.c: Domain 1:Unable to add vbd with id 51712\n"
        "libxl_device_disk_add failed.\n"))
    assert host.xl("block-attach 1 /dev/x,raw,xvd,rw") == (1, "", (
        "libxl: error: libxl_disk.c: Domain 1:Invalid or unsupported virtual disk identifier "
        "xvd\nlibxl_device_disk_add failed.\n"))
    rc, out, err = host.xl("-N block-attach 1 /dev/x,raw,xvdb,rw")
    assert (rc, err) == (0, "") and json.loads(out[6:])["vdev"] == "xvdb"
    assert host.xl("block-detach 1 xvdz") == (1, "", "Error: Device xvdz not connected.\n")
    assert host.xl("block-detach 1 foo") == (1, "", "Error: Device foo not connected.\n")
    assert host.xl("block-detach nope xvda") == (
        1, "", "nope is an invalid domain identifier (rc=-6)\n")


def test_block_detach_of_a_paused_guest_fails_unless_forced(host: Host) -> None:
    host.run(ms=20)
    host.xl("pause pv-guest")
    t0 = host.now
    assert host.xl("block-detach pv-guest xvda") == (1, "", (
        "libxl: error: libxl_device.c: Domain 1:unable to remove device with path "
        "/local/domain/0/backend/vbd/1/51712 - rc -9\n"
        "libxl: error: libxl_device.c: Domain 1:Unable to remove vbd with id 51712\n"
        "libxl_device_disk_safe_remove failed.\n"))
    assert host.now - t0 >= 10_000_000_000  # libxl waited its 10 s, in simulated time
    assert host.xl("block-detach -f pv-guest xvda") == (0, "", "")
    assert host.xl("block-list 1") == (0, DISK_HEADER, "")
    assert host.xl("network-detach pv-guest 0") == (0, "", "")  # forced after 10 s
    host.xl("unpause pv-guest")
    host.run(ms=10)
    io = host.toolstack.io
    assert io.leaks(1, "vbd", 51712) == [] and io.leaks(1, "vif", 0) == []


def test_help_lists_the_device_commands() -> None:
    h = Host(pcpus=1, seed=1)
    _, out, _ = h.xl("help")
    for cmd in ("network-attach", "network-detach", "block-attach", "block-detach"):
        assert f" {cmd} " in out
    assert h.xl("block-detach --help")[1] == (
        "Usage: xl [-vtTf] block-detach [option] <Domain> <DevId>\n\n"
        "Destroy a domain's virtual block device.\n\n"
        "Options:\n\n-f, --force        do not wait for the domain to release the device\n")

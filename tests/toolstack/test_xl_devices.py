"""``xl network-list`` / ``block-list``: xl's columns, read from the frontends in xenstore."""

from __future__ import annotations

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

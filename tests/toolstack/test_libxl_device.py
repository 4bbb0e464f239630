"""libxl's device layer without a host: vdev numbers, names, and the xenstore entries."""

from __future__ import annotations

import random
import re

import pytest

from xensim.domains.pvio.blkif import vbd_name
from xensim.toolstack.diskspec import parse_diskspec
from xensim.toolstack.libxl_device import disk_dev_number, disk_nodes, nic_nodes, random_mac
from xensim.toolstack.vifspec import parse_vifspec

EXT = 1 << 28


@pytest.mark.parametrize(("vdev", "devid"), [
    ("xvda", 51712), ("xvdb", 51728), ("xvda1", 51713), ("xvdp15", 51967),
    ("xvdq", EXT | 16 << 8), ("xvdaa", EXT | 26 << 8), ("xvda16", EXT | 16), ("d0p1", 51713),
    ("hda", 768), ("hdb", 832), ("hdc", 5632), ("hdd", 5696), ("sda", 2048), ("sdb1", 2065),
    ("51712", 51712), ("0x10", 16), ("010", 8),
    ("xvd", -1), ("xvda0", -1), ("hde", -1), ("sdq", -1), ("cdrom", -1), ("", -1),
])
def test_disk_dev_number_as_libxl(vdev: str, devid: int) -> None:
    assert disk_dev_number(vdev) == devid


@pytest.mark.parametrize(("devid", "name"), [
    (51712, "xvda"), (51729, "xvdb1"), (768, "hda"), (5632, "hdc"), (2064, "sdb"),
    (EXT | 26 << 8, "xvdaa"), (EXT | 16 << 8 | 3, "xvdq3"),
])
def test_the_guest_names_its_disks_like_blkfront(devid: int, name: str) -> None:
    assert vbd_name(devid) == name


def test_nic_entries_honour_the_spec() -> None:
    vif, _ = parse_vifspec("bridge=xenbr0, ip=10.0.0.2, rate=10Mb/s@20ms, vifname=web0, "
                           "mac=00:16:3e:00:03:02")
    n = nic_nodes(3, 2, vif)
    assert n.front == {"handle": "2", "mac": "00:16:3e:00:03:02"}
    assert n.back == {"script": "vif-bridge", "mac": "00:16:3e:00:03:02", "bridge": "xenbr0",
                      "handle": "2", "type": "vif", "ip": "10.0.0.2", "vifname": "web0",
                      "rate": "25000,20000"}
    assert nic_nodes(3, 0, parse_vifspec("mac=00:16:3E:0:0:1,type=ioemu")[0]).back["type"] \
        == "vif_ioemu"


def test_generated_macs_are_xens_oui_with_libxls_random_bytes() -> None:
    rng = random.Random(7)
    macs = [random_mac(rng) for _ in range(200)]
    assert all(re.fullmatch(r"00:16:3e:[0-7][0-9a-f](:[0-9a-f]{2}){2}", m) for m in macs)
    assert len(set(macs)) == 200  # random, not derived from the domid
    assert macs == [random_mac(r) for r in [random.Random(7)] for _ in range(200)]


def test_disk_entries() -> None:
    n = disk_nodes(5632, parse_diskspec("vdev=hdc, devtype=cdrom, target=/iso/x.iso"))
    assert n.front == {"virtual-device": "5632", "device-type": "cdrom"}
    assert (n.back["params"], n.back["mode"], n.back["removable"], n.back["dev"]) == (
        "/iso/x.iso", "r", "1", "hdc")

"""PCI passthrough: assignable devices, ``pci = [...]``, ``xl pci-*`` and the NIC's data path."""

from __future__ import annotations

import pytest

from xensim.compare.measure import Setup, measure
from xensim.host import Host
from xensim.hypervisor.domain import DOMID_IO
from xensim.hypervisor.passthrough import PciError, parse_bdf, parse_pci_devices
from xensim.toolstack.domconfig import DomainConfig
from xensim.toolstack.libxl import LibxlError
from xensim.toolstack.pcispec import PciSpec, PciSpecError, parse_pci_spec
from xensim.toolstack.xlcfg import XlCfgError

NIC = "0000:03:00.0"


@pytest.fixture
def host() -> Host:
    return Host(pcpus=2, pci=f"{NIC},04:00.0=gpu")


# --- parsing -------------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "bdf"), [
    ("03:00.0", (0, 3, 0, 0)), ("0000:03:00.1", (0, 3, 0, 1)), ("1:ff:1f.7", (1, 255, 31, 7)),
    ("03:20.0", None), ("03:00.8", None), ("3.0", None), ("zz:00.0", None),
])
def test_bdfs_as_libxlu_reads_them(text: str, bdf: tuple[int, ...] | None) -> None:
    assert parse_bdf(text) == bdf


def test_pci_spec_strings_as_xl_cfg_5_documents_them() -> None:
    assert parse_pci_spec("03:00.0") == PciSpec(NIC)
    assert parse_pci_spec("0000:03:00.0@5,permissive=1,msitranslate=0") == PciSpec(
        NIC, None, 5, (("permissive", "1"), ("msitranslate", "0")))
    assert parse_pci_spec("name=nic0") == PciSpec(None, "nic0")
    assert parse_pci_spec("bdf=03:00.0,vslot=1f") == PciSpec(NIC, None, 0x1F)
    for bad in ("03:00.0,name=x", "03:00.0,frob=1", "03:00.0@20", "seize=1", "0300.0"):
        with pytest.raises(PciSpecError):
            parse_pci_spec(bad)


def test_a_bad_pci_entry_is_a_config_error_at_its_item() -> None:
    with pytest.raises(XlCfgError, match=r"vm.cfg:3:\d+: pci: unable to parse PCI_SPEC_STRING "
                                         r"`03:00.0,frob=1' for passthrough"):
        DomainConfig.from_text('name = "g"\nkernel = "/k"\npci = ["03:00.0", '
                               '"03:00.0,frob=1"]\n', "vm.cfg")


def test_host_pci_declarations() -> None:
    devs = parse_pci_devices([{"bdf": "3:0.0", "assignable": True}, "04:00.0=gpu"])
    assert [(d.bdf, d.kind, a) for d, a in devs] == [(NIC, "nic", True),
                                                     ("0000:04:00.0", "gpu", False)]
    for bad, why in (("03:00.0,3:0.0", "declared twice"), ("03:00.0=fpga", "kind 'fpga'"),
                     ("3", "expected a BDF")):
        with pytest.raises(PciError, match=why):
            parse_pci_devices(bad)


# --- xl pci-assignable-* ----------------------------------------------------------------------
def test_assignable_add_list_remove(host: Host) -> None:
    assert host.xl("pci-assignable-list") == (0, "", "")
    assert host.xl("pci-assignable-add 03:00.0") == (0, "", "")
    assert host.xl("pci-assignable-add -n gpu0 4:0.0") == (0, "", "")
    assert host.hv.pci.devices[NIC].owner == DOMID_IO  # quarantined
    assert host.xl("pci-assignable-list") == (0, f"{NIC} \n0000:04:00.0 \n", "")
    assert host.xl("pci-assignable-list -n") == (0, f"{NIC} \n0000:04:00.0 gpu0\n", "")
    assert host.xl("pci-assignable-add 03:00.0") == (
        0, "", f"libxl: warning: libxl_pci.c: {NIC} already assigned to pciback\n")
    assert host.xl("pci-assignable-remove gpu0") == (0, "", "")
    assert host.xl("pci-assignable-remove 03:00.0") == (0, "", "")
    assert host.xl("pci-assignable-list") == (0, "", "")
    assert host.hv.pci.devices[NIC].owner == 0


def test_assignable_errors(host: Host) -> None:
    assert host.xl("pci-assignable-add 3:0") == (
        2, "", "pci-assignable-add: malformed BDF \"3:0\"\n")
    assert host.xl("pci-assignable-add 05:00.0") == (
        1, "", "libxl: error: libxl_pci.c: Couldn't lstat /sys/bus/pci/devices/0000:05:00.0: "
               "No such file or directory\n")
    assert host.xl("pci-assignable-remove nonsense") == (
        2, "", "pci-assignable-remove: malformed BDF 'nonsense'\n")
    assert host.xl("pci-assignable-remove 03:00.0") == (
        1, "", f"libxl: error: libxl_pci.c: failed to de-quarantine {NIC}\n")


# --- guests ----------------------------------------------------------------------------------
def test_attach_list_detach_and_the_slots(host: Host) -> None:
    host.xl("pci-assignable-add 03:00.0")
    host.create("g", type="hvm")
    host.create("p", type="pv")
    assert host.xl("pci-attach g 03:00.0") == (0, "", "")
    assert host.xl("pci-list g") == (0, f"Vdev Device\n04.0 {NIC}\n", "")
    assert host.xl("pci-assignable-list") == (0, "", "")  # a guest holds it
    assert host.hv.pci.devices[NIC].owner == 1
    rc, _, err = host.xl("pci-attach p 03:00.0")
    assert rc == 1 and err.splitlines() == [
        "libxl: error: libxl_pci.c: Domain 2:PCI device 0:3:0.0 is not assignable",
        "libxl: error: libxl_pci.c: Domain 2:libxl__device_pci_add failed for PCI device "
        "0:3:0.0 (rc -3)"]
    assert host.xl("pci-detach p 03:00.0") == (
        1, "", "libxl: error: libxl_pci.c: Domain 2:PCI device not attached to this domain\n")
    assert host.xl("pci-detach g 03:00.0") == (0, "", "")
    assert host.xl("pci-attach p 03:00.0") == (0, "", "")
    assert host.xl("pci-list p") == (0, f"Vdev Device\n00.0 {NIC}\n", "")  # pcifront: slot 0
    assert host.xl("pci-attach g 03:00.0,frob=1") == (
        2, "", "Unknown PCI_SPEC_STRING option: frobpci-attach: malformed PCI_SPEC_STRING "
               "\"03:00.0,frob=1\"\n")


def test_pci_in_the_config_and_the_device_comes_back_when_the_guest_dies(host: Host) -> None:
    with pytest.raises(LibxlError) as exc:
        host.create("g", type="hvm", pci=["03:00.0"])  # not made assignable yet
    assert exc.value.args[0].splitlines()[-1] == (
        "libxl: error: libxl_create.c: Domain 1:unable to add pci devices")
    assert list(host.hv.domains) == [0]
    host.xl("pci-assignable-add 03:00.0")
    host.create("g", type="hvm", pci=["03:00.0@6"])
    assert host.xl("pci-list g") == (0, f"Vdev Device\n06.0 {NIC}\n", "")
    assert "[VT-D]d2:PCIe: map 0000:03:00.0" in host.xl("dmesg")[1]
    assert host.xl("destroy g") == (0, "", "")
    assert host.hv.pci.devices[NIC].owner == DOMID_IO
    assert host.xl("pci-assignable-list") == (0, f"{NIC} \n", "")
    assert host.toolstack.io.pci_nics[NIC].owner is None


# --- the data path ---------------------------------------------------------------------------
def test_a_passed_through_nic_streams_at_line_rate_without_dom0() -> None:
    host = Host(pcpus=2, pci=[{"bdf": NIC, "assignable": True}])
    d = host.create("g", type="hvm", pci=[NIC], workload="net-stream")
    host.run(ms=100)
    host.reset_metrics()
    stats = host.toolstack.guest_stats[d.domid][0]
    ops0 = stats["io_ops"]
    dom0_ns0 = sum(v.kind_ns.get("dom0", 0) for v in host.dom0.vcpus)
    host.run(ms=200)
    pkts = stats["io_ops"] - ops0
    # 1 Gbit/s: 1500-byte packets every 12 us, less the IOTLB misses (within 3%)
    assert 16_000 <= pkts <= 16_700
    assert sum(v.kind_ns.get("dom0", 0) for v in host.dom0.vcpus) == dom0_ns0
    assert host.toolstack.io.nic.tx_packets == 0  # nothing went through xenbr0's eth0
    drv = host.toolstack.pci.device_list(d)[0].driver
    assert drv is not None and drv.interrupts > 0
    assert d.vmexit_counts["APIC_ACCESS"] >= drv.interrupts - 1  # each interrupt's EOI


def test_compare_puts_passthrough_beside_pv_and_hvm() -> None:
    setup = Setup("net-stream", seconds=0.1)
    res = {m: measure(setup, m) for m in ("pv", "hvm", "passthrough")}
    pt, pv, hvm = res["passthrough"], res["pv"], res["hvm"]
    assert pt["cpu_ns"]["dom0"] == 0 and pt["cpu_ns"]["device_model"] == 0
    assert pt["counts"]["grant_ops"] == 0 and pt["counts"]["hypercalls"] == 0
    assert pv["cpu_ns"]["dom0"] > 0 and hvm["cpu_ns"]["device_model"] > 0
    assert pt["throughput"] >= pv["throughput"] > hvm["throughput"]

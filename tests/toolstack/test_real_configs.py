"""Thirty real-world xl.cfg files (tests/data/real_configs, sources in SOURCES.md): each
parses, each is created on a host that has the bridges and PCI devices it names, and
``xl list -l`` prints it in libxl_types.idl's schema (tests/toolstack/libxl_idl_fields.py)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.toolstack.test_libxl_json import check_domain_config, check_schema
from xensim.host import Host
from xensim.toolstack.domconfig import DomainConfig
from xensim.toolstack.libxl import LibxlError

CORPUS = Path(__file__).resolve().parents[1] / "data" / "real_configs"
FILES = sorted(CORPUS.glob("*.cfg"))
GENERATED_MAC = r"00:16:3e:[0-7][0-9a-f](:[0-9a-f]{2}){2}"


def _bridge_base(bridge: str) -> str:
    """``ovsbr0.42`` / ``ovsbr0:42:43`` (vif-openvswitch's VLAN syntax) -> ``ovsbr0``."""
    return re.split(r"[.:]", bridge)[0]


def host_for(cfg: DomainConfig) -> Host:
    """A host with the bridges the config's vifs name (of the kind their scripts need) and
    its PCI devices, assignable, beside xenbr0."""
    kinds = {"xenbr0": "linux"}
    for vif in cfg.vifs:
        ovs = vif.script.endswith("vif-openvswitch")
        kinds[_bridge_base(vif.bridge)] = "openvswitch" if ovs else "linux"
    pci = [{"bdf": spec.split(",")[0], "assignable": True} for spec in cfg.pci]
    return Host(pcpus=8, memory=32768, bridges=[f"{b}:{k}" for b, k in kinds.items()],
                pci=pci)


def test_the_corpus_is_thirty_cited_files() -> None:
    sources = (CORPUS / "SOURCES.md").read_text()
    assert len(FILES) == 30
    for path in FILES:
        assert f"| `{path.name}` |" in sources, f"{path.name} has no source in SOURCES.md"


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_each_real_config_parses_and_creates_on_a_host_with_its_bridges(path: Path) -> None:
    cfg = DomainConfig.from_file(path)
    host = host_for(cfg)
    d = host.create_from_config(cfg)
    host.run(ms=300)
    assert host.domain(cfg.name) is d
    if cfg.uuid:
        assert d.handle == cfg.uuid
    assert [a.bdf for a in host.toolstack.pci.device_list(d)] == [
        s.split(",")[0] for s in cfg.pci]
    nics = host.xl(f"network-list {cfg.name}")[1].splitlines()[1:]
    if cfg.type != "hvm" or cfg.xen_platform_pci:  # PV frontends: listed with their MACs
        macs = [row.split()[2] for row in nics]
        assert len(macs) == len(cfg.vifs)
        for vif, mac in zip(cfg.vifs, macs, strict=True):
            assert mac == vif.mac if vif.mac else re.fullmatch(GENERATED_MAC, mac)
    rc, out, err = host.xl(f"list -l {cfg.name}")
    assert (rc, err) == (0, "")
    (entry,) = json.loads(out)
    assert entry["domid"] == d.domid
    got = entry["config"]
    check_domain_config(got)  # libxl_types.idl's field names, in its order
    assert got["c_info"]["uuid"] == d.handle and got["c_info"]["name"] == cfg.name
    assert got["b_info"]["max_memkb"] == cfg.maxmem * 1024
    assert [n["mac"] for n in got.get("nics", [])] == [v.mac for v in
                                                        d.info["config"].vifs]
    assert [n["bridge"] for n in got.get("nics", [])] == [v.bridge for v in cfg.vifs]
    for pci, assigned in zip(got.get("pcidevs", []), host.toolstack.pci.device_list(d),
                             strict=True):
        check_schema(pci, "device_pci")
        assert "%04x:%02x:%02x.%x" % (pci["domain"], pci["bus"], pci["dev"], pci["func"]) \
            == assigned.bdf and pci["vdevfn"] == assigned.vdevfn


@pytest.mark.parametrize("path", [p for p in FILES if "xenbr1" in p.read_text()],
                         ids=lambda p: p.stem)
def test_a_config_naming_a_bridge_the_host_lacks_fails_as_libxl_does(path: Path) -> None:
    cfg = DomainConfig.from_file(path)
    host = Host(pcpus=8, memory=32768)
    with pytest.raises(LibxlError, match="script: Could not find bridge device xenbr1"):
        host.create_from_config(cfg)
    assert list(host.hv.domains) == [0]

"""Stable identity: the config's uuid is honoured, a generated one and the MACs survive reboot."""

from __future__ import annotations

import re

import pytest

from xensim.host import Host
from xensim.toolstack.domconfig import DomainConfig
from xensim.toolstack.xlcfg import XlCfgError

UUID = "6b3e0f3c-56a3-4bb1-9e0e-3a2b1b4d2c11"
MAC_RE = r"00:16:3e:[0-7][0-9a-f](:[0-9a-f]{2}){2}"


def _mac(host: Host, name: str) -> str:
    return host.xl(f"network-list {name}")[1].splitlines()[1].split()[2]


def test_the_config_uuid_is_the_domains_handle_across_reboot() -> None:
    host = Host(pcpus=2)
    d = host.create("g", uuid=UUID.upper(), vif=["bridge=xenbr0"])
    assert d.handle == UUID and d.info["config"].uuid == UUID
    mac = _mac(host, "g")
    host.run(ms=100)
    assert host.xl("reboot g")[0] == 0
    host.run(ms=2500)  # the guest acks (200 ms), xl sleeps 2 s, libxl builds (100 ms)
    again = host.domain("g")
    assert again.domid != d.domid
    assert (again.handle, _mac(host, "g")) == (UUID, mac)


def test_generated_uuid_and_macs_are_kept_across_reboot_and_differ_between_guests() -> None:
    host = Host(pcpus=2, seed=3)
    a = host.create("a", vif=["bridge=xenbr0", "bridge=xenbr0"])
    b = host.create("b", vif=["bridge=xenbr0"])
    macs = [v.mac for v in a.info["config"].vifs]
    assert all(re.fullmatch(MAC_RE, m) for m in macs) and len(set(macs)) == 2
    assert a.handle != b.handle and b.info["config"].vifs[0].mac not in macs
    host.run(ms=100)
    host.xl("reboot a")
    host.run(ms=2500)  # the guest acks (200 ms), xl sleeps 2 s, libxl builds (100 ms)
    again = host.domain("a")
    assert again.handle == a.handle
    assert [v.mac for v in again.info["config"].vifs] == macs
    rows = host.xl("network-list a")[1].splitlines()[1:]
    assert [r.split()[2] for r in rows] == macs


def test_same_seed_same_identities() -> None:
    def ids(seed: int) -> list[str]:
        host = Host(pcpus=1, seed=seed)
        d = host.create("g", vif=["bridge=xenbr0"])
        return [d.handle, d.info["config"].vifs[0].mac]
    assert ids(5) == ids(5) and ids(5) != ids(6)


def test_dom0_has_the_null_uuid() -> None:
    assert Host(pcpus=1).dom0.handle == "00000000-0000-0000-0000-000000000000"


@pytest.mark.parametrize("bad", ["6b3e", "not-a-uuid-at-all-but-36-characters"])
def test_a_bad_uuid_is_xls_error(bad: str) -> None:
    with pytest.raises(XlCfgError, match=f"uuid: Failed to parse UUID: {bad}"):
        DomainConfig.from_text(f'name = "g"\nkernel = "/k"\nuuid = "{bad}"\n', "vm.cfg")


def test_uuid_round_trips_through_xl_syntax() -> None:
    cfg = DomainConfig.from_text(f'name = "g"\nkernel = "/k"\nuuid = "{UUID}"\n')
    assert DomainConfig.from_text(cfg.to_xlcfg()).uuid == UUID

"""The host's bridges: declared, attached to by vifs, refused as libxl refuses, kept apart."""

from __future__ import annotations

import pytest

from xensim.domains.dom0.hostnet import BridgeSpec, HostNetError, parse_bridges
from xensim.domains.dom0.physdev import EXTERNAL, Packet
from xensim.host import Host
from xensim.scenario import ScenarioError, build_host, validate_scenario
from xensim.toolstack.libxl import LibxlError


def test_bridge_specs_default_and_parse() -> None:
    assert parse_bridges(None) == (BridgeSpec("xenbr0", "linux", "eth0"),)
    assert parse_bridges("xenbr0,xenbr1,ovsbr0:ovs:none") == (
        BridgeSpec("xenbr0", "linux", "eth0"), BridgeSpec("xenbr1", "linux", "eth1"),
        BridgeSpec("ovsbr0", "openvswitch", None))
    assert parse_bridges([{"name": "lan", "nic": "enp1s0"}]) == (
        BridgeSpec("lan", "linux", "enp1s0"),)


@pytest.mark.parametrize(("spec", "why"), [
    ("xenbr0,xenbr0", "'xenbr0' is named twice"),
    ("br:frob", "bridge kind 'frob'"),
    ("a-name-longer-than-15", "expected an interface name"),
    ([{"name": "x", "colour": "red"}], "unknown key 'colour'"),
    ("", "at least one bridge"),
])
def test_bad_bridge_declarations_say_what_was_expected(spec: object, why: str) -> None:
    with pytest.raises(HostNetError, match=why):
        parse_bridges(spec)  # type: ignore[arg-type]


def _wait_connected(host: Host, ms: int = 300) -> None:
    host.run(ms=ms)


def test_a_vif_lands_on_its_bridge_and_its_lan() -> None:
    host = Host(pcpus=2, bridges="xenbr0,xenbr1")
    d = host.create("g", vif=["bridge=xenbr1"], workload="ping:rate=100")
    host.run(ms=1000)
    io = host.toolstack.io
    assert io.bridges["xenbr1"].interfaces() == ["eth1", "vif1.0"]
    assert io.bridges["xenbr0"].interfaces() == ["eth0"]
    assert io.lan_of(d.domid) is io.lans["eth1"]
    assert host.toolstack.guest_stats[d.domid][0]["io_ops"] > 50  # pings answered via eth1
    assert io.nic.rx_packets == 0  # nothing came in on xenbr0's eth0
    assert host.devices()[:4] == ["bridge name     kind         interfaces",
                                  "xenbr0          linux        eth0",
                                  "xenbr1          linux        eth1",
                                  "                             vif1.0"]


def test_a_missing_bridge_fails_the_create_as_libxl_does_and_leaves_nothing() -> None:
    host = Host(pcpus=2)
    with pytest.raises(LibxlError) as exc:
        host.create("g", vif=["bridge=xenbr1"])
    assert str(exc.value).splitlines() == [
        "libxl: error: libxl_exec.c: /etc/xen/scripts/vif-bridge online exited with error "
        "status 1",
        "libxl: error: libxl_device.c: device_hotplug_child_death_cb: script: Could not find "
        "bridge device xenbr1",
        "libxl: error: libxl_create.c: Domain 1:unable to add vif devices"]
    assert list(host.hv.domains) == [0]
    assert host.toolstack.io.leaks(1) == []


def test_each_script_needs_its_kind_of_bridge() -> None:
    host = Host(pcpus=2, bridges="xenbr0,ovsbr0:openvswitch")
    host.create("ok", vif=["bridge=ovsbr0,script=vif-openvswitch", "bridge=xenbr0"])
    with pytest.raises(LibxlError, match="vif-bridge failed; error detected"):
        host.create("g1", vif=["bridge=ovsbr0"])  # brctl addif on an OVS bridge
    with pytest.raises(LibxlError) as exc:
        host.create("g2", vif=["bridge=xenbr0.10,script=vif-openvswitch,"
                               "mac=00:16:3e:00:00:07"], uuid="6b3e0f3c-56a3-4bb1-9e0e-"
                                                             "3a2b1b4d2c11")
    assert ("script: ovs-vsctl --timeout=30 -- --if-exists del-port vif3.0 -- add-port "
            "xenbr0 vif3.0 tag=10 -- set interface vif3.0 external-ids:\"xen-vm-name\"=\"g2\" "
            "-- set interface vif3.0 external-ids:\"xen-vm-uuid\"=\"6b3e0f3c-56a3-4bb1-9e0e-"
            "3a2b1b4d2c11\" -- set interface vif3.0 external-ids:\"attached-mac\"="
            "\"00:16:3e:00:00:07\" failed") in str(exc.value)
    host.create("tagged", vif=["bridge=ovsbr0.42,script=vif-openvswitch"])
    host.run(ms=300)
    assert host.toolstack.io.bridges["ovsbr0"].interfaces() == ["eth1", "vif1.0", "vif4.0"]


def test_network_attach_to_a_missing_bridge_fails_and_removes_the_device() -> None:
    host = Host(pcpus=2, bridges="xenbr0,xenbr1")
    host.create("g", vif=["bridge=xenbr0"])
    host.run(ms=100)
    rc, _, err = host.xl("network-attach g bridge=xenbr2")
    assert rc == 1 and "Could not find bridge device xenbr2" in err
    assert host.xl("network-attach g bridge=xenbr1") == (0, "", "")
    host.run(ms=100)
    assert host.toolstack.io.bridges["xenbr1"].interfaces() == ["eth1", "vif1.1"]


def _pinger(host: Host, src: str, dst: str) -> list[Packet]:
    """Guest *src*'s kernel pings guest *dst* directly; the replies it gets back."""
    a, b = host.domain(src), host.domain(dst)
    stack = a.info["kernel"].net
    got: list[Packet] = []
    stack.sockets["echo-reply"] = got.append
    stack.send_kernel(Packet(a.domid, b.domid, 64, "echo", "peer", host.now, 1))
    host.run(ms=100)
    return got


def test_guests_reach_each_other_on_one_bridge_but_not_across_bridges() -> None:
    host = Host(pcpus=2, bridges="xenbr0,xenbr1")
    for name, br in (("a", "xenbr0"), ("b", "xenbr0"), ("c", "xenbr1")):
        host.create(name, vif=[f"bridge={br}"])
    host.run(ms=300)
    assert len(_pinger(host, "a", "b")) == 1
    dropped = host.toolstack.io.bridges["xenbr0"].dropped
    assert _pinger(host, "a", "c") == []
    assert host.toolstack.io.bridges["xenbr0"].dropped == dropped + 1


def test_a_host_only_bridge_drops_what_is_for_the_lan() -> None:
    host = Host(pcpus=2, bridges="xenbr0,internal:linux:none")
    host.create("a", vif=["bridge=internal"])
    host.run(ms=300)
    br = host.toolstack.io.bridges["internal"]
    br.forward(Packet(1, EXTERNAL, 64, "data"))
    assert br.dropped == 1 and br.interfaces() == ["vif1.0"]


def test_scenario_bridges_and_their_errors() -> None:
    raw = {"host": {"pcpus": 2, "bridge": [{"name": "xenbr0"}, {"name": "ovsbr0",
                                                                   "kind": "openvswitch"}]},
           "domain": [{"name": "g", "vif": ["bridge=ovsbr0,script=vif-openvswitch"]}],
           "run": {"duration_ms": 10}}
    host = build_host(validate_scenario(raw))
    assert list(host.toolstack.io.bridges) == ["xenbr0", "ovsbr0"]
    text = '[host]\n[[host.bridge]]\nname = "xenbr0"\nkind = "hub"\n[run]\nduration_ms = 1\n'
    bad = {"host": {"bridge": [{"name": "xenbr0", "kind": "hub"}]}, "run": {"duration_ms": 1}}
    with pytest.raises(ScenarioError, match=r"s.toml:1: \[host\]: bridge = .*bridge kind "
                                            r"'hub': expected one of linux, openvswitch"):
        validate_scenario(bad, "s.toml", text)

"""Save files: xl's header, the stream, and a domain rebuilt on another host."""

from __future__ import annotations

import json
import struct
from dataclasses import replace

import pytest

from xensim.host import Host
from xensim.toolstack.savefile import (
    SaveFileError,
    capture_domain,
    encode_image,
    read_image,
    restore_domain,
    save_domain,
)
from xensim.toolstack.savefile.header import HEADER_SIZE, MAGIC
from xensim.toolstack.xl.xl_info import cpu_time_ns


def _running_guest(host: Host, **keys: object):  # type: ignore[no-untyped-def]
    d = host.create("g", vcpus=2, memory=256, workload="cpu", cpu_weight=512, **keys)
    host.run(ms=300)
    return d


def test_the_file_starts_with_xls_header_and_json_config() -> None:
    host = Host()
    d = _running_guest(host)
    image = save_domain(host.toolstack, d)
    data = image.data
    assert data[:32] == b"Xen saved domain, xl format\n \0 \r"
    order, mandatory, optional, optlen = struct.unpack_from("<IIII", data, 32)
    assert (order, mandatory, optional) == (0x01020304, 0x3, 0)
    (clen,) = struct.unpack_from("<I", data, HEADER_SIZE)
    assert optlen == clen + 4
    config = data[HEADER_SIZE + 4:HEADER_SIZE + 4 + clen]
    assert config.endswith(b"}\n\0")  # libxl_domain_config_to_json, NUL included
    obj = json.loads(config[:-1])
    assert obj["c_info"]["name"] == "g" and obj["c_info"]["uuid"] == d.handle
    assert obj["b_info"]["target_memkb"] == 256 * 1024
    assert data[HEADER_SIZE + optlen:HEADER_SIZE + optlen + 8] == b"LibxlFmt"
    assert image.header.info() == f"0x3/0x0/{optlen}"


def test_save_destroys_the_domain_unless_checkpoint_or_paused() -> None:
    host = Host()
    d = _running_guest(host)
    save_domain(host.toolstack, d)
    assert d.domid not in host.hv.domains
    d = _running_guest(host)
    save_domain(host.toolstack, d, checkpoint=True)
    assert host.hv.domains[d.domid] is d and d.pause_count == 0
    save_domain(host.toolstack, d, leave_paused=True)
    assert host.hv.domains[d.domid] is d and d.pause_count == 1


def test_restore_on_another_host_keeps_identity_config_and_cpu_time() -> None:
    host = Host()
    d = _running_guest(host)
    cpu = cpu_time_ns(d, host.now)
    uuid, cfg = d.handle, d.info["config"]
    stats_before = [dict(s) for s in host.toolstack.guest_stats[d.domid]]
    data = save_domain(host.toolstack, d).data
    other = Host(pcpus=2, seed=7)
    other.create("filler", memory=64)  # the restored domain gets another domid
    r = restore_domain(other.toolstack, data)
    assert r.name == "g" and r.handle == uuid and r.domid == 2
    assert r.info["config"] == cfg
    assert cpu_time_ns(r, other.now) == cpu > 0
    assert other.toolstack.sched_params(r)["weight"] == 512
    assert other.toolstack.guest_stats[r.domid] == stats_before
    other.run(ms=100)
    assert cpu_time_ns(r, other.now) > cpu  # it runs on from where it was


def test_restore_paused_stays_paused_and_keeps_guest_xenstore_data() -> None:
    host = Host()
    d = _running_guest(host)
    host.toolstack.io.store.write(d.domid, f"/local/domain/{d.domid}/data/app", "42")
    data = save_domain(host.toolstack, d).data
    r = restore_domain(host.toolstack, data, paused=True)
    assert r.pause_count == 1
    assert host.toolstack.io.store.read(0, f"/local/domain/{r.domid}/data/app") == "42"


def test_the_state_records_event_channels_grants_and_devices() -> None:
    host = Host()
    d = host.create("g", vif=["bridge=xenbr0"], disk=["/dev/vg/g,raw,xvda,rw"])
    host.run(ms=300)
    state = capture_domain(host.toolstack, d)
    assert any(c["state"] == "INTERDOMAIN" for c in state["event_channels"])
    assert state["grants"]["in_use"] > 0
    assert set(state["devices"]["vif"]) == {"0"} and set(state["devices"]["vbd"]) == {"51712"}
    assert state["xenstore"]["name"] == "g"
    cfg = d.info["config"]
    mac = state["devices"]["vif"]["0"]["mac"]
    data = save_domain(host.toolstack, d).data
    r = restore_domain(host.toolstack, data)
    # devices come back through libxl's JSON, the vif with the MAC it was given
    assert r.info["config"] == replace(cfg, vifs=(replace(cfg.vifs[0], mac=mac),))
    assert host.toolstack.device_list(r, "vif")[0]["mac"] == mac
    host.run(ms=300)
    # the guest's kernel reconnects on resume: as many ports bound as before
    after = capture_domain(host.toolstack, r)
    assert len(after["event_channels"]) == len(state["event_channels"])


@pytest.mark.parametrize("cut", [0, 20, HEADER_SIZE + 10, -12, -1])
def test_a_truncated_file_is_refused_and_the_host_is_untouched(cut: int) -> None:
    host = Host()
    d = _running_guest(host)
    data = save_domain(host.toolstack, d).data
    before = sorted(host.hv.domains)
    free = host.hv.free_memory_kib
    with pytest.raises(SaveFileError):
        restore_domain(host.toolstack, data[:cut] if cut >= 0 else data[:len(data) + cut])
    assert sorted(host.hv.domains) == before and host.hv.free_memory_kib == free


def test_foreign_files_get_xls_messages() -> None:
    with pytest.raises(SaveFileError, match="^File has wrong magic number - corrupt or for "
                                            "a different tool\\?$"):
        read_image(b"name = 'g'\n" * 10, "g.cfg")
    bad_order = MAGIC + struct.pack(">IIII", 0x01020304, 3, 0, 0)
    with pytest.raises(SaveFileError, match="^File has wrong byte order$"):
        read_image(bad_order, "x")
    flags = MAGIC + struct.pack("<IIII", 0x01020304, 0x7, 0, 0)
    with pytest.raises(SaveFileError, match="mandatory flag\\(s\\) 0x4 which are not "
                                            "supported; need newer xl"):
        read_image(flags, "x")


def test_same_state_gives_the_same_bytes() -> None:
    def saved() -> bytes:
        host = Host(seed=3)
        return save_domain(host.toolstack, _running_guest(host)).data

    assert saved() == saved()


def test_a_migration_can_send_several_page_rounds() -> None:
    host = Host()
    d = _running_guest(host)
    state = capture_domain(host.toolstack, d)
    from xensim.toolstack.libxl_json import domain_config_json

    data, _ = encode_image(domain_config_json(d.info["config"], d, host.toolstack,
                                              extensions=True), state, page_rounds=3)
    assert read_image(data).state == state

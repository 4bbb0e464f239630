"""libxl's JSON: ``xl list -l`` / ``xl create -n`` against libxl_types.idl, and the way back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.toolstack.libxl_idl_fields import IDL_FIELDS
from xensim.host import Host
from xensim.toolstack.domconfig import DomainConfig
from xensim.toolstack.libxl_json import config_from_json, domain_config_json, yajl_dumps

CONFIGS = sorted((Path(__file__).resolve().parents[2] / "configs").glob("*.cfg"))
SUBSTRUCTS = {"c_info": "c_info", "b_info": "b_info"}
B_INFO_SUB = {"sched_params": "sched_params", "type.hvm": "type.hvm", "type.pv": "type.pv",
              "type.pvh": "type.pvh", "arch_arm": "arch_arm", "arch_x86": "arch_x86"}
HVM_SUB = {"vga": "vga", "vnc": "vnc", "sdl": "sdl"}


def check_schema(obj: dict[str, Any], struct: str) -> None:
    """Every key is a field of *struct*, in the IDL's order (as libxl's gen_json writes)."""
    names = IDL_FIELDS[struct]
    keys = [k for k in obj if not (struct == "domain_config" and k == "xensim")]
    assert all(k in names for k in keys), [k for k in keys if k not in names]
    assert keys == sorted(keys, key=names.index), keys


def check_domain_config(cfg: dict[str, Any]) -> None:
    check_schema(cfg, "domain_config")
    check_schema(cfg["c_info"], "c_info")
    b = cfg["b_info"]
    check_schema(b, "b_info")
    for key, struct in B_INFO_SUB.items():
        if key in b:
            check_schema(b[key], struct)
    for key, struct in HVM_SUB.items():
        if key in b.get("type.hvm", {}):
            check_schema(b["type.hvm"][key], struct)
    for disk in cfg.get("disks", []):
        check_schema(disk, "disk")
    for nic in cfg.get("nics", []):
        check_schema(nic, "nic")


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_create_dry_run_prints_libxl_domain_config(path: Path) -> None:
    host = Host()
    rc, out, err = host.xl(f"create -n {path}")
    assert rc == 0, err
    obj = json.loads(out)
    assert list(obj) == ["domid", "config"] and obj["domid"] is None
    check_domain_config(obj["config"])
    cfg = DomainConfig.from_file(path)
    assert obj["config"]["b_info"]["max_memkb"] == cfg.maxmem * 1024  # KiB, not MiB
    assert obj["config"]["c_info"]["type"] == cfg.type


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_list_long_of_a_running_domain_follows_the_idl(path: Path) -> None:
    host = Host()
    assert host.xl(f"create {path}")[0] == 0
    host.run(ms=200)
    rc, out, _ = host.xl("list -l")
    assert rc == 0 and out.endswith("]\n\n")  # yajl's final newline, then puts'
    (entry,) = json.loads(out)  # Domain-0 has no stored config: skipped, as in libxl
    assert entry["domid"] == 1
    cfg = entry["config"]
    check_domain_config(cfg)
    d = host.domain(1)
    assert cfg["c_info"]["uuid"] == d.handle
    assert cfg["c_info"]["run_hotplug_scripts"] == "True"
    for nic in cfg.get("nics", []):
        assert nic["mac"].startswith("00:16:3e:")  # the MAC the vif was given


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_json_round_trip_gives_the_same_config(path: Path) -> None:
    cfg = DomainConfig.from_file(path)
    obj = domain_config_json(cfg, extensions=True)
    back = config_from_json(json.loads(json.dumps(obj)))
    assert domain_config_json(back, extensions=True) == obj
    assert (back.name, back.memory, back.vcpus, back.workload, back.disks) == \
        (cfg.name, cfg.memory, cfg.vcpus, cfg.workload, cfg.disks)


def test_yajl_layout() -> None:
    assert yajl_dumps({"a": {}, "b": [1, "x"], "c": None}) == (
        '{\n    "a": {\n\n    },\n    "b": [\n        1,\n        "x"\n    ],\n'
        '    "c": null\n}\n')


def test_values_use_libxl_spellings() -> None:
    cfg = DomainConfig.from_text('name="h"\ntype="hvm"\nmemory=512\nvcpus=2\nmaxvcpus=4\n'
                                 'on_reboot="rename-restart"\ndisk=["/x.iso,raw,hdc,ro,cdrom"]'
                                 '\nvif=["bridge=xenbr0"]\n')
    obj = domain_config_json(cfg)
    b = obj["b_info"]
    assert b["avail_vcpus"] == [0, 1] and b["max_vcpus"] == 4
    assert b["device_model_version"] == "qemu_xen" and b["acpi"] == "True"
    assert obj["on_reboot"] == "restart_rename" and "on_poweroff" not in obj  # default
    assert obj["disks"][0] == {"pdev_path": "/x.iso", "vdev": "hdc", "format": "raw",
                               "removable": 1, "is_cdrom": 1}

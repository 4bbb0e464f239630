"""libxl's JSON for a domain: libxl_domain_config as ``xl list -l`` and ``xl create -n`` print it.

Mirrors: tools/libs/light/libxl_types.idl (``libxl_domain_config``: ``c_info``,
``b_info``, ``disks``, ``nics``, ``on_*``; field names, nesting and units,
memory in KiB), the generated ``libxl_*_gen_json`` (a field is written only
when it differs from its IDL default, a ``libxl_defbool`` reads ``"True"`` /
``"False"``, an enumeration its lower-case name, a bitmap the list of its set
bits, a keyed union ``"type.pv"``) and tools/xl/xl_info.c (``printf_info``:
``{"domid": N|null, "config": ...}``, yajl's beautified layout with four
spaces, ``"{\\n\\n}"`` for an empty map).

*Dry run* (``xl create -n``) shows the config as xl parsed it; a *live*
domain's (``xl list -l``) is what libxl_retrieve_domain_configuration returns:
the same plus what libxl decided at create time and what changed since
(uuid, the MAC each vif got, the memory target, the vCPUs online).
Simplified: of the defaults libxl fills in, only those of keys xensim models
are shown (a nic's ``nictype`` only when the config set ``type=``); HVM
vga, vnc and sdl details are libxl's defaults.

:func:`config_from_json` is the way back (``xl restore``): the JSON becomes
xl.cfg keys that go through the same parser as a file, so a restored config
is checked exactly as ``xl create`` checks one.  Settings libxl has no field
for (xensim's ``workload``, ``guest_arch``, ``qemu_args`` and keys xensim
keeps unread) travel in an extra top-level ``"xensim"`` map, written only
into save files (libxl's parser skips keys it does not know).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from xensim.toolstack.domconfig import DEFAULTS, DomainConfig

if TYPE_CHECKING:
    from xensim.hypervisor.domain import Domain
    from xensim.toolstack.diskspec import DiskSpec
    from xensim.toolstack.libxl import Libxl
    from xensim.toolstack.vifspec import VifSpec

__all__ = ["config_from_json", "domain_config_json", "printf_info", "yajl_dumps"]

INDENT = "    "
"""libxl_yajl_gen_alloc: yajl_gen_beautify with a four-space indent."""


def yajl_dumps(obj: Any) -> str:
    """*obj* as yajl's beautified generator writes it (a final newline included)."""
    return _yajl(obj, 0) + "\n"


def _yajl(obj: Any, depth: int) -> str:
    pad = INDENT * (depth + 1)
    if isinstance(obj, dict):
        body = ",\n".join(f"{pad}{json.dumps(k, ensure_ascii=False)}: {_yajl(v, depth + 1)}"
                          for k, v in obj.items())
        return "{\n" + body + "\n" + INDENT * depth + "}"
    if isinstance(obj, list):
        body = ",\n".join(pad + _yajl(v, depth + 1) for v in obj)
        return "[\n" + body + "\n" + INDENT * depth + "]"
    return json.dumps(obj, ensure_ascii=False)


def printf_info(domid: int | None, config: dict[str, Any]) -> str:
    """xl_info.c's printf_info_one_json: one domain's entry."""
    return yajl_dumps({"domid": domid, "config": config})


def _defbool(value: bool) -> str:
    return "True" if value else "False"


def _action(name: str) -> str:
    """libxl_action_on_shutdown's JSON name: ``rename-restart`` -> ``restart_rename``."""
    return "restart_rename" if name == "rename-restart" else name.replace("-", "_")


def _action_key(name: str) -> str:
    return "rename-restart" if name == "restart_rename" else name.replace("_", "-")


# --- to JSON ----------------------------------------------------------------------------
def domain_config_json(cfg: DomainConfig, d: Domain | None = None,
                       libxl: Libxl | None = None, *, extensions: bool = False,
                       domid: int | None = None) -> dict[str, Any]:
    """``libxl_domain_config`` for *cfg*; with *d* (and its toolstack) as it runs now.
    *domid* is c_info's (``xl save`` stores 0, or the domid with ``-D``)."""
    out: dict[str, Any] = {"c_info": _c_info(cfg, d, domid), "b_info": _b_info(cfg, d, libxl)}
    disks = [_disk(disk, d) for disk in cfg.disks]
    if disks:
        out["disks"] = disks
    nics = _nics(cfg, d, libxl)
    if nics:
        out["nics"] = nics
    for key in ("on_poweroff", "on_reboot", "on_watchdog", "on_crash"):
        value = getattr(cfg, key)
        if value != "destroy":
            out[key] = _action(value)
    out["on_soft_reset"] = "soft_reset"  # xl_parse.c: "soft-reset" unless set
    if extensions:
        out["xensim"] = _extensions(cfg)
    return out


def _c_info(cfg: DomainConfig, d: Domain | None, domid: int | None) -> dict[str, Any]:
    c: dict[str, Any] = {"type": cfg.type}
    if cfg.type != "pv":
        c["hap"] = _defbool(cfg.hap)
    c["name"] = d.name if d is not None else cfg.name
    if domid is not None:
        c["domid"] = domid
    uuid = d.handle if d is not None else getattr(cfg, "uuid", None)
    if uuid:
        c["uuid"] = uuid
    if d is not None and d.pool.pool_id:
        c["poolid"] = d.pool.pool_id
    if cfg.pool != DEFAULTS["pool"]:
        c["pool_name"] = cfg.pool
    if d is not None:
        c["run_hotplug_scripts"] = "True"  # libxl__domain_create_info_setdefault
    return c


def _bitmap(cpus: frozenset[int]) -> list[int]:
    return sorted(cpus)


def _b_info(cfg: DomainConfig, d: Domain | None, libxl: Libxl | None) -> dict[str, Any]:
    from xensim.hypervisor.vcpu import PauseFlag

    b: dict[str, Any] = {"max_vcpus": cfg.maxvcpus}
    if d is not None:
        b["avail_vcpus"] = [v.vcpu_id for v in d.vcpus if not v.pause_flags & PauseFlag.DOWN]
    else:
        b["avail_vcpus"] = list(range(cfg.vcpus))
    for key, spec in (("vcpu_hard_affinity", cfg.cpus), ("vcpu_soft_affinity", cfg.cpus_soft)):
        if spec is None:
            continue
        if d is not None:
            maps = [v.hard_affinity if key == "vcpu_hard_affinity" else
                    (v.soft_affinity or frozenset()) for v in d.vcpus]
        else:
            maps = _affinity_maps(cfg, key) or []
        b[key] = [_bitmap(m) for m in maps]
    b["max_memkb"] = cfg.maxmem * 1024
    target = cfg.memory * 1024
    if d is not None and libxl is not None:
        target = libxl._memory_node(d, "target", d.memory_kib)
    b["target_memkb"] = target
    if cfg.type == "hvm":
        b["video_memkb"] = 8192  # libxl's default for qemu-xen's cirrus VGA
    if d is not None and cfg.type != "pv":
        # libxl_get_required_shadow_memory: 4 * (256 * vcpus + 2 * MiB of maxmem) KiB
        b["shadow_memkb"] = 4 * (256 * cfg.maxvcpus + 2 * cfg.maxmem)
    if cfg.type == "hvm":
        b["device_model_version"] = cfg.device_model_version.replace("-", "_")
        if cfg.device_model_stubdomain_override:
            b["device_model_stubdomain"] = "True"
    sched: dict[str, Any] = {}
    if d is not None:
        sched["sched"] = d.pool.sched.name
    if cfg.cpu_weight != DEFAULTS["cpu_weight"]:
        sched["weight"] = cfg.cpu_weight
    if cfg.cap != DEFAULTS["cap"]:
        sched["cap"] = cfg.cap
    b["sched_params"] = sched
    for key in ("kernel", "cmdline", "ramdisk"):
        value = getattr(cfg, key)
        if value is not None:
            b[key] = value
    if cfg.type == "hvm":
        b["acpi"] = _defbool(cfg.acpi)
    if cfg.bootloader is not None:
        b["bootloader"] = cfg.bootloader
    if cfg.type == "hvm":
        b["apic"] = _defbool(cfg.apic)
    b[f"type.{cfg.type}"] = _type_union(cfg)
    b["arch_arm"] = {}
    b["arch_x86"] = {}
    return b


def _affinity_maps(cfg: DomainConfig, key: str) -> list[frozenset[int]] | None:
    """Per-vCPU maps from the raw spec without a host: xl resolves them the same way,
    against the host's pCPU count, so a dry run assumes the largest it can name."""
    from xensim.hypervisor.cpumap import CpumapError

    try:
        fn = cfg.hard_affinity if key == "vcpu_hard_affinity" else cfg.soft_affinity
        return fn(_cpus_named(cfg))
    except CpumapError:
        return None


def _cpus_named(cfg: DomainConfig) -> int:
    import re

    specs = [cfg.cpus, cfg.cpus_soft]
    numbers = [int(n) for s in specs if s is not None
               for part in ([s] if isinstance(s, str) else list(s))
               for n in re.findall(r"\d+", part)]
    return max(numbers, default=0) + 1


def _type_union(cfg: DomainConfig) -> dict[str, Any]:
    if cfg.type != "hvm":
        return {}
    u: dict[str, Any] = {}
    if cfg.viridian is True or isinstance(cfg.viridian, tuple):
        u["viridian"] = "True"
    u["vga"] = {"kind": "cirrus"}
    u["vnc"] = {"enable": _defbool(cfg.vnc)}
    u["sdl"] = {"enable": _defbool(cfg.sdl)}
    if cfg.serial is not None:
        if isinstance(cfg.serial, str):
            u["serial"] = cfg.serial
        else:
            u["serial_list"] = list(cfg.serial)
    if cfg.boot:
        u["boot"] = cfg.boot
    u["xen_platform_pci"] = _defbool(cfg.xen_platform_pci)
    return u


def _disk(disk: DiskSpec, d: Domain | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if disk.backend:
        out["backend_domname"] = disk.backend
    if disk.target is not None:
        out["pdev_path"] = disk.target
    out["vdev"] = disk.vdev
    backend = disk.backendtype
    if backend is None and d is not None:
        backend = default_backend(disk.target)
    if backend:
        out["backend"] = backend
    out["format"] = disk.format
    if disk.script:
        out["script"] = disk.script
    if disk.is_cdrom:
        out["removable"] = 1
    if disk.readwrite:
        out["readwrite"] = 1
    if disk.is_cdrom:
        out["is_cdrom"] = 1
    if disk.direct_io_safe:
        out["direct_io_safe"] = True
    if disk.discard is not None:
        out["discard_enable"] = _defbool(disk.discard)
    return out


def default_backend(target: str | None) -> str:
    """libxl__device_disk_set_backend's choice when the config names none: a block device
    goes to blkback (``phy``), anything else to qemu (``qdisk``)."""
    return "phy" if (target or "").startswith("/dev/") else "qdisk"


def _nics(cfg: DomainConfig, d: Domain | None, libxl: Libxl | None) -> list[dict[str, Any]]:
    live: dict[int, dict[str, str]] = {}
    if d is not None and libxl is not None:
        live = libxl.device_list(d, "vif")
    return [_nic(devid, vif, live.get(devid)) for devid, vif in enumerate(cfg.vifs)]


def _nic(devid: int, vif: VifSpec, front: dict[str, str] | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if vif.backend:
        out["backend_domname"] = vif.backend
    out["devid"] = devid
    if vif.model:
        out["model"] = vif.model
    mac = vif.mac or (front or {}).get("mac")
    if mac:
        out["mac"] = mac
    if vif.ip:
        out["ip"] = vif.ip
    out["bridge"] = vif.bridge
    if vif.vifname:
        out["ifname"] = vif.vifname
    out["script"] = vif.script
    if vif.type is not None:  # as configured (xensim leaves libxl's per-type default out)
        out["nictype"] = "vif_ioemu" if vif.type == "ioemu" else "vif"
    if vif.rate_bytes_per_sec is not None and vif.rate_interval_us is not None:
        out["rate_bytes_per_interval"] = vif.rate_bytes_per_sec * vif.rate_interval_us \
            // 1_000_000
        out["rate_interval_usecs"] = vif.rate_interval_us
    if vif.gatewaydev:
        out["gatewaydev"] = vif.gatewaydev
    return out


def _extensions(cfg: DomainConfig) -> dict[str, Any]:
    from xensim.toolstack.domconfig_build import _fmt

    ext: dict[str, Any] = {"workload": cfg.workload, "guest_arch": cfg.guest_arch}
    if cfg.qemu_args is not None:
        ext["qemu_args"] = cfg.qemu_args
    if cfg.cpus is not None:
        ext["cpus"] = cfg.cpus if isinstance(cfg.cpus, str) else list(cfg.cpus)
    if cfg.cpus_soft is not None:
        ext["cpus_soft"] = cfg.cpus_soft if isinstance(cfg.cpus_soft, str) \
            else list(cfg.cpus_soft)
    if cfg.extra_keys:
        ext["xlcfg"] = "".join(f"{k} = {_fmt(v)}\n" for k, v in cfg.extra_keys)
    return ext


# --- back from JSON ----------------------------------------------------------------------
class ConfigJsonError(ValueError):
    """JSON that is not a libxl_domain_config xensim can read."""


def config_from_json(obj: Any, source: str = "<saved>") -> DomainConfig:
    """A :class:`DomainConfig` from ``libxl_domain_config`` JSON (``xl restore``)."""
    from xensim.host import xl_value

    if not isinstance(obj, dict) or not isinstance(obj.get("c_info"), dict) \
            or not isinstance(obj.get("b_info"), dict):
        raise ConfigJsonError("not a libxl_domain_config: c_info and b_info are missing")
    c, b = obj["c_info"], obj["b_info"]
    try:
        keys = _keys_from_json(obj, c, b)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ConfigJsonError(f"malformed libxl_domain_config: {exc}") from None
    text = "".join(f"{k} = {xl_value(v)}\n" for k, v in keys.items() if v is not None)
    ext = obj.get("xensim") or {}
    text += ext.get("xlcfg", "") if isinstance(ext, dict) else ""
    return DomainConfig.from_text(text, source)


def _keys_from_json(obj: dict[str, Any], c: dict[str, Any], b: dict[str, Any]
                    ) -> dict[str, Any]:
    ctype = c.get("type", "pv")
    keys: dict[str, Any] = {"name": c["name"], "type": ctype}
    if "hap" in c:
        keys["hap"] = c["hap"] == "True"
    if "pool_name" in c:
        keys["pool"] = c["pool_name"]
    keys["memory"] = int(b["target_memkb"]) // 1024
    keys["maxmem"] = int(b.get("max_memkb", b["target_memkb"])) // 1024
    keys["maxvcpus"] = int(b.get("max_vcpus", 1))
    keys["vcpus"] = len(b.get("avail_vcpus", [0]))
    sched = b.get("sched_params") or {}
    if "weight" in sched:
        keys["cpu_weight"] = int(sched["weight"])
    if "cap" in sched:
        keys["cap"] = int(sched["cap"])
    for key in ("kernel", "cmdline", "ramdisk", "bootloader"):
        keys[key] = b.get(key)
    if ctype == "hvm":
        for key in ("acpi", "apic"):
            if key in b:
                keys[key] = b[key] == "True"
        if "device_model_version" in b:
            keys["device_model_version"] = b["device_model_version"].replace("_", "-")
        if "device_model_stubdomain" in b:
            keys["device_model_stubdomain_override"] = b["device_model_stubdomain"] == "True"
        u = b.get("type.hvm") or {}
        if "viridian" in u:
            keys["viridian"] = u["viridian"] == "True"
        for key in ("vnc", "sdl"):
            if key in u:
                keys[key] = u[key].get("enable") == "True"
        keys["serial"] = u.get("serial", u.get("serial_list"))
        keys["boot"] = u.get("boot")
        if "xen_platform_pci" in u:
            keys["xen_platform_pci"] = u["xen_platform_pci"] == "True"
    for key in ("on_poweroff", "on_reboot", "on_watchdog", "on_crash"):
        if key in obj:
            keys[key] = _action_key(obj[key])
    disks = [_disk_spec(x) for x in obj.get("disks", [])]
    if disks:
        keys["disk"] = disks
    vifs = [_vif_spec(x) for x in obj.get("nics", [])]
    if vifs:
        keys["vif"] = vifs
    ext = obj.get("xensim") or {}
    for key in ("workload", "guest_arch", "qemu_args", "cpus", "cpus_soft"):
        if key in ext:
            keys[key] = ext[key]
    if "cpus" not in keys and "vcpu_hard_affinity" in b:
        keys["cpus"] = [",".join(str(c) for c in m) for m in b["vcpu_hard_affinity"]]
    if "cpus_soft" not in keys and "vcpu_soft_affinity" in b:
        keys["cpus_soft"] = [",".join(str(c) for c in m) for m in b["vcpu_soft_affinity"]]
    return keys


def _disk_spec(x: dict[str, Any]) -> str:
    parts = [f"format={x.get('format', 'raw')}", f"vdev={x['vdev']}",
             f"access={'rw' if x.get('readwrite') else 'ro'}"]
    if x.get("is_cdrom"):
        parts.append("devtype=cdrom")
    backend = x.get("backend")
    if backend in ("phy", "tap", "qdisk", "standalone") and \
            backend != default_backend(x.get("pdev_path")):  # libxl's own choice stays implicit
        parts.append(f"backendtype={backend}")
    if x.get("backend_domname"):
        parts.append(f"backend={x['backend_domname']}")
    if x.get("script"):
        parts.append(f"script={x['script']}")
    if x.get("direct_io_safe"):
        parts.append("direct-io-safe")
    if "discard_enable" in x:
        parts.append("discard" if x["discard_enable"] == "True" else "no-discard")
    if x.get("pdev_path") is not None:
        parts.append(f"target={x['pdev_path']}")
    return ", ".join(parts)


def _vif_spec(x: dict[str, Any]) -> str:
    parts = []
    for key, name in (("mac", "mac"), ("bridge", "bridge"), ("ip", "ip"), ("model", "model"),
                      ("backend_domname", "backend"), ("ifname", "vifname"),
                      ("script", "script"), ("gatewaydev", "gatewaydev")):
        if x.get(key):
            parts.append(f"{name}={x[key]}")
    if "nictype" in x:
        parts.append("type=" + ("ioemu" if x["nictype"] == "vif_ioemu" else "vif"))
    if "rate_bytes_per_interval" in x and x.get("rate_interval_usecs"):
        usecs = int(x["rate_interval_usecs"])
        per_sec = int(x["rate_bytes_per_interval"]) * 1_000_000 // usecs
        parts.append(f"rate={per_sec}B/s@{usecs}us")
    return ", ".join(parts)


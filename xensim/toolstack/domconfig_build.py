"""RawConfig -> DomainConfig (validation, defaults) and back to xl syntax.

Mirrors: tools/xl/xl_parse.c ``parse_config_data``, in the same order of
decisions: domain type first (``type``, then legacy ``builder``), then the
name, then per-key reads, then cross-key rules (``maxmem``/``maxvcpus``
defaults, ``maxvcpus < vcpus``, a PV guest needs a kernel or bootloader).

The per-key reads are a table (:data:`_SCALARS`), so adding a key is one
row, as in xl's command table.  Keys that need more than one read (disk,
vif, cpus, cmdline, viridian) have small functions of their own.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from uuid import UUID

from xensim.hypervisor.hostkind import GUEST_ARCHES
from xensim.toolstack.cfgvalue import (
    fail,
    get_bool,
    get_enum,
    get_int,
    get_str,
    get_str_list,
    get_str_or_list,
)
from xensim.toolstack.diskspec import DiskSpecError, parse_diskspec
from xensim.toolstack.domconfig import (
    ACTIONS_ON_SHUTDOWN,
    DEFAULTS,
    DEVICE_MODEL_VERSIONS,
    DOMAIN_TYPES,
    HVM_DEFAULTS,
    PV_DEFAULTS,
)
from xensim.toolstack.pcispec import PciSpecError, parse_pci_spec
from xensim.toolstack.qemuargs import QemuArgsError, parse_qemu_args
from xensim.toolstack.vifspec import VifSpecError, parse_vifspec
from xensim.toolstack.xlcfg import Atom, ListValue, RawConfig, Setting, Value, XlCfgError

if TYPE_CHECKING:
    from xensim.toolstack.domconfig import DomainConfig

__all__ = ["build", "to_xlcfg"]

IGNORED_XL_KEYS = frozenset(
    (
        "uuid",
        "seclabel",
        "init_seclabel",
        "oos",
        "localtime",
        "rtc_timeoffset",
        "videoram",
        "shadow_memory",
        "nomigrate",
        "tsc_mode",
        "timer_mode",
        "nestedhvm",
        "pae",
        "nx",
        "hpet",
        "vga",
        "stdvga",
        "keymap",
        "vnclisten",
        "vncpasswd",
        "vncdisplay",
        "vncunused",
        "usb",
        "usbdevice",
        "soundhw",
        "vfb",
        "vkb",
        "channel",
        "vtpm",
        "p9",
        "max_grant_frames",
        "max_maptrack_frames",
        "max_event_channels",
        "device_model_override",
        "bootloader_args",
        "firmware",
        "bios",
        "e820_host",
        "on_soft_reset",
        "vif2",
        "cpuid",
        "vnuma",
        "period",
        "slice",
        "latency",
        "extratime",
        "gfx_passthru",
        "nographic",
        "device_tree",
    )
)
"""Keys real xl reads that xensim does not model: kept, with a milder warning."""

_CPUMAP_ITEM = re.compile(r"\^?(?:nodes?:)?(?:all|[0-9]+(?:-[0-9]+)?)")


def check_cpumap(setting: Setting, item: Value, text: str) -> None:
    """Syntax of an xl cpumap (``parse_cpurange``), without knowing the host."""
    for part in text.split(","):
        part = part.strip()
        if not _CPUMAP_ITEM.fullmatch(part):
            raise fail(setting, f'invalid pcpu range "{part}" in "{text}"', at=item)
        if part.startswith("^") and part.endswith("all"):
            raise fail(setting, 'can\'t combine "^" and "all"', at=item)
        m = re.search(r"([0-9]+)-([0-9]+)$", part)
        if m and int(m.group(2)) < int(m.group(1)):
            raise fail(setting, f'invalid pcpu range "{part}": start must be <= end', at=item)


_Reader = Callable[[Setting], Any]


def _action(s: Setting) -> str:
    return get_enum(s, ACTIONS_ON_SHUTDOWN, "action")


def _pci(s: Setting) -> tuple[str, ...]:
    """xl_parse.c: each entry must be a PCI_SPEC_STRING (see pcispec.py)."""
    specs = get_str_list(s)
    assert isinstance(s.value, ListValue)
    for item, text in zip(s.value.items, specs, strict=True):
        try:
            parse_pci_spec(text)
        except PciSpecError:
            raise fail(s, f"unable to parse PCI_SPEC_STRING `{text}' for passthrough",
                       at=item) from None
    return specs


def _uuid(s: Setting) -> str:
    """xl_parse.c: ``libxl_uuid_from_string`` (the 36-character form only), else xl's
    "Failed to parse UUID"."""
    text = get_str(s)
    try:
        if len(text) == 36:
            return str(UUID(text))
    except ValueError:
        pass
    raise fail(s, f"Failed to parse UUID: {text}")


def _name(s: Setting) -> str:
    name = get_str(s)
    if not name:
        raise fail(s, "the domain name must not be empty")
    return name


def _qemu_args(s: Setting) -> str:
    text = get_str(s)
    try:
        parse_qemu_args(text)
    except QemuArgsError as exc:
        raise fail(s, str(exc)) from None
    return text


def _apply_qemu_args(raw: RawConfig, kw: dict[str, Any]) -> None:
    """``-smp``/``-m`` give vcpus/memory; an xl key saying otherwise is an error."""
    if kw.get("qemu_args") is None:
        return
    qa = parse_qemu_args(kw["qemu_args"])
    for key, value, opt in (("vcpus", qa.smp, "-smp"), ("memory", qa.memory, "-m")):
        if value is None:
            continue
        if key in kw and kw[key] != value:
            raise fail(raw.get("qemu_args"), f"{opt} {value} contradicts {key} = {kw[key]}")
        kw[key] = value


# key -> reader.  Order is the order of to_xlcfg() output.
_SCALARS: dict[str, _Reader] = {
    "name": _name,
    "memory": lambda s: get_int(s, "MiB", lo=1),
    "maxmem": lambda s: get_int(s, "MiB", lo=1),
    "vcpus": lambda s: get_int(s, "vCPUs", lo=1, hi=4096),
    "maxvcpus": lambda s: get_int(s, "vCPUs", lo=1, hi=4096),
    "cpu_weight": lambda s: get_int(s, "credit weight", lo=1, hi=65535),
    "cap": lambda s: get_int(s, "% of one pCPU, 0 = no cap", lo=0),
    "uuid": _uuid,
    "pool": get_str,
    "kernel": get_str,
    "ramdisk": get_str,
    "bootloader": get_str,
    "on_poweroff": _action,
    "on_reboot": _action,
    "on_crash": _action,
    "on_watchdog": _action,
    "serial": get_str_or_list,
    "vnc": get_bool,
    "sdl": get_bool,
    "boot": get_str,
    "hap": get_bool,
    "acpi": get_bool,
    "apic": get_bool,
    "device_model_version": lambda s: get_enum(s, DEVICE_MODEL_VERSIONS, "device_model_version"),
    "device_model_stubdomain_override": get_bool,
    "xen_platform_pci": get_bool,
    "pci": _pci,
    "workload": get_str,
    "guest_arch": lambda s: get_enum(s, GUEST_ARCHES, "guest_arch"),
    "qemu_args": _qemu_args,
}
_SPECIAL = (
    "type",
    "builder",
    "cpus",
    "cpus_soft",
    "cmdline",
    "root",
    "extra",
    "disk",
    "vif",
    "viridian",
)


def _domain_type(raw: RawConfig) -> str:
    """``type`` then legacy ``builder``; xl accepts any prefix (``strncmp``)."""
    kind: str | None = None
    s = raw.get("type")
    if s is not None:
        text = get_str(s)
        kind = next((t for t in DOMAIN_TYPES if text and t.startswith(text)), None)
        if kind is None:
            raise fail(s, f'invalid domain type "{text}" (expected one of: pv, pvh, hvm)')
    b = raw.get("builder")
    if b is not None:
        text = get_str(b)
        if text and "hvm".startswith(text):
            btype = "hvm"
        elif text and "generic".startswith(text):
            btype = "pv"
        else:
            raise fail(b, f'invalid builder "{text}" (expected hvm or generic)')
        if kind is not None and kind != btype:
            raise fail(b, 'contradicting "builder" and "type" options specified')
        kind = btype
    return kind or DEFAULTS["type"]


def _cpumap(raw: RawConfig, key: str) -> str | tuple[str, ...] | None:
    s = raw.get(key)
    if s is None:
        return None
    spec = get_str_or_list(s)
    items = s.value.items if isinstance(s.value, ListValue) else (s.value,)
    for item, text in zip(items, (spec,) if isinstance(spec, str) else spec, strict=True):
        check_cpumap(s, item, text)
    return spec


def _cmdline(raw: RawConfig, warnings: list[str]) -> str | None:
    """``parse_cmdline``: cmdline wins over root= and extra=."""
    got = {k: get_str(s) for k in ("cmdline", "root", "extra") if (s := raw.get(k))}
    if "cmdline" in got:
        if "root" in got or "extra" in got:
            warnings.append("Warning: ignoring root= and extra= in favour of cmdline=")
        return got["cmdline"]
    if "root" in got:
        return f"root={got['root']} {got['extra']}" if "extra" in got else f"root={got['root']}"
    return got.get("extra")


def _devices(
    raw: RawConfig, key: str, parse: Callable[[str], Any], err: type[Exception]
) -> list[Any]:
    s = raw.get(key)
    if s is None:
        return []
    specs = get_str_list(s)
    assert isinstance(s.value, ListValue)
    out = []
    for item, spec in zip(s.value.items, specs, strict=True):
        try:
            out.append(parse(spec))
        except err as e:
            raise fail(
                s, f"config parsing error in {key} specification: {e} in `{spec}'", at=item
            ) from None
    return out


def _viridian(raw: RawConfig) -> bool | tuple[str, ...]:
    s = raw.get("viridian")
    if s is None:
        return DEFAULTS["viridian"]
    if isinstance(s.value, ListValue):
        return get_str_list(s)
    return get_bool(s)


def build(cls: type[DomainConfig], raw: RawConfig) -> DomainConfig:
    """Validate *raw*, fill in defaults, return a *cls* instance."""
    warnings: list[str] = []
    dtype = _domain_type(raw)
    if raw.get("name") is None:
        raise XlCfgError(raw.filename, 1, 1, "name: domain name must be specified")
    kw: dict[str, Any] = dict(HVM_DEFAULTS if dtype == "hvm" else PV_DEFAULTS)
    kw["type"] = dtype
    for key, read in _SCALARS.items():
        s = raw.get(key)
        if s is not None:
            kw[key] = read(s)
    _apply_qemu_args(raw, kw)
    kw.setdefault("memory", DEFAULTS["memory"])
    kw.setdefault("vcpus", DEFAULTS["vcpus"])
    kw.setdefault("maxmem", kw["memory"])
    kw.setdefault("maxvcpus", kw["vcpus"])
    if kw["maxvcpus"] < kw["vcpus"]:
        raise fail(raw.get("maxvcpus"), f"maxvcpus ({kw['maxvcpus']}) < vcpus ({kw['vcpus']})")
    if kw["maxmem"] < kw["memory"]:
        raise fail(raw.get("maxmem"), f"maxmem ({kw['maxmem']}) < memory ({kw['memory']})")
    kw["cpus"] = _cpumap(raw, "cpus")
    kw["cpus_soft"] = _cpumap(raw, "cpus_soft")
    kw["cmdline"] = _cmdline(raw, warnings)
    kw["viridian"] = _viridian(raw)
    kw["disks"] = tuple(_devices(raw, "disk", parse_diskspec, DiskSpecError))
    vifs = []
    vif_setting = raw.get("vif")
    for vif, vif_warnings in _devices(raw, "vif", parse_vifspec, VifSpecError):
        vifs.append(vif)
        assert vif_setting is not None
        warnings.extend(
            f"{vif_setting.filename}:{vif_setting.line}: warning: {w}" for w in vif_warnings
        )
    kw["vifs"] = tuple(vifs)
    if dtype == "hvm":
        if kw.get("kernel") and os.path.basename(kw["kernel"]) == "hvmloader":
            warnings.append(
                'WARNING: you seem to be using "kernel" directive to override '
                "HVM guest firmware. Ignore that."
            )
            kw["kernel"] = None
    elif kw.get("kernel") is None and kw.get("bootloader") is None:  # "" counts, as in C
        raise XlCfgError(
            raw.filename,
            1,
            1,
            f"type: Neither kernel nor bootloader specified (a {dtype} guest needs one)",
        )
    known = set(_SCALARS) | set(_SPECIAL)
    extra: dict[str, Value] = {}
    for key in raw.keys():
        if key in known:
            continue
        s = raw.get(key)
        assert s is not None
        extra[key] = s.value
        if key in IGNORED_XL_KEYS:
            warnings.append(
                f"{s.filename}:{s.line}: warning: parameter `{key}' is read by xl "
                "but ignored by xensim"
            )
        else:
            warnings.append(
                f"{s.filename}:{s.line}: warning: unknown parameter `{key}' (kept in extra_keys)"
            )
    kw["extra_keys"] = tuple(extra.items())
    kw["warnings"] = tuple(warnings)
    kw["source"] = raw.filename
    return cls(**kw)


# ---------------------------------------------------------------------------
# Back to xl syntax


def _quote(text: str) -> str:
    """A double-quoted xl string; escapes are those ``xlu__cfgl_dequote`` reads."""
    out = []
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _fmt(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return _quote(value)
    if isinstance(value, Atom):
        return value.text if value.kind == "number" else _quote(value.text)
    if isinstance(value, ListValue):
        return "[ " + ", ".join(_fmt(v) for v in value.items) + " ]"
    if isinstance(value, tuple):
        if not value:
            return "[ ]"
        return "[\n" + "".join(f"    {_fmt(v)},\n" for v in value) + "]"
    raise TypeError(f"cannot format {value!r}")


def to_xlcfg(cfg: DomainConfig) -> str:
    """Render *cfg* as an xl.cfg text that parses back to an equal config."""
    # The name goes in a setting, never in the comment: it may hold a newline.
    lines = ["# xl.cfg written by xensim", f"type = {_fmt(cfg.type)}"]
    for key in _SCALARS:
        value = getattr(cfg, key)
        if value is None or value == ():
            continue
        lines.append(f"{key} = {_fmt(value)}")
    for key in ("cpus", "cpus_soft", "cmdline"):
        value = getattr(cfg, key)
        if value is not None:
            lines.append(f"{key} = {_fmt(value)}")
    lines.append(f"viridian = {_fmt(cfg.viridian)}")
    if cfg.disks:
        lines.append(f"disk = {_fmt(tuple(d.to_spec() for d in cfg.disks))}")
    if cfg.vifs:
        lines.append(f"vif = {_fmt(tuple(v.to_spec() for v in cfg.vifs))}")
    for key, value in cfg.extra_keys:
        lines.append(f"{key} = {_fmt(value)}")
    return "\n".join(lines) + "\n"

"""The typed, validated domain configuration that ``xl create`` builds.

Mirrors: tools/xl/xl_parse.c (``parse_config_data``: which keys, how each is
read, cross-key rules such as ``maxvcpus < vcpus``) and the libxl defaults
it relies on (``libxl__domain_build_info_setdefault``: 32 MiB, one vCPU,
weight 256, …), collected in :data:`DEFAULTS` so they live in one place.

A :class:`DomainConfig` is a frozen description with no side effects, like
Mininet's ``Topo``: libxl turns it into a running domain.  Host-dependent
checks (does pCPU 7 exist? is there memory?) belong to create time, so
``cpus`` keeps its raw xl spec here and only its syntax is checked;
:meth:`DomainConfig.hard_affinity` resolves it against a host.

xensim extension: ``workload`` (default ``"idle"``) says what the guest
runs, e.g. ``"cpu"`` or ``"duty:busy_ms=5,idle_ms=20"``; it is kept as a
string for the workload registry to interpret.  For the kvm and qemu-tcg
host kinds: ``guest_arch`` (default ``"x86_64"``; only qemu-tcg runs
another) and ``qemu_args`` (a few QEMU options, see
:mod:`xensim.toolstack.qemuargs`; ``-smp``/``-m`` become vcpus/memory).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from xensim.hypervisor.cpumap import parse_cpumap
from xensim.toolstack.diskspec import DiskSpec
from xensim.toolstack.vifspec import VifSpec
from xensim.toolstack.xlcfg import ListValue, RawConfig, Value, parse_xlcfg

__all__ = [
    "ACTIONS_ON_SHUTDOWN",
    "COMMAND_LINE",
    "DEFAULTS",
    "DEVICE_MODEL_VERSIONS",
    "DOMAIN_TYPES",
    "DiskSpec",
    "DomainConfig",
    "VifSpec",
]

DomainType = Literal["pv", "pvh", "hvm"]
DOMAIN_TYPES: tuple[DomainType, ...] = ("hvm", "pv", "pvh")  # xl's prefix-match order
ACTIONS_ON_SHUTDOWN = (
    "destroy",
    "restart",
    "rename-restart",
    "preserve",
    "coredump-destroy",
    "coredump-restart",
    "soft-reset",
)
DEVICE_MODEL_VERSIONS = ("qemu-xen", "qemu-xen-traditional")
COMMAND_LINE = "<command line>"
"""The file name reported for ``key=value`` overrides given to ``xl create``."""

DEFAULTS: MappingProxyType[str, Any] = MappingProxyType(
    {
        "type": "pv",  # xl_parse.c on x86 when neither type nor builder is given
        "memory": 32,  # MiB: libxl's LIBXL_MEMKB_DEFAULT -> 32 * 1024 KiB
        "vcpus": 1,
        "cpu_weight": 256,  # credit's CSCHED_DEFAULT_WEIGHT
        "cap": 0,  # no cap
        "pool": "Pool-0",
        "on_poweroff": "destroy",
        "on_reboot": "restart",
        "on_crash": "destroy",
        "on_watchdog": "destroy",
        "sdl": False,
        "hap": True,
        "acpi": True,
        "apic": True,
        "viridian": False,
        "device_model_version": "qemu-xen",
        "device_model_stubdomain_override": False,
        "xen_platform_pci": True,
        "workload": "idle",
        "guest_arch": "x86_64",
    }
)
"""Every default in one place (maxmem/maxvcpus default to memory/vcpus)."""

HVM_DEFAULTS: MappingProxyType[str, Any] = MappingProxyType({"vnc": True, "boot": "cd"})
PV_DEFAULTS: MappingProxyType[str, Any] = MappingProxyType({"vnc": False, "boot": None})
"""libxl enables VNC and boots ``cd`` for HVM; a PV/PVH guest has neither."""


@dataclass(frozen=True)
class DomainConfig:
    """A guest's configuration, as xl understood it.  Frozen and comparable.

    *warnings* and *source* do not take part in ``==``: the same settings
    read from another file describe the same domain.
    """

    name: str
    uuid: str | None = None  # None: libxl generates one at create (then kept)
    type: DomainType = DEFAULTS["type"]
    memory: int = DEFAULTS["memory"]  # MiB at boot (target)
    maxmem: int = DEFAULTS["memory"]  # MiB ceiling for ballooning
    vcpus: int = DEFAULTS["vcpus"]  # vCPUs online at boot
    maxvcpus: int = DEFAULTS["vcpus"]
    cpus: str | tuple[str, ...] | None = None  # hard affinity, raw xl spec
    cpus_soft: str | tuple[str, ...] | None = None
    cpu_weight: int = DEFAULTS["cpu_weight"]
    cap: int = DEFAULTS["cap"]
    pool: str = DEFAULTS["pool"]
    kernel: str | None = None
    ramdisk: str | None = None
    cmdline: str | None = None  # from cmdline, or built from root= and extra=
    bootloader: str | None = None  # recorded only; xensim runs no pygrub
    disks: tuple[DiskSpec, ...] = ()
    vifs: tuple[VifSpec, ...] = ()
    on_poweroff: str = DEFAULTS["on_poweroff"]
    on_reboot: str = DEFAULTS["on_reboot"]
    on_crash: str = DEFAULTS["on_crash"]
    on_watchdog: str = DEFAULTS["on_watchdog"]
    serial: str | tuple[str, ...] | None = None
    vnc: bool = PV_DEFAULTS["vnc"]
    sdl: bool = DEFAULTS["sdl"]
    boot: str | None = PV_DEFAULTS["boot"]
    hap: bool = DEFAULTS["hap"]
    acpi: bool = DEFAULTS["acpi"]
    apic: bool = DEFAULTS["apic"]
    viridian: bool | tuple[str, ...] = DEFAULTS["viridian"]
    device_model_version: str = DEFAULTS["device_model_version"]
    device_model_stubdomain_override: bool = DEFAULTS["device_model_stubdomain_override"]
    xen_platform_pci: bool = DEFAULTS["xen_platform_pci"]
    pci: tuple[str, ...] = ()
    workload: str = DEFAULTS["workload"]
    guest_arch: str = DEFAULTS["guest_arch"]
    qemu_args: str | None = None
    extra_keys: tuple[tuple[str, Value], ...] = ()  # unknown keys, in file order
    warnings: tuple[str, ...] = field(default=(), compare=False)
    source: str = field(default="", compare=False)

    # -- construction -----------------------------------------------------

    @classmethod
    def from_raw(cls, raw: RawConfig) -> DomainConfig:
        """Validate *raw* and fill in xl's defaults; raise ``XlCfgError``."""
        from xensim.toolstack.domconfig_build import build

        return build(cls, raw)

    @classmethod
    def from_text(
        cls, text: str, filename: str = "<string>", overrides: list[str] | tuple[str, ...] = ()
    ) -> DomainConfig:
        """Parse *text*, then apply ``key=value`` *overrides* as xl create does."""
        raw = parse_xlcfg(text, filename)
        if overrides:
            raw = raw.extended(parse_xlcfg("\n".join(overrides), COMMAND_LINE))
        return cls.from_raw(raw)

    @classmethod
    def from_file(
        cls, path: str | Path, overrides: list[str] | tuple[str, ...] = ()
    ) -> DomainConfig:
        """Read an xl.cfg file; *overrides* are ``xl create``'s trailing
        ``key=value`` arguments, parsed with the same grammar."""
        text = Path(path).read_text()
        return cls.from_text(text, str(path), overrides)

    # -- queries --------------------------------------------------------------

    def hard_affinity(
        self, nr_cpus: int, cpus_per_node: int | None = None
    ) -> list[frozenset[int]] | None:
        """Per-vCPU hard affinity on a host of *nr_cpus* pCPUs (create time).

        A string applies to every vCPU; a list gives vCPU *i* its entry *i*
        (extra entries are ignored, missing ones mean "all"), as
        ``parse_vcpu_affinity`` does.  ``None`` when ``cpus`` is unset.
        """
        return _affinity(self.cpus, self.maxvcpus, nr_cpus, cpus_per_node)

    def soft_affinity(
        self, nr_cpus: int, cpus_per_node: int | None = None
    ) -> list[frozenset[int]] | None:
        """As :meth:`hard_affinity`, for ``cpus_soft``."""
        return _affinity(self.cpus_soft, self.maxvcpus, nr_cpus, cpus_per_node)

    # -- output ---------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form, for ``xl list -l`` and ``xl create -n``."""
        out: dict[str, Any] = {}
        for f in fields(self):
            if f.name in ("warnings", "source"):
                continue
            v = getattr(self, f.name)
            if f.name in ("disks", "vifs"):
                out[f.name] = [d.to_dict() for d in v]
            elif f.name == "extra_keys":
                out[f.name] = {k: _value_to_py(val) for k, val in v}
            elif isinstance(v, tuple):
                out[f.name] = list(v)
            else:
                out[f.name] = v
        return out

    def to_xlcfg(self) -> str:
        """The config in xl syntax; ``from_text(cfg.to_xlcfg()) == cfg``."""
        from xensim.toolstack.domconfig_build import to_xlcfg

        return to_xlcfg(self)


def _affinity(
    spec: str | tuple[str, ...] | None, maxvcpus: int, nr_cpus: int, cpus_per_node: int | None
) -> list[frozenset[int]] | None:
    if spec is None:
        return None
    if isinstance(spec, str):
        one = parse_cpumap(spec, nr_cpus, cpus_per_node)
        return [one] * maxvcpus
    every = frozenset(range(nr_cpus))
    maps = [parse_cpumap(s, nr_cpus, cpus_per_node) for s in spec[:maxvcpus]]
    return maps + [every] * (maxvcpus - len(maps))


def _value_to_py(value: Value) -> Any:
    if isinstance(value, ListValue):
        return [_value_to_py(v) for v in value.items]
    return value.text

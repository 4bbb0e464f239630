"""xl's vif spec: ``'mac=00:16:3e:00:00:01, bridge=xenbr0, rate=10Mb/s@20ms'``.

Mirrors: tools/xl/xl_parse.c (``parse_nic_config``: split on ``,``, skip
leading blanks, match ``key=``), tools/libs/util/libxlu_vif.c
(``xlu_vif_parse_rate``); documented in docs/misc/xl-network-configuration.

Defaults that xl/libxl fill in later (the MAC, the backend's script path)
are left as ``None`` here and chosen at create time; the bridge default is
xl.conf's ``xenbr0`` and the script libxl's ``vif-bridge``.  Unknown keys
are warnings, as in xl, which prints and carries on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from xensim.toolstack.cnum import strtoul

__all__ = [
    "DEFAULT_BRIDGE",
    "DEFAULT_RATE_INTERVAL_US",
    "DEFAULT_VIF_SCRIPT",
    "NIC_MODELS",
    "VifSpec",
    "VifSpecError",
    "parse_vif_rate",
    "parse_vifspec",
]

DEFAULT_BRIDGE = "xenbr0"
DEFAULT_VIF_SCRIPT = "vif-bridge"
DEFAULT_RATE_INTERVAL_US = 50_000
"""libxlu_vif.c: the credit replenishment interval when ``@`` is not given."""

NIC_MODELS = (
    "rtl8139",
    "e1000",
    "ne2k_pci",
    "pcnet",
    "virtio-net",
    "i82551",
    "i82557b",
    "i82559er",
)
"""Emulated NIC models QEMU offers to an HVM guest (``model=``)."""

_RATE_RE = re.compile(r"^[0-9]+[GMK]?[Bb]/s$")
_INTERVAL_RE = re.compile(r"^[0-9]+[mu]?s?$")
_MAC_RE = re.compile(r"^[0-9a-fA-F]{1,2}(:[0-9a-fA-F]{1,2}){5}$")
_UINT32_MAX = 2**32 - 1


class VifSpecError(ValueError):
    """A vif spec xl rejects."""


@dataclass(frozen=True)
class VifSpec:
    """One virtual network interface, after xl's defaults were applied."""

    mac: str | None = None  # None: a random 00:16:3e:xx:xx:xx at create time
    bridge: str = DEFAULT_BRIDGE
    ip: str | None = None
    model: str | None = None  # None: rtl8139 for HVM, unused for PV
    type: str | None = None  # "vif" | "ioemu"; None: ioemu for HVM, vif for PV
    rate: str | None = None  # as written, e.g. "10Mb/s@20ms"
    rate_bytes_per_sec: int | None = None
    rate_interval_us: int | None = None
    backend: str | None = None
    vifname: str | None = None
    script: str = DEFAULT_VIF_SCRIPT
    gatewaydev: str | None = None

    def to_spec(self) -> str:
        """A canonical spec string that parses back to this object."""
        parts = []
        for key in (
            "mac",
            "bridge",
            "ip",
            "model",
            "type",
            "rate",
            "backend",
            "vifname",
            "script",
            "gatewaydev",
        ):
            value = getattr(self, key)
            if value is not None:
                parts.append(f"{key}={value}")
        return ", ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def _strtoull_prefix(text: str) -> tuple[int, str]:
    got = strtoul(text)  # strtoull on a 64-bit host; ERANGE gives ULONG_MAX, an overflow
    return got.value, text[got.end :]


def parse_vif_rate(rate: str) -> tuple[int, int]:
    """``"10Mb/s@20ms"`` -> (bytes per second, interval in µs).

    Units as libxlu_vif.c: G/M/K are powers of 1000, a lower-case ``b``
    means bits (divided by 8); the interval is s, ms or us (bare = s).
    """
    amount, _, interval = rate.partition("@")
    if not amount:
        raise VifSpecError(f"no rate specified: near `{rate}'")
    if not _RATE_RE.match(amount):
        raise VifSpecError(f"invalid rate: near `{amount}'")
    n, unit = _strtoull_prefix(amount)
    if n == 0 or n > _UINT32_MAX:
        raise VifSpecError(f"rate overflow: near `{amount}'")
    n *= {"G": 10**9, "M": 10**6, "K": 10**3}.get(unit[0], 1)
    if "b" in unit[:2]:
        n //= 8
    interval_us = DEFAULT_RATE_INTERVAL_US
    if "@" in rate:
        if not _INTERVAL_RE.match(interval):
            raise VifSpecError(f"invalid replenishment interval: near `{interval}'")
        t, tunit = _strtoull_prefix(interval)
        if t == 0 or t > _UINT32_MAX:
            raise VifSpecError(f"replenishment interval overflow: near `{interval}'")
        if tunit in ("s", ""):
            t *= 1_000_000
        elif tunit.startswith("m"):
            t *= 1000
        if t > _UINT32_MAX:
            raise VifSpecError(f"replenishment interval overflow: near `{interval}'")
        interval_us = t
    return n, interval_us


_STRING_KEYS = ("bridge", "ip", "script", "backend", "vifname", "model", "gatewaydev")
_IGNORED_KEYS = ("forwarddev", "mtu", "trusted", "untrusted", "accel", "devid")


def parse_vifspec(spec: str) -> tuple[VifSpec, list[str]]:
    """Parse one vif spec; return it and xl-style warnings.

    Raises :class:`VifSpecError` for values xl refuses (bad ``type``, ``mac``
    or ``rate``).
    """
    f: dict[str, Any] = {}
    warnings: list[str] = []
    for token in spec.split(","):
        token = token.lstrip(" ")
        if not token:
            continue  # strtok never yields empty tokens
        key, eq, value = token.partition("=")
        if not eq:
            warnings.append(f"vif: ignoring `{token}' (not key=value)")
            continue
        if key == "type":
            if value not in ("vif", "ioemu"):
                raise VifSpecError(f"Invalid parameter `type': `{value}' (expected vif or ioemu)")
            f["type"] = value
        elif key == "mac":
            if not _MAC_RE.match(value):
                raise VifSpecError(f"Invalid parameter `mac': `{value}'")
            f["mac"] = ":".join(f"{int(b, 16):02x}" for b in value.split(":"))
        elif key == "rate":
            f["rate_bytes_per_sec"], f["rate_interval_us"] = parse_vif_rate(value)
            f["rate"] = value
        elif key == "netdev":
            warnings.append("the netdev parameter is deprecated, please use gatewaydev instead")
            f["gatewaydev"] = value
        elif key in _STRING_KEYS:
            f[key] = value
        elif key.startswith("colo_") or key in _IGNORED_KEYS:
            pass
        else:
            warnings.append(f"vif: unknown key `{key}' ignored")
    if f.get("model") is not None and f["model"] not in NIC_MODELS:
        warnings.append(
            f"vif: model `{f['model']}' is not one QEMU emulates ({', '.join(NIC_MODELS)})"
        )
    return VifSpec(**f), warnings

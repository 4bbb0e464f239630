"""The host's networks as an admin declares them: named bridges and their uplink NICs.

A real dom0's bridges come from its distribution's network configuration
(``/etc/network/interfaces``, ``ovs-vsctl add-br``), not from Xen; xl only
names one in a vif spec and the hotplug script (``vif-bridge`` or
``vif-openvswitch``) attaches the vif there or fails.  xensim's host is
declared the same way: ``xensim host start --bridge xenbr0,xenbr1``,
``Host(bridges=["xenbr0", "ovsbr0:openvswitch"])`` or a scenario's
``[[host.bridge]]`` tables.  Each bridge gets its own uplink NIC
(``eth0``, ``eth1``... in the order declared) on its own LAN segment,
unless it is declared host-only (``nic = "none"`` / ``name:linux:none``).
The default is what every host had before: ``xenbr0`` bridging ``eth0``.

Models (not mirrors): the bridges forward by domid (see
:class:`~xensim.domains.dom0.physdev.Bridge`); there is no STP, VLAN tagging
or MAC learning.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from xensim.domains.dom0.physdev import Bridge

BRIDGE_KINDS = ("linux", "openvswitch")
"""``linux``: a Linux bridge (``vif-bridge``); ``openvswitch``: an OVS bridge
(``vif-openvswitch``)."""

_NAME_RE = re.compile(r"^[A-Za-z0-9_.-]{1,15}$")
"""A Linux interface name: at most IFNAMSIZ-1 = 15 characters."""


class HostNetError(ValueError):
    """A bridge declaration the host cannot have; the message says what was expected."""


@dataclass(frozen=True)
class BridgeSpec:
    """One bridge: its name, kind, and its uplink NIC's name (None: host-only)."""

    name: str
    kind: str = "linux"
    nic: str | None = None


DEFAULT_BRIDGES = (BridgeSpec("xenbr0", "linux", "eth0"),)


def _kind(text: str) -> str:
    kind = {"ovs": "openvswitch"}.get(text, text)
    if kind not in BRIDGE_KINDS:
        raise HostNetError(f"bridge kind {text!r}: expected one of {', '.join(BRIDGE_KINDS)}")
    return kind


def _one(item: str | Mapping[str, Any] | BridgeSpec, index: int) -> BridgeSpec:
    if isinstance(item, BridgeSpec):
        return item
    if isinstance(item, str):
        name, _, rest = item.strip().partition(":")
        kind, _, nic = rest.partition(":")
        fields: dict[str, Any] = {"name": name, "kind": kind or "linux", "nic": nic or None}
    elif isinstance(item, Mapping):
        unknown = set(item) - {"name", "kind", "nic"}
        if unknown:
            raise HostNetError(f"bridge: unknown key {sorted(unknown)[0]!r}; expected name, "
                               "kind, nic")
        fields = {"name": item.get("name"), "kind": item.get("kind", "linux"),
                  "nic": item.get("nic")}
    else:
        raise HostNetError(f"bridge {item!r}: expected a name such as \"xenbr1\" or a table")
    name = fields["name"]
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise HostNetError(f"bridge name {name!r}: expected an interface name (letters, "
                           "digits, '_', '.', '-'; at most 15 characters)")
    nic = fields["nic"]
    if nic is None:
        nic = f"eth{index}"
    elif nic == "none":
        nic = None
    elif not isinstance(nic, str) or not _NAME_RE.match(nic):
        raise HostNetError(f"bridge {name}: nic {nic!r}: expected an interface name or "
                           "\"none\"")
    return BridgeSpec(name, _kind(str(fields["kind"])), nic)


def parse_bridges(spec: str | Sequence[str | Mapping[str, Any] | BridgeSpec] | None
                  ) -> tuple[BridgeSpec, ...]:
    """``"xenbr0,xenbr1,ovsbr0:openvswitch"`` (or a list of names, tables or specs) ->
    the bridges, each with its uplink; None -> the default (``xenbr0`` on ``eth0``).
    Raises :class:`HostNetError` for a bad name or kind, or a name used twice."""
    if spec is None:
        return DEFAULT_BRIDGES
    items = [s for s in spec.split(",") if s.strip()] if isinstance(spec, str) else list(spec)
    if not items:
        raise HostNetError("bridges: expected at least one bridge name")
    out = tuple(_one(item, i) for i, item in enumerate(items))
    names = [b.name for b in out] + [b.nic for b in out if b.nic]
    dup = next((n for n in names if names.count(n) > 1), None)
    if dup is not None:
        raise HostNetError(f"bridges: {dup!r} is named twice")
    return out


def bridge_table(bridges: Iterable[Bridge]) -> list[str]:
    """dom0's bridges as ``brctl show`` lists them (name, then one port a line), with
    the kind in place of brctl's bridge id and STP columns."""
    lines = [f"{'bridge name':<15} {'kind':<12} interfaces"]
    for b in bridges:
        ports = b.interfaces() or [""]
        lines.append(f"{b.name:<15} {b.kind:<12} {ports[0]}".rstrip())
        lines += [f"{'':<28} {p}" for p in ports[1:]]
    return lines

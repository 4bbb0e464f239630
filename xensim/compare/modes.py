"""The modes ``xensim compare`` knows: each is a set of xl.cfg keys laid over the guest.

=============  =====================================================================
mode           what the guest is
=============  =====================================================================
pv             a 64-bit PV guest: netfront/blkfront, no exits, ``mmu_update``
pvh            an HVM container without a device model: PV I/O, HAP paging
hvm            HVM with emulated devices only (``xen_platform_pci = 0``): IDE, NIC
pvhvm          HVM with PV drivers (the default HVM guest): unplugs the emulated
               devices at boot and does its I/O through netfront/blkfront
hvm-shadow     HVM with emulated devices and shadow paging (``hap = 0``)
passthrough    HVM with the host's NIC passed through (``pci = ["0000:03:00.0"]``):
               its own driver, no netback, no qemu; Xen remaps its interrupts
=============  =====================================================================

A mode may need something of the host as well (:data:`HOST_DEVICES`):
``passthrough`` runs on a host that has that NIC, assignable.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

PASSTHROUGH_NIC = "0000:03:00.0"

MODES: dict[str, dict[str, Any]] = {
    "pv": {"type": "pv"},
    "pvh": {"type": "pvh"},
    "hvm": {"type": "hvm", "xen_platform_pci": 0},
    "pvhvm": {"type": "hvm", "xen_platform_pci": 1},
    "hvm-shadow": {"type": "hvm", "xen_platform_pci": 0, "hap": 0},
    "passthrough": {"type": "hvm", "pci": [PASSTHROUGH_NIC]},
}
HOST_DEVICES: dict[str, dict[str, Any]] = {
    "passthrough": {"pci": [{"bdf": PASSTHROUGH_NIC, "kind": "nic", "assignable": True}]},
}
"""``Host`` arguments a mode needs: the device it passes through."""
DEFAULT_MODES = ("pv", "pvh", "hvm", "pvhvm", "hvm-shadow")
"""What ``xensim compare`` runs unless told (passthrough is asked for by name)."""
BREAKDOWN = ("guest", "hypervisor", "dom0", "device_model")
"""Where CPU time can go, in the order the table and chart show it."""


def parse_names(text: str, known: Mapping[str, Any], what: str) -> list[str]:
    """``pv,hvm`` -> ["pv", "hvm"]; an unknown name is an error listing the known ones."""
    names = [m.strip() for m in text.split(",") if m.strip()]
    bad = [m for m in names if m not in known]
    if bad or not names:
        raise ValueError(f"unknown {what} {', '.join(bad) or '(none)'}; "
                         f"{what}s: {', '.join(known)}")
    return names


def parse_modes(text: str) -> list[str]:
    return parse_names(text, MODES, "mode")

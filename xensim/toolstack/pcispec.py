"""xl's PCI_SPEC_STRING: ``'0000:03:00.0@5,permissive=1'`` or ``'name=nic0'``.

Mirrors: tools/libs/util/libxlu_pci.c (``parse_bdf``, ``parse_vslot``,
``xlu_pci_parse_spec_string``: a positional ``[SSSS:]BB:DD.F[@VSLOT]``,
then ``key=value`` options; exactly one of a BDF and ``name=``) as
docs/man/xl.cfg.5.pod.in documents it.  ``seize``, ``permissive``,
``msitranslate``, ``power_mgmt`` and ``rdm_policy`` are kept but change
nothing in the simulation.  Kept apart from libxl so that parsing a config
imports no simulator.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from xensim.hypervisor.passthrough import fmt_bdf, parse_bdf

_OPTIONS = ("permissive", "msitranslate", "seize", "power_mgmt", "rdm_policy")


class PciSpecError(ValueError):
    """A PCI_SPEC_STRING or BDF that libxlu rejects."""


@dataclass(frozen=True)
class PciSpec:
    """One ``pci =`` entry: the device (by BDF or by its assignable name) and options."""

    bdf: str | None = None
    name: str | None = None
    vslot: int | None = None
    options: tuple[tuple[str, str], ...] = ()


def _bdf(text: str) -> str:
    got = parse_bdf(text)
    if got is None:
        raise PciSpecError(f"malformed BDF {text!r}")
    return fmt_bdf(*got)


def parse_pci_spec(spec: str) -> PciSpec:
    """xlu_pci_parse_spec_string: ``0000:03:00.0@5,permissive=1`` or ``name=nic0``;
    exactly one of a BDF and a name.  Raises :class:`PciSpecError`."""
    head, _, rest = spec.partition(",")
    bdf = name = None
    vslot = None
    if "=" not in head:
        dev, at, slot = head.partition("@")
        bdf = _bdf(dev)
        if at:
            if not re.fullmatch(r"[0-9a-fA-F]+", slot) or int(slot, 16) > 0x1F:
                raise PciSpecError(f"malformed vslot {slot!r}")
            vslot = int(slot, 16)
    else:
        rest = spec
    options = []
    for item in (i for i in rest.split(",") if i) if rest else ():
        key, eq, val = item.partition("=")
        if not eq:
            raise PciSpecError(f"expected key=value, got {item!r}")
        if key == "bdf":
            bdf = _bdf(val)
        elif key == "vslot":
            if not re.fullmatch(r"[0-9a-fA-F]+", val) or int(val, 16) > 0x1F:
                raise PciSpecError(f"malformed vslot {val!r}")
            vslot = int(val, 16)
        elif key == "name":
            name = val
        elif key in _OPTIONS:
            options.append((key, val))
        else:
            raise PciSpecError(f"Unknown PCI_SPEC_STRING option: {key}")
    if (bdf is None) == (name is None):
        raise PciSpecError("give exactly one of a BDF and name=")
    return PciSpec(bdf, name, vslot, tuple(options))

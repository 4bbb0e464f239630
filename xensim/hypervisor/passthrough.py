"""PCI devices and the IOMMU: who owns each device, and moving one to a guest.

Mirrors: xen/drivers/passthrough/pci.c (``pci_add_device``, ``assign_device``,
``deassign_device``, ``pci_release_devices``, the 'Q' dump) and iommu.c:
every PCI device belongs to one domain at a time.  At boot dom0 reports the
devices it found (PHYSDEVOP_pci_device_add: ``PCI add device ...``) and
owns them.  ``xl pci-assignable-add`` binds one to pciback and quarantines
it (owner DOMID_IO); XEN_DOMCTL_assign_device then moves a quarantined
device to a guest, whose IOMMU context from then on translates the
device's DMA (guest-physical to machine) and remaps its interrupts to the
guest; deassign (or the guest's death, ``pci_release_devices``) sends it
back to quarantine.  Assigning a device a guest already has fails with
-EBUSY, as Xen's ``device_assigned`` check does.

Simplified: one segment, no phantom functions, no device groups or RMRRs;
the IOMMU's page tables are Xen's p2m shared with the IOMMU (``iommu_hap_pt_share``),
so assignment maps nothing per DMA: what a DMA costs is its IOTLB miss
(``iommu_iotlb_miss``, charged by the device model in
:mod:`xensim.domains.guest.passthrough`).  The ``[VT-D]`` lines are what Xen prints
with ``iommu=debug``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from xensim.hypervisor.domain import DOMID_IO
from xensim.hypervisor.errno import EBUSY, EINVAL, ENODEV

if TYPE_CHECKING:
    from xensim.hypervisor.domain import Domain
    from xensim.hypervisor.hypervisor import Hypervisor

PCI_KINDS = {"nic": "Ethernet controller: Intel Corporation 82599ES 10-Gigabit SFI/SFP+ "
                    "Network Connection (rev 01)",
             "gpu": "VGA compatible controller: NVIDIA Corporation GP107GL [Quadro P1000] "
                    "(rev a1)",
             "nvme": "Non-Volatile memory controller: Samsung Electronics Co Ltd NVMe SSD "
                     "Controller SM981/PM981/PM983"}
"""The device kinds a host can declare, with the ``lspci`` line each shows.  Only a
``nic`` does I/O in the simulation; the others can be assigned and listed."""

_BDF_RE = re.compile(r"^(?:([0-9a-fA-F]{1,4}):)?([0-9a-fA-F]{1,2}):([0-9a-fA-F]{1,2})\."
                     r"([0-7])$")


class PciError(ValueError):
    """A PCI device declaration the host cannot have."""


def parse_bdf(text: str) -> tuple[int, int, int, int] | None:
    """``[SSSS:]BB:DD.F`` -> (segment, bus, device, function), as libxlu's
    ``parse_bdf`` reads it (hex, device <= 0x1f, function <= 7); None if malformed."""
    m = _BDF_RE.match(text.strip())
    if m is None:
        return None
    seg, bus, dev, fn = (int(g, 16) if g else 0 for g in m.groups())
    return (seg, bus, dev, fn) if dev <= 0x1F else None


def fmt_bdf(seg: int, bus: int, dev: int, fn: int) -> str:
    """Xen's and xl's ``%04x:%02x:%02x.%01x``."""
    return f"{seg:04x}:{bus:02x}:{dev:02x}.{fn:x}"


@dataclass(slots=True)
class PciDevice:
    """One physical function and its owner (a domid, or DOMID_IO when quarantined)."""

    seg: int
    bus: int
    dev: int
    fn: int
    kind: str = "nic"
    owner: int = 0

    @property
    def bdf(self) -> str:
        return fmt_bdf(self.seg, self.bus, self.dev, self.fn)

    @property
    def is_nic(self) -> bool:
        return self.kind == "nic"

    @property
    def ifname(self) -> str:
        """The name udev gives it in dom0 (``enp3s0``, ``enp3s0f1``)."""
        return f"enp{self.bus}s{self.dev}" + (f"f{self.fn}" if self.fn else "")

    @property
    def description(self) -> str:
        return PCI_KINDS[self.kind]


def parse_pci_devices(spec: str | Sequence[str | Mapping[str, Any]] | None
                      ) -> list[tuple[PciDevice, bool]]:
    """The host's PCI devices: ``"0000:03:00.0,04:00.0=gpu"`` or a list of such strings
    or of tables ``{bdf, kind, assignable}``; each with whether it starts assignable
    (quarantined for pciback) instead of owned by dom0.  Raises :class:`PciError`."""
    if spec is None:
        return []
    items = [s for s in spec.split(",") if s.strip()] if isinstance(spec, str) else list(spec)
    out: list[tuple[PciDevice, bool]] = []
    for item in items:
        if isinstance(item, str):
            bdf, _, kind = item.partition("=")
            fields: dict[str, Any] = {"bdf": bdf, "kind": kind or "nic"}
        elif isinstance(item, Mapping):
            unknown = set(item) - {"bdf", "kind", "assignable"}
            if unknown:
                raise PciError(f"pci: unknown key {sorted(unknown)[0]!r}; expected bdf, "
                               "kind, assignable")
            fields = dict(item)
        else:
            raise PciError(f"pci {item!r}: expected a BDF such as \"0000:03:00.0\" or a table")
        bdf = parse_bdf(str(fields.get("bdf", "")))
        if bdf is None:
            raise PciError(f"pci device {fields.get('bdf')!r}: expected a BDF "
                           "[SSSS:]BB:DD.F such as 0000:03:00.0")
        kind = fields.get("kind", "nic")
        if kind not in PCI_KINDS:
            raise PciError(f"pci device {fmt_bdf(*bdf)}: kind {kind!r}: expected one of "
                           f"{', '.join(PCI_KINDS)}")
        assignable = fields.get("assignable", False)
        if not isinstance(assignable, bool):
            raise PciError(f"pci device {fmt_bdf(*bdf)}: assignable: expected true or false")
        out.append((PciDevice(*bdf, kind=kind), assignable))
    bdfs = [d.bdf for d, _ in out]
    dup = next((b for b in bdfs if bdfs.count(b) > 1), None)
    if dup is not None:
        raise PciError(f"pci device {dup} is declared twice")
    return out


class PciBus:
    """The host's PCI devices and their owners; the IOMMU's assign and deassign."""

    def __init__(self, hyp: Hypervisor) -> None:
        self.hyp = hyp
        self.devices: dict[str, PciDevice] = {}
        """BDF -> device, in the order dom0 reported them."""
        self.assignments = 0
        hyp.teardown_hooks.append(self.release_devices)

    def add_device(self, pdev: PciDevice) -> None:
        """PHYSDEVOP_pci_device_add: dom0 found *pdev* at boot and owns it."""
        self.devices[pdev.bdf] = pdev
        self.hyp.log(f"PCI add device {pdev.bdf}")

    def owned_by(self, domid: int) -> list[PciDevice]:
        return [p for p in self.devices.values() if p.owner == domid]

    def _move(self, pdev: PciDevice, d_from: int, d_to: int) -> None:
        pdev.owner = d_to
        if d_from not in (0, DOMID_IO):
            self.hyp.log(f"[VT-D]d{d_from}:PCIe: unmap {pdev.bdf}")
        if d_to not in (0, DOMID_IO):
            self.hyp.log(f"[VT-D]d{d_to}:PCIe: map {pdev.bdf}")

    def quarantine(self, bdf: str) -> int:
        """pciback took the device from dom0's driver: Xen quarantines it (DOMID_IO)."""
        pdev = self.devices.get(bdf)
        if pdev is None:
            return ENODEV
        if pdev.owner not in (0, DOMID_IO):
            return EBUSY
        self._move(pdev, pdev.owner, DOMID_IO)
        return 0

    def dequarantine(self, bdf: str) -> int:
        """XEN_DOMCTL_deassign_device from DOMID_IO: back to dom0 (-EINVAL if a guest
        has it, as Xen answers for a device not owned by the domain named)."""
        pdev = self.devices.get(bdf)
        if pdev is None:
            return ENODEV
        if pdev.owner != DOMID_IO:
            return EINVAL
        self._move(pdev, DOMID_IO, 0)
        return 0

    def test_assign(self, bdf: str) -> int:
        """XEN_DOMCTL_test_assign_device (``device_assigned``): 0 while dom0 or DOMID_IO
        owns the device, -EBUSY once a guest has it."""
        pdev = self.devices.get(bdf)
        if pdev is None:
            return ENODEV
        return 0 if pdev.owner in (0, DOMID_IO) else EBUSY

    def assign(self, d: Domain, bdf: str) -> int:
        """XEN_DOMCTL_assign_device: a device dom0 or quarantine holds moves to *d*
        (libxl only asks for devices pciback holds, see ``pci-assignable-add``)."""
        rc = self.test_assign(bdf)
        if rc:
            self.hyp.log(f"d{d.domid}: assign ({bdf}) failed ({rc})")
            return rc
        pdev = self.devices[bdf]
        self._move(pdev, pdev.owner, d.domid)
        self.assignments += 1
        return 0

    def deassign(self, d: Domain, bdf: str) -> int:
        """XEN_DOMCTL_deassign_device: from *d* back to quarantine."""
        pdev = self.devices.get(bdf)
        if pdev is None:
            return ENODEV
        if pdev.owner != d.domid:
            return EINVAL
        self._move(pdev, d.domid, DOMID_IO)
        return 0

    def release_devices(self, d: Domain) -> None:
        """pci_release_devices: a dying domain's devices go back to quarantine."""
        for pdev in self.owned_by(d.domid):
            if d.domid not in (0, DOMID_IO):
                self._move(pdev, d.domid, DOMID_IO)

    def dump(self) -> str:
        """The 'Q' debug key: ``==== PCI devices ====`` and one line per device."""
        lines = ["==== PCI devices ====", "==== segment 0000 ===="]
        for pdev in self.devices.values():
            owner = "DomIO:0" if pdev.owner == DOMID_IO else f"d{pdev.owner}"
            lines.append(f"{pdev.bdf} - {owner} - node -1 ")
        return "\n".join(lines)

"""libxl's PCI passthrough: assignable devices, ``pci = [...]`` and ``pci-attach/detach``.

Mirrors: tools/libs/light/libxl_pci.c (libxl_device_pci_assignable_add
/ _remove / _list, libxl__device_pci_add, libxl__device_pci_remove_common,
libxl_device_pci_list); the spec strings are :mod:`xensim.toolstack.pcispec`'s.

``pci-assignable-add`` unbinds the device from its dom0 driver, binds it to
pciback and has Xen quarantine it; only then can a guest get it.  A device
given to a guest leaves the assignable list and returns to it when the
guest lets go or dies.  The errors are libxl's lines.

Departures: pciback's state (which devices it holds, their names) lives
here instead of sysfs and ``/libxl/pci`` in xenstore; an HVM guest's
virtual slot is the first free one after qemu's own devices (host bridge,
ISA bridge, VGA, the platform device, then one slot per emulated NIC) when
``@VSLOT`` is not given, a PV guest's slot is 0 (pcifront); no ``seize``,
``permissive`` or ``rdm_policy`` effect (they are parsed and kept).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from xensim.domains.guest.passthrough import PT_IRQ_BASE, PtNicDriver
from xensim.hypervisor.domain import DOMID_IO
from xensim.hypervisor.passthrough import fmt_bdf, parse_bdf
from xensim.toolstack.libxl_error import ERROR_FAIL, ERROR_INVAL, LibxlError, log_error
from xensim.toolstack.pcispec import PciSpec, PciSpecError

if TYPE_CHECKING:
    from xensim.hypervisor.domain import Domain
    from xensim.toolstack.libxl import Libxl

ERROR_NOTFOUND = -23  # libxl_types.idl
FIRST_HVM_SLOT = 4
"""qemu-xen's first free slot: 0 host bridge, 1 PIIX3, 2 VGA, 3 xen-platform."""

@dataclass
class AssignedPci:
    """A device a guest holds: its BDF, its virtual slot and (a NIC) the guest's driver."""

    bdf: str
    vdevfn: int
    driver: PtNicDriver | None = None


class LibxlPci:
    """pciback's devices and the guests' passed-through ones, on one host."""

    def __init__(self, libxl: Libxl) -> None:
        self.libxl = libxl
        self.hyp = libxl.hyp
        self.pciback: dict[str, str | None] = {}
        """BDF -> its name (``-n``), for each device bound to pciback."""
        self.assigned: dict[int, list[AssignedPci]] = {}
        """domid -> the devices it holds, in attach order."""
        self.hyp.teardown_hooks.append(self._release)

    # --- pciback ----------------------------------------------------------------------
    def assignable_add(self, bdf: str, name: str | None = None) -> list[str]:
        """libxl_device_pci_assignable_add; returns warnings, raises LibxlError."""
        if name is not None and (len(name) > 64 or not name.isprintable() or " " in name):
            raise LibxlError(log_error("libxl_pci.c", None, "Names may only include "
                                       "printable characters" if len(name) <= 64
                                       else "Name too long"))
        if bdf not in self.hyp.pci.devices:
            raise LibxlError(log_error("libxl_pci.c", None, f"Couldn't lstat "
                                       f"/sys/bus/pci/devices/{bdf}: No such file or "
                                       "directory"))
        if bdf in self.pciback:
            if name is not None:
                self.pciback[bdf] = name
            return [f"libxl: warning: libxl_pci.c: {bdf} already assigned to pciback"]
        if self.hyp.pci.quarantine(bdf):
            raise LibxlError(log_error("libxl_pci.c", None, f"failed to quarantine {bdf}"))
        self.pciback[bdf] = name
        return []

    def _by_name(self, name: str) -> str | None:
        return next((b for b, n in self.pciback.items() if n == name), None)

    def assignable_remove(self, ident: str) -> None:
        """libxl_device_pci_assignable_remove, by name first, then by BDF (as xl does)."""
        bdf = self._by_name(ident)
        if bdf is None:
            parsed = parse_bdf(ident)
            if parsed is None:
                raise PciSpecError(ident)
            bdf = fmt_bdf(*parsed)
        if self.hyp.pci.dequarantine(bdf):
            raise LibxlError(log_error("libxl_pci.c", None, f"failed to de-quarantine {bdf}"))
        if self.pciback.pop(bdf, "absent") == "absent":
            raise LibxlError("libxl: warning: libxl_pci.c: Not bound to pciback")

    def assignable_list(self) -> list[tuple[str, str | None]]:
        """Devices bound to pciback and held by no guest (libxl skips assigned ones)."""
        pci = self.hyp.pci.devices
        return [(b, n) for b, n in sorted(self.pciback.items())
                if pci[b].owner == DOMID_IO]

    # --- guests --------------------------------------------------------------------------
    def device_add(self, d: Domain, spec: PciSpec) -> AssignedPci:
        """libxl__device_pci_add: resolve a name, check the device is assignable, let Xen
        assign it, give the guest its slot and (a NIC in an HVM guest) its driver."""
        bdf = spec.bdf if spec.bdf is not None else self._by_name(spec.name or "")
        if bdf is None:  # name2bdf found no such name
            raise self._failed(d, spec, [], ERROR_NOTFOUND)
        errors = []
        if d.guest_type == "hvm" and self.hyp.pci.test_assign(bdf):
            errors.append(log_error("libxl_pci.c", d.domid, f"PCI device {bdf} already "
                                    "assigned to a different guest?"))
        if bdf not in dict(self.assignable_list()):
            errors.append(log_error("libxl_pci.c", d.domid, f"PCI device {_short(bdf)} "
                                    "is not assignable"))
            raise self._failed(d, spec, errors, ERROR_FAIL)
        if self.hyp.pci.assign(d, bdf):
            raise self._failed(d, spec, errors + [log_error("libxl_pci.c", d.domid,
                                                            "xc_assign_device failed")],
                               ERROR_FAIL)
        held = self.assigned.setdefault(d.domid, [])
        vdevfn = (spec.vslot or self._free_slot(d, held)) << 3 if d.guest_type == "hvm" else 0
        dev = AssignedPci(bdf, vdevfn)
        dev.driver = self._driver(d, bdf, len(held))
        held.append(dev)
        return dev

    @staticmethod
    def _failed(d: Domain, spec: PciSpec, errors: list[str], rc: int) -> LibxlError:
        """device_pci_add_done's line after the reason's."""
        what = f"'{spec.name}'" if spec.bdf is None else _short(spec.bdf)
        errors.append(log_error("libxl_pci.c", d.domid, "libxl__device_pci_add failed for "
                                f"PCI device {what} (rc {rc})"))
        return LibxlError("\n".join(errors), rc)

    def _free_slot(self, d: Domain, held: list[AssignedPci]) -> int:
        dm = d.info.get("device_model")
        used = {a.vdevfn >> 3 for a in held}
        slot = FIRST_HVM_SLOT + (len(dm.nics) if dm is not None else 0)
        while slot in used:
            slot += 1
        return slot

    def _driver(self, d: Domain, bdf: str, index: int) -> PtNicDriver | None:
        nic = self.libxl.io.pci_nics.get(bdf)
        kernel = d.info.get("kernel")
        if nic is None or kernel is None or d.hvm is None:
            return None  # not a NIC, or a PV guest (see xensim.domains.guest.passthrough)
        return PtNicDriver(kernel, nic, bdf, PT_IRQ_BASE + index)

    def device_remove(self, d: Domain, spec: PciSpec) -> None:
        """libxl__device_pci_remove_common: the device must be attached to *d*."""
        bdf = spec.bdf if spec.bdf is not None else self._by_name(spec.name or "")
        held = self.assigned.get(d.domid, [])
        dev = next((a for a in held if a.bdf == bdf), None)
        if dev is None:
            raise LibxlError(log_error("libxl_pci.c", d.domid,
                                       "PCI device not attached to this domain"), ERROR_INVAL)
        if dev.driver is not None:
            dev.driver.release()
        held.remove(dev)
        self.hyp.pci.deassign(d, dev.bdf)

    def device_list(self, d: Domain) -> list[AssignedPci]:
        return list(self.assigned.get(d.domid, []))

    def _release(self, d: Domain) -> None:
        """The guest dies: its drivers go (Xen puts the devices back in quarantine)."""
        for dev in self.assigned.pop(d.domid, []):
            if dev.driver is not None:
                dev.driver.release()


def _short(bdf: str) -> str:
    """libxl's ``%x:%x:%x.%x`` (``0:3:0.0``), used in its add errors."""
    seg, bus, dev, fn = parse_bdf(bdf)  # type: ignore[misc]
    return f"{seg:x}:{bus:x}:{dev:x}.{fn:x}"

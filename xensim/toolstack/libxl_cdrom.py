"""``xl cd-insert`` / ``xl cd-eject``: change the disc in an HVM guest's emulated CD-ROM.

Mirrors: tools/libs/light/libxl_disk.c (``libxl_cdrom_insert``: HVM only,
not with a stub-domain device model, the vdev must name a cdrom of the
domain; qemu is told over QMP to eject and insert; the backend's ``params``
in xenstore and the stored domain config get the new image, so ``xl list
-l`` and a reboot see it) and tools/xl/xl_cdrom.c (``cd_insert``: the spec
``vdev=V,access=r,devtype=cdrom,target=PATH``; an empty target ejects).
Errors are libxl's lines; xl then exits 1 without a word of its own.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from xensim.domains.dom0.xenstore import XsError
from xensim.domains.pvio.xenbus import backend_path
from xensim.toolstack.libxl_device import disk_dev_number
from xensim.toolstack.libxl_error import ERROR_FAIL, ERROR_INVAL, LibxlError, log_error

if TYPE_CHECKING:
    from xensim.hypervisor.domain import Domain
    from xensim.qemu_dm.atapi import AtapiCdrom
    from xensim.toolstack.libxl import Libxl


def cdrom_insert(libxl: Libxl, d: Domain, vdev: str, target: str | None) -> None:
    """Put *target* in the drive *vdev* (None or "": leave it empty)."""
    if d.guest_type != "hvm":
        raise _err(d, "cdrom-insert requires an HVM domain", ERROR_INVAL)
    if "stubdom" in d.info:
        raise _err(d, "cdrom-insert doesn't work for stub domains", ERROR_INVAL)
    cfg = d.info.get("config")
    disks = list(cfg.disks) if cfg is not None else []
    index = next((i for i, disk in enumerate(disks) if disk.is_cdrom and disk.vdev == vdev),
                 None)
    if index is None:
        raise _err(d, "Virtual device not found", ERROR_FAIL)
    target = target or None
    disks[index] = replace(disks[index], target=target,
                           format=disks[index].format if target else "empty")
    drive = _drive(d, vdev)
    if drive is not None:
        drive.insert(target)  # QMP eject, then blockdev-change-medium
    _write_params(libxl, d, vdev, target)
    d.info["config"] = replace(cfg, disks=tuple(disks))
    libxl.hyp.log(f"Domain {d.domid} ({d.name}): cdrom {vdev} "
                  + (f"now holds {target}" if target else "ejected"))


def guest_ejected(libxl: Libxl, d: Domain, drive: AtapiCdrom) -> None:
    """The guest opened the tray itself: xl's disk-eject watch empties the drive in the
    config too (the LIBXL_EVENT_TYPE_DISK_EJECT case of create_domain's loop)."""
    if libxl.hyp.domains.get(d.domid) is d:
        cdrom_insert(libxl, d, drive.vdev, None)


def _drive(d: Domain, vdev: str) -> AtapiCdrom | None:
    dm = d.info.get("device_model")
    return next((c for c in getattr(dm, "cdroms", []) if c.vdev == vdev), None)


def _write_params(libxl: Libxl, d: Domain, vdev: str, target: str | None) -> None:
    if libxl.io.xsd is None:
        return
    be = backend_path("vbd", d.domid, disk_dev_number(vdev))
    store = libxl.io.store
    try:
        store.read(0, f"{be}/params")
    except XsError:
        return  # no PV backend for this drive (a guest without PV drivers)
    store.write(0, f"{be}/params", target or "")
    libxl.io.xsd.flush()


def _err(d: Domain, msg: str, rc: int) -> LibxlError:
    return LibxlError(log_error("libxl_disk.c", d.domid, msg), rc)

"""``qemu_args``: the few QEMU command-line options a KVM or TCG guest's config may use.

xensim extension (not an xl key).  A class that knows QEMU writes
``qemu_args = "-smp 2 -m 1024 -device virtio-net-pci -device virtio-blk-pci"``
and gets the same domain as the xl keys ``vcpus = 2``, ``memory = 1024``,
``vif = ["model=virtio-net"]`` and ``disk = ["vdev=vda, target=..."]``.
Understood, and nothing else (an unknown option is an error, not ignored):

=================================  ===========================================
option                             meaning in xensim
=================================  ===========================================
``-smp N``                         ``vcpus = N``
``-m MiB`` (also ``1G``, ``512M``)  ``memory``
``-device virtio-net[-pci]``       the next NIC is virtio-net (vhost)
``-device e1000`` / ``rtl8139``    the next NIC is that emulated model
``-device virtio-blk[-pci]``       the next disk is virtio-blk
``-device ide-hd``                 the next disk is an emulated IDE disk
=================================  ===========================================

Everything in ``-device`` after a comma (``,netdev=n0``) is accepted and
ignored, since xensim has one bridge and one disk.
"""

from __future__ import annotations

from dataclasses import dataclass

from xensim.toolstack.cnum import ascii_uint

_MAX_SMP = 4096  # as the vcpus key
_MAX_MIB = 1 << 24

NIC_DEVICES = {"virtio-net": "virtio-net", "virtio-net-pci": "virtio-net",
               "e1000": "e1000", "rtl8139": "rtl8139"}
DISK_DEVICES = {"virtio-blk": "virtio-blk", "virtio-blk-pci": "virtio-blk", "ide-hd": "ide"}


class QemuArgsError(ValueError):
    """An option xensim does not understand, or a bad value."""


@dataclass(frozen=True)
class QemuArgs:
    smp: int | None = None
    memory: int | None = None
    nics: tuple[str, ...] = ()
    """NIC model per vif, in order: virtio-net, e1000 or rtl8139."""
    disks: tuple[str, ...] = ()
    """Bus per disk, in order: virtio-blk or ide."""


def _mib(text: str) -> int:
    units = {"G": 1024, "M": 1, "": 1}
    num, unit = (text[:-1], text[-1].upper()) if text[-1:].isalpha() else (text, "")
    n = ascii_uint(num)
    if unit not in units or n is None or not 1 <= n * units.get(unit, 1) <= _MAX_MIB:
        raise QemuArgsError(f"-m {text}: expected a size in MiB (or with M/G), "
                            f"at most {_MAX_MIB} MiB")
    return n * units[unit]


def parse_qemu_args(text: str) -> QemuArgs:
    words = text.split()
    smp = memory = None
    nics: list[str] = []
    disks: list[str] = []
    i = 0
    while i < len(words):
        opt = words[i]
        if opt not in ("-smp", "-m", "-device"):
            raise QemuArgsError(f"unsupported option {opt!r} (xensim takes -smp, -m, -device)")
        if i + 1 >= len(words):
            raise QemuArgsError(f"{opt} needs a value")
        val = words[i + 1]
        i += 2
        if opt == "-smp":
            n = val.split(",")[0].removeprefix("cpus=")
            cpus = ascii_uint(n)
            if cpus is None or not 1 <= cpus <= _MAX_SMP:
                raise QemuArgsError(f"-smp {val}: expected a number of vCPUs (1..{_MAX_SMP})")
            smp = cpus
        elif opt == "-m":
            memory = _mib(val.split(",")[0].removeprefix("size="))
        else:
            dev = val.split(",")[0]
            if dev in NIC_DEVICES:
                nics.append(NIC_DEVICES[dev])
            elif dev in DISK_DEVICES:
                disks.append(DISK_DEVICES[dev])
            else:
                known = ", ".join([*NIC_DEVICES, *DISK_DEVICES])
                raise QemuArgsError(f"-device {dev}: not modelled (known: {known})")
    return QemuArgs(smp, memory, tuple(nics), tuple(disks))

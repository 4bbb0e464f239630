"""The host kinds ``xensim compare --kinds`` knows: a hypervisor plus xl.cfg keys for the guest.

============  ==========  ==========================================================
kind          host        what the guest is
============  ==========  ==========================================================
xen-pv        Xen         mode ``pv``: netfront/blkfront, no exits
xen-pvh       Xen         mode ``pvh``: PV I/O, HAP paging, no device model
xen-hvm       Xen         mode ``hvm``: emulated devices, qemu-dm in dom0
xen-pvhvm     Xen         mode ``pvhvm``: HVM with PV drivers
kvm           KVM         type hvm, emulated e1000/IDE: exits to QEMU on the vCPU thread
kvm-virtio    KVM         type hvm, virtio-net (vhost-net) and virtio-blk
qemu-tcg      QEMU alone  type hvm, translated, emulated e1000/IDE as function calls
============  ==========  ==========================================================

What each CPU-time column holds, per host kind (``cpu_ns`` in the JSON):

============  ============================  =============================  ================
column        Xen kinds                     kvm, kvm-virtio                qemu-tcg
============  ============================  =============================  ================
guest         the guest's code and kernel   same (native speed)            same, translated
hypervisor    Xen: hypercalls, exits,       KVM in the host kernel: exits, TCG's helpers:
              context switches              ioeventfds, context switches   softmmu, traps
dom0          dom0's kernel and backends    host kernel and tasks other    same
                                            than QEMU: vhost-net, drivers
device_model  qemu-dm (in dom0 or a stub)   QEMU: on the vCPU thread and   same
                                            its I/O thread, virtio-blk
============  ============================  =============================  ================
"""

from __future__ import annotations

from typing import Any, NamedTuple

from xensim.compare.modes import MODES, parse_names

VIRTIO_ARGS = "-device virtio-net-pci -device virtio-blk-pci"


class Kind(NamedTuple):
    hypervisor: str
    keys: dict[str, Any]


KINDS: dict[str, Kind] = {
    **{f"xen-{m}": Kind("xen", MODES[m]) for m in ("pv", "pvh", "hvm", "pvhvm")},
    "kvm": Kind("kvm", {"type": "hvm"}),
    "kvm-virtio": Kind("kvm", {"type": "hvm", "qemu_args": VIRTIO_ARGS}),
    "qemu-tcg": Kind("qemu-tcg", {"type": "hvm"}),
}
DEFAULT_KINDS = tuple(KINDS)


def parse_kinds(text: str) -> list[str]:
    """``kvm,qemu-tcg`` -> ["kvm", "qemu-tcg"]; an unknown name lists the known ones."""
    return parse_names(text, KINDS, "kind")

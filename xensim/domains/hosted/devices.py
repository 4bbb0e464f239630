"""A guest's devices on a kvm or qemu-tcg host: which are emulated, which are virtio.

What xl.cfg means there (the same files run unchanged on every kind):

- each ``vif``'s ``model=``: ``virtio-net`` is virtio with vhost-net;
  ``e1000`` and ``rtl8139`` are emulated by QEMU; no model means QEMU's
  default for a PC, ``e1000``;
- each ``disk``: a ``vdev`` of ``vd*`` (``vda``) is virtio-blk; any other
  (``hda``, ``xvda``) is an emulated IDE disk, as QEMU gives a PC;
- ``qemu_args = "-device virtio-net-pci -device virtio-blk-pci"`` chooses
  the *n*-th NIC or disk the same way (:mod:`xensim.toolstack.qemuargs`),
  also for the devices a workload adds when the config lists none.

Emulated devices are one :class:`~xensim.qemu_dm.process.DeviceModel`
per guest, serving accesses inline on the vCPU thread; their guest
drivers are the same as under Xen HVM.  virtio is modelled with KVM's
ioeventfd and irqfd (:mod:`xensim.domains.hosted.virtio`), so a qemu-tcg guest
takes emulated devices only.  No Xen platform device: nothing to unplug.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from xensim.domains.hosted.virtio import (
    VhostNet,
    VirtioBlkBackend,
    VirtioBlkDriver,
    VirtioNetDriver,
)
from xensim.domains.pvio.netif import NetStack
from xensim.qemu_dm.process import NIC_MODELS, DeviceModel
from xensim.toolstack.qemuargs import parse_qemu_args

if TYPE_CHECKING:
    from xensim.domains.dom0.iosys import IoSystem
    from xensim.domains.guest.kernel import GuestKernel

DEFAULT_NIC = "e1000"
"""QEMU's default NIC for the pc machine types."""
VIRTIO_NET, VIRTIO_BLK, IDE = "virtio-net", "virtio-blk", "ide"


def nic_model(cfg: Any, i: int) -> str:
    vifs = getattr(cfg, "vifs", ())
    model = vifs[i].model if i < len(vifs) else None
    args = parse_qemu_args(getattr(cfg, "qemu_args", None) or "")
    if model is None and i < len(args.nics):
        model = args.nics[i]
    model = model or DEFAULT_NIC
    if model != VIRTIO_NET and model not in NIC_MODELS:
        raise ValueError(f"vif {i}: model={model} is not modelled on a hosted kind "
                         f"(it has {VIRTIO_NET}, {', '.join(NIC_MODELS)})")
    return model


def disk_bus(cfg: Any, i: int) -> str:
    disks = getattr(cfg, "disks", ())
    args = parse_qemu_args(getattr(cfg, "qemu_args", None) or "")
    if i < len(args.disks):
        return args.disks[i]
    if i < len(disks) and disks[i].vdev.startswith("vd"):
        return VIRTIO_BLK
    return IDE


def hosted_devices(io: IoSystem, k: GuestKernel, cfg: Any, nvifs: int, ndisks: int) -> None:
    """Build the guest's devices and give its kernel their drivers (``k.fronts``)."""
    d = k.d
    nics = [nic_model(cfg, i) for i in range(nvifs)]
    buses = [disk_bus(cfg, i) for i in range(ndisks)]
    virtio = nics.count(VIRTIO_NET) + buses.count(VIRTIO_BLK)
    if virtio and io.hyp.kind.name != "kvm":
        raise ValueError(f"{d.name}: virtio devices are modelled with KVM's ioeventfd and "
                         f"vhost; under {io.hyp.kind.name} use e1000/rtl8139 and IDE")
    dm = DeviceModel(io, d, io.svc, nic_models=[m for m in nics if m != VIRTIO_NET],
                     platform_pci=False, disks=buses.count(IDE))
    io.emulated_devices(k, dm)
    index = 0
    for _ in range(nics.count(VIRTIO_NET)):
        k.net = k.net or NetStack(k)
        k.fronts.append(VirtioNetDriver(k, VhostNet(io, d.hvm, index), k.net))
        index += 1
    for _ in range(buses.count(VIRTIO_BLK)):
        k.fronts.append(VirtioBlkDriver(k, VirtioBlkBackend(io, d.hvm, index)))
        index += 1

"""Starting a guest's device model: in dom0, or in a stub domain of its own.

Mirrors libxl_dm.c: libxl__spawn_local_dm starts qemu as a dom0 process;
with ``device_model_stubdomain_override = 1`` libxl__spawn_stub_dm builds
a small PV domain named ``<guest>-dm`` that runs qemu instead, with
privilege over its target only, so the emulation's CPU time is scheduled
(and weighted, capped, accounted) as that domain's rather than dom0's.
Destroying the stub domain kills the device model, which crashes the
guest as it would on a real host.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from xensim.domains.dom0.services import Dom0Services
from xensim.domains.guest.guest_vcpu import GuestVcpu
from xensim.domains.guest.kernel import GuestKernel
from xensim.qemu_dm.process import NIC_MODELS, DeviceModel

if TYPE_CHECKING:
    from xensim.domains.dom0.iosys import IoSystem
    from xensim.hypervisor.domain import Domain

DEFAULT_NIC_MODEL = "rtl8139"
"""libxl's default ``model=`` for an emulated NIC (docs/misc/xl-network-configuration)."""
STUBDOM_MEMORY_MIB = {"qemu-xen": 128, "qemu-xen-traditional": 32}


def nic_models(vifs: list[Any]) -> list[str]:
    """The emulated model of each vif; a model xensim does not emulate is an error."""
    models = []
    for i, vif in enumerate(vifs):
        model = vif.model or DEFAULT_NIC_MODEL
        if model not in NIC_MODELS:
            raise ValueError(f"vif {i}: model={model} is not emulated by xensim's device "
                             f"model (it has {', '.join(NIC_MODELS)})")
        models.append(model)
    return models


def spawn_device_model(io: IoSystem, d: Domain, cfg: Any, vifs: list[Any],
                       ndisks: int) -> DeviceModel:
    """qemu for *d* with an emulated NIC per vif and an IDE disk if it has disks;
    ValueError if a vif asks for a NIC model xensim does not emulate."""
    version = getattr(cfg, "device_model_version", "qemu-xen")
    models = nic_models(vifs)
    svc = io.svc
    if getattr(cfg, "device_model_stubdomain_override", False):
        svc = _stub_domain(io, d, version)
    cdroms = [(disk.vdev, disk.target) for disk in getattr(cfg, "disks", ()) if disk.is_cdrom]
    dm = DeviceModel(io, d, svc, version=version, nic_models=models,
                     platform_pci=getattr(cfg, "xen_platform_pci", True), disks=ndisks,
                     cdroms=cdroms)
    dm.bridge = io.bridge_named(vifs[0].bridge if vifs else None)
    where = f"stub domain {svc.dom0.domid}" if svc is not io.svc else "dom0"
    io.hyp.log(f"device model {version} for domain {d.domid} started in {where}")
    return dm


def _stub_domain(io: IoSystem, d: Domain, version: str) -> Dom0Services:
    hyp = io.hyp
    stub = hyp.create_domain(f"{d.name}-dm", 1, STUBDOM_MEMORY_MIB[version] * 1024,
                             pool=d.pool)
    stub.info["dm_of"] = d
    stub.info["workload"] = "device-model"
    k = GuestKernel(hyp, stub)
    svc = Dom0Services(hyp, stub, k)
    guest = GuestVcpu(hyp, stub.vcpus[0], svc.program)
    k.attach(guest)
    guest.boot()
    hyp.core.domain_unpause(stub)
    d.info["stubdom"] = stub
    return svc

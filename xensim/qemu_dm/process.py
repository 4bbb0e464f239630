"""One device-model process: the ioreq server of one HVM guest.

Mirrors qemu-xen's xen-hvm.c main loop as libxl spawns it
(libxl__spawn_local_dm, or libxl__spawn_stub_dm for a stub domain).  At
start it creates an ioreq server for its guest, claims its devices' port
and MMIO ranges and binds the per-vCPU notification.  Each ioreq Xen
forwards becomes a work item on the host domain's vCPU that runs qemu
(time kind ``qemu``): ``qemu_ioreq`` for the round trip, plus the device's
own work; the answer is written back and Xen notified when that work is
done, so the guest vCPU waits for qemu to be *scheduled* as well as to
compute.  Buffered writes are drained in one item.

Disk and network I/O of emulated devices go through the host's physical
devices from qemu (AIO on the image, the tap device on the bridge), and
their completions are again qemu work.  Interrupts are raised with a dm_op
hypercall (charged as one hypercall).

On a hosted kind (KVM, QEMU's TCG) there is no ioreq round trip: the
access is handed to :meth:`DeviceModel.serve_inline` on the vCPU's own
thread (after KVM's user exit, or straight from TCG's softmmu), which
prices QEMU's dispatch (``qemu_mmio_dispatch``) plus the device's work as
kind ``qemu`` on that vCPU; disk completions and tap receive still run on
the host's vCPUs (QEMU's I/O thread).  The ioreq server is then only the
map of which addresses QEMU's devices claim.

If the process stops (``xl destroy`` of the guest, or its crash through
:meth:`crash`), the ioreq server goes and the guest is crashed, honouring
its ``on_crash`` action, as libxl does when qemu dies.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from xensim.domains.dom0.physdev import DiskRequest, Packet
from xensim.hypervisor.console_io import console_append
from xensim.hypervisor.domain import ShutdownReason
from xensim.hypervisor.hvm.ioreq import Ioreq, IoreqServer
from xensim.hypervisor.kvm.vm import KvmVm
from xensim.qemu_dm.atapi import AtapiCdrom
from xensim.qemu_dm.device import EmulatedDevice, Range
from xensim.qemu_dm.e1000 import E1000
from xensim.qemu_dm.ide import IdeDisk
from xensim.qemu_dm.rtl8139 import Rtl8139
from xensim.qemu_dm.uart import Uart16550
from xensim.qemu_dm.vga import Vga
from xensim.qemu_dm.xen_platform import XenPlatform

if TYPE_CHECKING:
    from xensim.domains.dom0.iosys import IoSystem
    from xensim.domains.dom0.services import Dom0Services
    from xensim.hypervisor.domain import Domain
    from xensim.hypervisor.hvm.domain import Then
    from xensim.hypervisor.vcpu import VCPU

DM_VERSIONS = ("qemu-xen", "qemu-xen-traditional")
NIC_MODELS: dict[str, type[E1000] | type[Rtl8139]] = {"e1000": E1000, "rtl8139": Rtl8139}
Completion = Callable[[], "tuple[int, Any]"]


class DeviceModel:
    """qemu for one guest, running on *svc*'s domain (dom0 or a stub domain)."""

    def __init__(self, io: IoSystem, guest: Domain, svc: Dom0Services, *,
                 version: str = "qemu-xen", nic_models: list[str] | None = None,
                 platform_pci: bool = True, disks: int = 1,
                 cdroms: list[tuple[str, str | None]] | None = None) -> None:
        if version not in DM_VERSIONS:
            raise ValueError(f"device_model_version must be one of {DM_VERSIONS}")
        if guest.hvm is None:
            raise ValueError(f"{guest.name} is not an HVM guest")
        self.io = io
        self.hyp = io.hyp
        self.costs = io.hyp.costs
        self.guest = guest
        self.svc = svc
        self.version = version
        self.vid = guest.domid % svc.nr_vcpus
        """The host vCPU qemu's main loop runs on."""
        self.alive = True
        self.platform_pci = platform_pci
        self.bridge = io.bridge
        """The bridge its tap device is on (the first vif's; spawn sets it)."""
        self.ioreqs = 0
        self.hypercalls = 0
        self.devices: list[EmulatedDevice] = [Uart16550(self), Vga(self)]
        if platform_pci:
            self.devices.append(XenPlatform(self))
        self.disks = [IdeDisk(self) for _ in range(min(disks, 1))]
        self.cdroms = [AtapiCdrom(self, vdev, media) for vdev, media in (cdroms or [])[:1]]
        """The CD-ROM drive (secondary master): the config's first cdrom disk."""
        self.nics: list[E1000 | Rtl8139] = [
            NIC_MODELS[m](self, i) for i, m in enumerate(nic_models or [])]
        self.devices += self.disks + self.cdroms + self.nics
        self.server: IoreqServer = guest.hvm.create_server(svc.dom0, self._on_ioreq,
                                                           self._on_buffered)
        self._claims: list[tuple[Range, EmulatedDevice]] = []
        """Each mapped range and its device: the lookup of every access."""
        for dev in self.devices:
            self._map(dev)
        self._dma_4k = self.costs["qemu_dma_4k"]
        self._hc = self.costs["hypercall"]
        self._dispatch_ns = self.costs["qemu_mmio_dispatch"]
        self.inline = io.hyp.kind.hosted
        """Accesses are served on the vCPU's thread (KVM, TCG), not as ioreqs (Xen)."""
        if isinstance(guest.hvm, KvmVm):
            guest.hvm.vmm = self
        self._disk_ns = self.costs["qemu_disk_request"]
        self._owed = 0
        """ns of dm_op hypercalls made and not yet charged to a work item."""
        self._in_item = False
        guest.info["device_model"] = self

    def _map(self, dev: EmulatedDevice) -> None:
        for r in dev.ranges():
            self.server.map_range(r.space, r.first, r.last, r.buffered)
            self._claims.append((r, dev))

    def device(self, name: str) -> EmulatedDevice | None:
        return next((d for d in self.devices if d.name == name), None)

    # --- the ioreq loop ------------------------------------------------------------------
    def _find(self, req: Ioreq) -> EmulatedDevice | None:
        for r, dev in self._claims:
            if r.space == req.type and r.first <= req.addr <= r.last:
                return dev
        return None

    def _on_ioreq(self, srv: IoreqServer, req: Ioreq) -> None:
        self.post(lambda: self._serve(req))

    def _access(self, req: Ioreq) -> tuple[int, int, Callable[[], None] | None]:
        """One access to whichever device claims it (unclaimed: reads all ones)."""
        self.ioreqs += 1
        dev = self._find(req)
        return dev.access(req) if dev is not None else ((1 << 8 * req.size) - 1, 0, None)

    def serve_inline(self, v: VCPU, req: Ioreq, then: Then) -> None:
        """Hosted kinds: emulate on vCPU *v*'s own thread, then let it go on."""
        value, ns, effect = self._access(req)

        def answer() -> None:
            if effect is not None and self.alive:
                effect()
            then(0 if req.is_write else value & ((1 << 8 * req.size) - 1))

        self.hyp.core.set_work(v, self._dispatch_ns + ns, answer, "qemu")

    @property
    def notifications(self) -> int:
        """Event-channel sends on behalf of emulation (Xen's ioreq path only)."""
        return 0 if self.inline else self.server.sent + self.ioreqs

    def _serve(self, req: Ioreq) -> tuple[int, Callable[[], None]]:
        value, ns, effect = self._access(req)

        def answer() -> None:
            if not self.alive:
                return
            if effect is not None:
                effect()
            self.guest.hvm.complete(self.server, req.vcpu_id, value)

        return self.costs["qemu_ioreq"] + ns, answer

    def _on_buffered(self, srv: IoreqServer) -> None:
        self.post(self._drain_buffered)

    def _drain_buffered(self) -> tuple[int, Callable[[], None] | None]:
        ns, effects = self.costs["qemu_ioreq"], []
        while self.server.buffered:
            _, dns, effect = self._access(self.server.buffered.popleft())
            ns += dns
            if effect is not None:
                effects.append(effect)
        if not effects:
            return ns, None

        def apply() -> None:
            for effect in effects:
                effect()

        return ns, apply

    def post(self, item: Completion) -> None:
        """Queue qemu work on its host vCPU (dropped once the process is gone)."""
        if self.alive:
            self.svc.post(self.vid, lambda: self._start(item), "qemu")

    def _start(self, item: Completion) -> tuple[int, Any]:
        """Start *item*, adding the price of the dm_op hypercalls qemu made since the
        last item started: they are qemu's thread's time, as its emulation is."""
        if not self.alive:
            return 0, None
        self._in_item = True
        try:
            ns, finish = item()
        finally:
            self._in_item = False
        owed, self._owed = self._owed, 0
        return ns + owed, finish

    # --- what devices reach through the device model --------------------------------------
    def dma_ns(self, nbytes: int) -> int:
        return -(-nbytes * self._dma_4k // 4096)

    def set_irq_level(self, irq: int, level: int) -> None:
        """dm_op set_isa_irq_level: a hypercall from qemu, then Xen routes it (on KVM the
        KVM_IRQ_LINE ioctl; under TCG a function call into the emulated IOAPIC).

        Under Xen it is counted for the emulator's domain and charged on qemu's vCPU:
        with the item being started, or, when an item's effect raised it after the
        item's work, as a work item of its own."""
        if not self.inline:
            self.hypercalls += 1
            counts = self.svc.dom0.hypercall_counts
            counts["dm_op"] = counts.get("dm_op", 0) + 1
            self._owed += self._hc
            if not self._in_item:
                self.post(lambda: (0, None))
        self.guest.hvm.set_irq_level(irq, level)

    def disk_read(self, lba: int, nbytes: int, done: Completion) -> None:
        """AIO on the disk image: submit now, complete as qemu work after the disk.

        The completion includes qemu's block layer (``qemu_disk_request``), which
        was in the cost table but never charged."""
        disk = self.io.disk

        def complete() -> tuple[int, Any]:
            ns, finish = done()
            return ns + self._disk_ns, finish

        disk.submit(DiskRequest(lba, nbytes, lambda: self.post(complete)))

    def tap_send(self, pkt: Packet) -> None:
        self.bridge.forward(pkt)

    def tap_receive(self, pkt: Packet) -> None:
        """A packet for the guest arrived on the tap device."""
        if self.nics:
            nic = self.nics[0]
            self.post(lambda: nic.receive(pkt))

    def console_write(self, line: str) -> None:
        console_append(self.hyp, self.guest.domid, line + "\n")

    def unplug(self, kinds: list[str]) -> list[str]:
        """The platform device asked to remove emulated disks/NICs: unmap them."""
        gone = [d for d in self.devices if d.name in kinds]
        for dev in gone:
            dev.unplug()
            self.devices.remove(dev)
        self.server.ports.clear()
        self.server.mmio.clear()
        self._claims.clear()
        for dev in self.devices:
            self._map(dev)
        self.disks = [d for d in self.disks if d in self.devices]
        self.nics = [n for n in self.nics if n in self.devices]
        return [d.name for d in gone]

    # --- the end ---------------------------------------------------------------------------
    def stop(self) -> None:
        """The process exits: the ioreq server is destroyed."""
        if self.alive:
            self.alive = False
            self.guest.hvm.destroy_server(self.server)

    def crash(self) -> None:
        """qemu died under a live guest: libxl crashes the guest (``on_crash``)."""
        if not self.alive:
            return
        self.stop()
        self.hyp.log(f"device model for domain {self.guest.domid} died")
        if not self.guest.is_dying and not self.guest.is_shutdown:
            self.hyp.domain_shutdown(self.guest, ShutdownReason.CRASH)

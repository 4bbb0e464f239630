"""One KVM virtual machine: in-kernel exits, ioeventfds, and exits to the VMM.

Mirrors: virt/kvm/eventfd.c (KVM_IOEVENTFD: a guest write to a registered
address signals an eventfd from the exit handler, without leaving the
kernel; KVM_IRQFD: a signalled eventfd injects an interrupt) and
arch/x86/kvm/x86.c (kvm_arch_vcpu_ioctl_run: an exit KVM cannot finish
fills ``kvm_run`` with KVM_EXIT_IO / KVM_EXIT_MMIO and returns to user
space; the VMM emulates and calls KVM_RUN again).

The path of one trapping access, as :meth:`KvmVm.emulate` runs it on the
vCPU (a host thread) that made it:

1. the exit and KVM's decode (``vmexit`` + ``hvm_io_decode``, kind
   ``vmexit``, counted by reason), as under Xen;
2. a write to an ioeventfd address signals it (``kvm_ioeventfd``) and the
   guest goes on: this is how virtio kicks its vhost worker;
3. a device KVM emulates in the kernel (LAPIC EOI, PIT) answers at once;
4. anything else returns to the VMM (``kvm_user_exit``), whose
   :meth:`~xensim.qemu_dm.process.DeviceModel.serve_inline` does the
   device's work on this same vCPU as kind ``qemu``, then re-enters.

Simplified: the RTC, which real KVM leaves to QEMU, is answered in the
kernel with the PIT (Xen's device set is reused as is).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from xensim.hypervisor.hvm.domain import HvmDomain, Then
from xensim.hypervisor.hvm.exits import ExitReason, count_exit
from xensim.hypervisor.hvm.ioreq import IOREQ_TYPE_PIO, Ioreq

if TYPE_CHECKING:
    from xensim.hypervisor.domain import Domain
    from xensim.hypervisor.hypervisor import Hypervisor
    from xensim.hypervisor.vcpu import VCPU


class Vmm(Protocol):
    """The user-space side of KVM_RUN (QEMU)."""

    def serve_inline(self, v: VCPU, req: Ioreq, then: Then) -> None: ...


class KvmVm(HvmDomain):
    """KVM's per-VM state (``struct kvm``), shaped like Xen's HVM domain."""

    def __init__(self, hyp: Hypervisor, d: Domain, paging: str = "hap") -> None:
        super().__init__(hyp, d, paging)
        self.ioeventfds: dict[int, Callable[[int], None]] = {}
        """MMIO address -> the eventfd's waiter (called with the value written)."""
        self.vmm: Vmm | None = None
        self.user_exits = 0
        c = hyp.costs
        self._ioeventfd_ns = c["kvm_ioeventfd"]
        self._user_ns = c["kvm_user_exit"]

    def ioeventfd(self, addr: int, signal: Callable[[int], None]) -> None:
        """KVM_IOEVENTFD: writes to *addr* signal *signal* from the kernel."""
        self.ioeventfds[addr] = signal

    def irqfd(self, irq: int) -> Callable[[], None]:
        """KVM_IRQFD: an eventfd whose signal injects *irq* (an MSI) into vCPU 0."""
        return lambda: self.inject(0, irq)

    def emulate(self, v: VCPU, req: Ioreq, then: Then) -> None:
        core = self.hyp.core
        signal = self.ioeventfds.get(req.addr) if req.is_write else None
        if signal is not None:
            count_exit(self.d, ExitReason.EPT_MISCONFIG)
            data = req.data

            def kicked() -> None:
                signal(data)
                then(0)

            core.set_work(v, self._exit_ns + self._ioeventfd_ns, kicked, "vmexit")
            return
        vmm = self.vmm
        in_kernel = any(dev.space == req.type and dev.first <= req.addr <= dev.last
                        for dev in self.devices)
        if in_kernel or vmm is None:
            super().emulate(v, req, then)  # in-kernel device, or no VMM: all ones
            return
        count_exit(self.d, ExitReason.IO_INSTRUCTION if req.type == IOREQ_TYPE_PIO
                   else ExitReason.EPT_VIOLATION)
        req.vcpu_id = v.vcpu_id
        self.user_exits += 1
        core.set_work(v, self._exit_ns + self._user_ns,
                      lambda: vmm.serve_inline(v, req, then), "vmexit")

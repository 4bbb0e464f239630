"""Platforms of the hosted kinds: the host Linux's own tasks, and guests under QEMU's TCG.

On a ``kvm`` or ``qemu-tcg`` host there is no hypervisor below the host
OS, so domain 0 (the host kernel and its tasks) is not a PV guest: it
sleeps with a system call (a futex or ``epoll_wait``) rather than
``SCHEDOP_block``, and makes no hypercalls.  :class:`NativePlatform` prices
its actions that way.  A KVM guest needs no platform of its own: its
exits are the hardware's, priced as Xen's HVM (:class:`HvmPlatform` with
the ``kvm`` name); only where they are *handled* differs
(:mod:`xensim.hypervisor.kvm`).

:class:`TcgPlatform` is QEMU without hardware assistance.  Every guest
instruction is translated, so guest and guest-kernel compute cost
``tcg_slowdown_permille`` times native, times a factor for the guest
architecture on this host (``tcg_arch_<arch>_permille``); code run for the
first time pays ``tcg_translate_permille`` instead, for the first
``tcg_cold_code_ns`` of each kind per domain (the translation cache
warming up).  Privileged work leaves the translated block for helpers
(system calls, the softmmu's TLB fills and flushes, page faults), which
is the CPU emulator's own time (kind ``hypervisor``).  Devices are
function calls inside the same QEMU process: no exits at all, but each
register access pays QEMU's dispatch and the device's work on the vCPU
thread (kind ``qemu``).

========================  ==================================================
guest action (TCG)        price
========================  ==================================================
compute                   native x slowdown x arch (cold code: translate)
system call               native (translated) + ``tcg_syscall``
page-table write          native (translated) + ``tcg_tlb_flush_page``
page fault                native (translated) + ``tcg_page_fault``
TLB miss                  ``tcg_tlb_fill`` (the softmmu's C page walk)
device register           ``qemu_mmio_dispatch`` + the device's work
idle / sleep              a futex wait in QEMU's vCPU thread
========================  ==================================================
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from xensim.domains.guest.guest_vcpu import GUEST_OPS, Action, Compute, GuestOp, IoAccess
from xensim.domains.guest.platform import HvmPlatform, Platform
from xensim.hypervisor.hvm.ioreq import IOREQ_READ, IOREQ_WRITE, Ioreq

if TYPE_CHECKING:
    from xensim.domains.guest.guest_vcpu import GuestVcpu
    from xensim.hypervisor.domain import Domain
    from xensim.hypervisor.hypervisor import Hypervisor

TRANSLATED = ("guest", "kernel")
"""Work kinds that are guest code, so TCG runs them translated."""


class NativePlatform(Platform):
    """The host Linux's kernel and tasks: native operations, sleeping without Xen."""

    name = "native"

    def expand(self, g: GuestVcpu, action: GuestOp) -> Iterator[Action]:
        c, n, op = self.costs, action.n, action.op
        if n <= 0:
            return
        if op not in GUEST_OPS:
            raise TypeError(f"unknown guest operation {op!r}; known: {', '.join(GUEST_OPS)}")
        native = {"syscall": c["native_syscall"], "pte_write": c["native_pte_write"],
                  "page_fault": c["native_page_fault"], "tlb_miss": c["tlb_miss"],
                  "cpuid": c["hvm_cpuid_msr"]}
        yield Compute(n * native[op], "guest" if op == "tlb_miss" else "kernel")

    def sleep(self, g: GuestVcpu, until: int) -> None:
        """A timed wait (``hrtimer`` plus ``schedule()``): one kernel entry, no hypercall."""
        self.halt(g, self.costs["native_syscall"], "kernel", until)

    def block(self, g: GuestVcpu) -> None:
        self.halt(g, self.costs["native_syscall"], "kernel")

    def interrupt_ns(self, g: GuestVcpu) -> int:
        """A wake-up of a host task (eventfd, IPI, device IRQ): about one kernel entry."""
        return self.costs["native_syscall"]  # type: ignore[no-any-return]


class TcgPlatform(NativePlatform):
    """A guest of QEMU's TCG: translated code, softmmu, devices as function calls."""

    name = "qemu-tcg"

    def __init__(self, hyp: Hypervisor, d: Domain, arch: str) -> None:
        super().__init__(hyp, d)
        c = self.costs
        self.arch = arch
        self.factor = c["tcg_slowdown_permille"] * c[f"tcg_arch_{arch}_permille"] // 1000
        """Per mille of native that translated guest code costs."""
        self.cold = dict.fromkeys(TRANSLATED, c["tcg_cold_code_ns"])
        """Native ns of each kind of code still to be translated on first use."""

    def compute_ns(self, ns: int, kind: str) -> int:
        """What *ns* of native *kind* work costs under TCG."""
        if kind not in TRANSLATED:
            return ns
        cold = min(ns, self.cold[kind])
        if cold:
            self.cold[kind] -= cold
        return (cold * self.costs["tcg_translate_permille"] + (ns - cold) * self.factor) // 1000

    def expand(self, g: GuestVcpu, action: GuestOp) -> Iterator[Action]:
        c, n, op = self.costs, action.n, action.op
        if op == "tlb_miss" and n > 0:
            yield Compute(n * c["tcg_tlb_fill"], "hypervisor")
            return
        yield from super().expand(g, action)
        helper = {"syscall": "tcg_syscall", "pte_write": "tcg_tlb_flush_page",
                  "page_fault": "tcg_page_fault"}.get(op)
        if helper is not None and n > 0:
            yield Compute(n * c[helper], "hypervisor")

    def io(self, g: GuestVcpu, acc: IoAccess, then: Callable[[int], None]) -> None:
        """A device access is a call into QEMU's device code on this vCPU thread."""
        dm = self.d.info.get("device_model")
        if dm is None:
            super().io(g, acc, then)
            return
        req = Ioreq(acc.space, acc.addr, acc.size, IOREQ_WRITE if acc.write else IOREQ_READ,
                    acc.value, g.vcpu.vcpu_id)
        dm.serve_inline(g.vcpu, req, then)

    def interrupt_ns(self, g: GuestVcpu) -> int:
        """The vCPU leaves its translated block at the next boundary and takes the
        exception: the price of a helper round trip."""
        return self.costs["tcg_syscall"]  # type: ignore[no-any-return]

    def eoi_ns(self) -> int:
        """The EOI is a write to QEMU's emulated LAPIC: dispatch, no exit."""
        return self.costs["qemu_mmio_dispatch"]  # type: ignore[no-any-return]


def hosted_platform(hyp: Hypervisor, d: Domain, arch: str) -> Platform:
    """The platform of domain *d* on a kvm or qemu-tcg host."""
    if d.is_privileged:
        return NativePlatform(hyp, d)
    if hyp.kind.name == "qemu-tcg":
        return TcgPlatform(hyp, d, arch)
    return HvmPlatform(hyp, d, "kvm")

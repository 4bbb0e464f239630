"""Virtualisation modes: what the same guest action costs under PV, PVH and HVM.

A workload says what it does in guest-visible terms (:class:`GuestOp`:
system calls, page-table writes, page faults, TLB misses, CPUID; and
:class:`IoAccess` for a driver touching a device register).  The domain's
:class:`Platform` turns each into the work and the hypervisor entries a
real guest of that mode pays, so one workload runs unchanged under every
mode and the differences between modes *emerge*:

=================  ==========================  =============================
action             PV (64-bit)                 HVM / PVH container
=================  ==========================  =============================
system call        bounces through Xen         native
page-table write   ``mmu_update``, batched     HAP: native store;
                   (a hypercall per 32)        shadow: a trapping write each
page fault         bounces through Xen         HAP: native; shadow: an exit
TLB miss           1-D walk                    HAP: 2-D walk; shadow: 1-D
CPUID              trapped (forced emulation)  CPUID exit
idle / sleep       set_timer_op + SCHEDOP_     WRMSR (TSC deadline) and HLT
                   block hypercalls            exits
interrupt entry    event upcall                injection at VM entry, plus
                                               a LAPIC EOI exit for emulated
                                               devices
device register    not possible (#GP)          I/O or EPT-violation exit,
                                               emulated by Xen or qemu
=================  ==========================  =============================

Mirrors the mechanisms of arch/x86/pv/ (syscall bounce, do_mmu_update,
emulate_privileged_op) and arch/x86/hvm/ (vmx_vmexit_handler, hvm_hlt,
sh_page_fault).  Prices come from the cost table; counts go to
``Domain.vmexit_counts`` and ``Domain.hypercall_counts``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from xensim.domains.guest.guest_vcpu import GUEST_OPS, Action, Compute, GuestOp, Hypercall, IoAccess
from xensim.hypervisor.hvm.exits import ExitReason, count_exit
from xensim.hypervisor.hvm.ioreq import IOREQ_READ, IOREQ_WRITE, Ioreq
from xensim.hypervisor.hypercall import HC
from xensim.hypervisor.mmu_op import MMU
from xensim.hypervisor.sched_op import SCHEDOP, do_set_timer_op

if TYPE_CHECKING:
    from xensim.domains.guest.guest_vcpu import GuestVcpu
    from xensim.hypervisor.domain import Domain
    from xensim.hypervisor.hypervisor import Hypervisor

PV_MMU_BATCH = 32
"""PTE writes per mmu_update: Linux's lazy-MMU multicall batch (MC_BATCH)."""


class Platform:
    """One domain's virtualisation mode (shared by its vCPUs)."""

    name = "pv"
    hvm = False
    paging = "pv"
    compute_ns: Callable[[int, str], int] | None = None
    """What *ns* of native work of a kind really costs, when not *ns* (TCG translates)."""

    def __init__(self, hyp: Hypervisor, d: Domain) -> None:
        self.hyp = hyp
        self.d = d
        self.costs = hyp.costs

    def expand(self, g: GuestVcpu, action: GuestOp) -> Iterator[Action]:
        """The primitive actions one :class:`GuestOp` is made of under this mode."""
        c, n, op = self.costs, action.n, action.op
        if n <= 0:
            return
        if op == "syscall":
            yield Compute(n * c["native_syscall"], "kernel")
            yield Compute(n * c["pv_syscall_bounce"], "hypervisor")
        elif op == "pte_write":
            while n > 0:
                batch = min(n, PV_MMU_BATCH)
                n -= batch
                reqs = [(0x1000 * i | MMU.NORMAL_PT_UPDATE, 0x1000 * i | 0x67)
                        for i in range(batch)]
                yield Hypercall(HC.mmu_update, (reqs, batch))
        elif op == "page_fault":
            yield Compute(n * c["native_page_fault"], "kernel")
            yield Compute(n * c["pv_fault_bounce"], "hypervisor")
        elif op == "tlb_miss":
            yield Compute(n * c["tlb_miss"], "guest")
        elif op == "cpuid":
            yield Compute(n * (c["hypercall"] + c["hvm_cpuid_msr"]), "hypervisor")
        else:
            raise TypeError(f"unknown guest operation {op!r}; known: {', '.join(GUEST_OPS)}")

    def io(self, g: GuestVcpu, acc: IoAccess, then: Callable[[int], None]) -> None:
        """A PV guest has no emulated devices: the access faults and Xen refuses it."""
        self.d.denied += 1
        value = 0 if acc.write else (1 << 8 * acc.size) - 1
        g.core.set_work(g.vcpu, self.costs["hypercall"], lambda: then(value), "hypervisor")

    def sleep(self, g: GuestVcpu, until: int) -> None:
        """``set_timer_op(until)`` then ``SCHEDOP_block``, as Linux's idle loop does.

        Both hypercalls' costs are spent as one piece of work and the two
        calls made at its end (NOTE: one SimPy event instead of two, for
        speed; the timer is armed one hypercall cost later than in Xen).
        """
        v, hyp = g.vcpu, self.hyp

        def both() -> None:
            hyp.hypercall(v, HC.set_timer_op, until)
            g._after_block(hyp.hypercall(v, HC.sched_op, SCHEDOP.block))

        g.core.set_work(v, 2 * self.costs["hypercall"], both, "hypervisor")

    def block(self, g: GuestVcpu) -> None:
        g.hypercall(HC.sched_op, (SCHEDOP.block,), g._after_block)

    def halt(self, g: GuestVcpu, ns: int, kind: str, until: int | None = None,
             exits: tuple[ExitReason, ...] = ()) -> None:
        """Go idle without a hypercall: spend *ns* of *kind* on the way in, then count
        *exits*, arm the vCPU's timer for *until* (if given) and block, as Xen's
        ``hvm_hlt`` or a host kernel's ``schedule()`` does."""
        v, hyp, d = g.vcpu, self.hyp, self.d

        def halt() -> None:
            for reason in exits:
                count_exit(d, reason)
            if until is not None:
                do_set_timer_op(hyp, v, until)
            hyp.core.vcpu_block(v)
            g._after_block()

        g.core.set_work(v, ns, halt, kind)

    def interrupt_ns(self, g: GuestVcpu) -> int:
        """Price of entering the guest's interrupt handler (before its own work)."""
        return self.costs["upcall"]  # type: ignore[no-any-return]


class HvmPlatform(Platform):
    """HVM and PVH: hardware-assisted, so the guest owns its privileged state."""

    hvm = True

    def __init__(self, hyp: Hypervisor, d: Domain, name: str) -> None:
        super().__init__(hyp, d)
        self.name = name
        self.paging = d.hvm.paging
        c = self.costs
        self._exit = c["vmexit"]
        self._eoi_ns = c["vmexit"] + c["hvm_internal_device"]

    def expand(self, g: GuestVcpu, action: GuestOp) -> Iterator[Action]:
        c, n, op, d = self.costs, action.n, action.op, self.d
        if n <= 0:
            return
        shadow = self.paging == "shadow"
        if op == "syscall":
            yield Compute(n * c["native_syscall"], "kernel")
        elif op == "pte_write":
            yield Compute(n * c["native_pte_write"], "kernel")
            if shadow:  # guest page tables are write-protected: each write traps
                count_exit(d, ExitReason.EXCEPTION_NMI, n)
                yield Compute(n * (self._exit + c["shadow_pte_write"]), "vmexit")
        elif op == "page_fault":
            yield Compute(n * c["native_page_fault"], "kernel")
            if shadow:
                count_exit(d, ExitReason.EXCEPTION_NMI, n)
                yield Compute(n * (self._exit + c["shadow_page_fault"]), "vmexit")
        elif op == "tlb_miss":
            yield Compute(n * c["tlb_miss" if shadow else "tlb_miss_hap"], "guest")
        elif op == "cpuid":
            count_exit(d, ExitReason.CPUID, n)
            yield Compute(n * (self._exit + c["hvm_cpuid_msr"]), "vmexit")
        else:
            raise TypeError(f"unknown guest operation {op!r}; known: {', '.join(GUEST_OPS)}")

    def io(self, g: GuestVcpu, acc: IoAccess, then: Callable[[int], None]) -> None:
        req = Ioreq(acc.space, acc.addr, acc.size, IOREQ_WRITE if acc.write else IOREQ_READ,
                    acc.value)
        self.d.hvm.emulate(g.vcpu, req, then)

    def sleep(self, g: GuestVcpu, until: int) -> None:
        """Program the LAPIC timer (a WRMSR to TSC_DEADLINE exit), then HLT (an exit)."""
        self.halt(g, 2 * self._exit + self.costs["hvm_cpuid_msr"], "vmexit", until,
                  (ExitReason.MSR_WRITE, ExitReason.HLT))

    def block(self, g: GuestVcpu) -> None:
        self.halt(g, self._exit, "vmexit", exits=(ExitReason.HLT,))

    def interrupt_ns(self, g: GuestVcpu) -> int:
        return self.costs["hvm_irq_inject"]  # type: ignore[no-any-return]

    def eoi_ns(self) -> int:
        """An emulated device's interrupt ends with a LAPIC EOI write: an exit Xen handles."""
        count_exit(self.d, ExitReason.APIC_ACCESS)
        return self._eoi_ns  # type: ignore[no-any-return]


def mode_of(cfg: Any) -> str:
    """The mode name of a domain config: pv, pvh, hvm, pvhvm, each -shadow without HAP."""
    if cfg.type == "pv":
        return "pv"
    name = "pvh" if cfg.type == "pvh" else "pvhvm" if cfg.xen_platform_pci else "hvm"
    return name if cfg.hap else f"{name}-shadow"


def platform_for(hyp: Hypervisor, d: Domain, mode: str) -> Platform:
    """The platform of a domain whose ``guest_type`` is pv, pvh or hvm."""
    return Platform(hyp, d) if d.hvm is None else HvmPlatform(hyp, d, mode)

"""VM exit reasons, and counting them per domain.

Mirrors: xen/arch/x86/include/asm/hvm/vmx/vmx.h (EXIT_REASON_*: the basic
exit reasons of Intel's SDM, appendix C).  Only the reasons xensim's guests
can cause are listed.  Each exit is counted in ``Domain.vmexit_counts`` by
name (what ``xensim compare`` and the metrics report) and priced by its
caller from the cost table: the world switch (``vmexit``) plus the
handler's own row.
"""

from __future__ import annotations

from enum import IntEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from xensim.hypervisor.domain import Domain


class ExitReason(IntEnum):
    EXCEPTION_NMI = 0
    """A guest exception Xen intercepts: the page faults of shadow paging."""
    EXTERNAL_INTERRUPT = 1
    INTERRUPT_WINDOW = 7
    CPUID = 10
    HLT = 12
    CR_ACCESS = 28
    IO_INSTRUCTION = 30
    MSR_READ = 31
    MSR_WRITE = 32
    APIC_ACCESS = 44
    EPT_VIOLATION = 48
    """A guest-physical access with no RAM behind it: emulated MMIO."""
    EPT_MISCONFIG = 49
    """KVM's fast MMIO path: a virtqueue kick to an address with an ioeventfd."""


def count_exit(d: Domain, reason: ExitReason, n: int = 1) -> None:
    """Record *n* exits of *reason* for domain *d*."""
    counts = d.vmexit_counts
    name = reason.name
    counts[name] = counts.get(name, 0) + n

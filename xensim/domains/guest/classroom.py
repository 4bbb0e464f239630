"""Classroom workloads: the same guest behaviour priced differently under each mode.

Each says only what a Linux guest does, in the terms of
:class:`~xensim.domains.guest.guest_vcpu.GuestOp` (system calls, page-table writes,
page faults, TLB misses) plus ordinary computation and, for
``kernel-build``, a disk read, so it runs unchanged under PV, PVH, HVM and
HVM with PV drivers, and ``xensim compare`` shows where each mode spends.
What one *op* is: a system call (``syscall``), a fork-and-exit
(``pagetable``), a compilation unit (``kernel-build``).  Each op's latency
is recorded with :func:`~xensim.domains.guest.io_workloads.record`, like the
I/O workloads' requests.

The mixes are sized so the published shapes can show through
(shared/reference/published-results.md): ``pagetable`` after Adams &
Agesen's forkwait (2.2), ``kernel-build`` after Barham's kernel build
(2.1) and the PV-vs-PVHVM kernel build of the Xen Orchestra measurements
(2.6); the exact counts are estimates, given as parameters.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

from xensim.domains.guest.guest_vcpu import Action, Compute, GuestOp, GuestVcpu
from xensim.domains.guest.io_workloads import read_and_wait, record, wait_connected
from xensim.domains.guest.workloads import Param, register_workload
from xensim.hypervisor.time import MICROSECS, MILLISECS

USER_NS_PER_SYSCALL = 20
"""The user-mode instructions around each call of lmbench's null-call loop."""


@register_workload("syscall", "null system calls in a loop (lmbench's null call); an op is "
                              "one system call",
                   batch=Param(int, 1000, "system calls per measured batch", 1))
def _syscall(g: GuestVcpu, p: dict[str, Any], rng: random.Random) -> Iterator[Action]:
    if g.vcpu.vcpu_id:
        return
    n = p["batch"]
    while True:
        t0 = g.now
        yield GuestOp("syscall", n)
        yield Compute(n * USER_NS_PER_SYSCALL)
        record(g.stats, (g.now - t0) // n, 0, n)


@register_workload("pagetable", "fork/exec-like page-table churn (Adams & Agesen's forkwait); "
                                "an op is one fork, its copy-on-write faults and its exit",
                   ptes=Param(int, 128, "page-table entries a fork copies", 1),
                   faults=Param(int, 32, "copy-on-write faults after each fork", 0),
                   kernel_us=Param(float, 100.0, "other kernel work per fork+exit (us)", 0))
def _pagetable(g: GuestVcpu, p: dict[str, Any], rng: random.Random) -> Iterator[Action]:
    if g.vcpu.vcpu_id:
        return
    ptes, faults = p["ptes"], p["faults"]
    while True:
        t0 = g.now
        yield GuestOp("pte_write", 2 * ptes)  # copy_page_range: child's entries, parent's
        yield Compute(int(MICROSECS(p["kernel_us"])), "kernel")  # write-protection
        yield GuestOp("page_fault", faults)
        yield GuestOp("pte_write", faults)  # each copy-on-write fault installs a PTE
        yield GuestOp("tlb_miss", 16 * faults)
        yield GuestOp("pte_write", ptes)  # exit: zap_page_range
        record(g.stats, g.now - t0, 0)


@register_workload("kernel-build", "a compile job: user computation, system calls, page "
                                   "faults, process creation and a source-file read per "
                                   "compilation unit (an op)",
                   cc_ms=Param(float, 4.0, "user-mode compiler time per unit (ms)", 0),
                   syscalls=Param(int, 1000, "system calls per unit", 0),
                   faults=Param(int, 300, "page faults per unit", 0),
                   ptes=Param(int, 600, "page-table writes per unit (fork/exec of cc1)", 0),
                   tlb_misses=Param(int, 3000, "TLB misses per unit", 0),
                   read=Param(int, 16384, "bytes of source read from disk per unit", 0))
def _kernel_build(g: GuestVcpu, p: dict[str, Any], rng: random.Random) -> Iterator[Action]:
    if g.vcpu.vcpu_id:
        return
    yield from wait_connected(g)
    disk = next((f for f in g.vcpu.domain.info["kernel"].fronts if f.kind == "vbd"), None)
    while True:
        t0 = g.now
        if disk is not None and p["read"]:
            yield from read_and_wait(g, disk, rng.randrange(1 << 24) * 8,
                                     min(p["read"], 11 * 4096))
        yield GuestOp("pte_write", p["ptes"])
        yield GuestOp("syscall", p["syscalls"])
        yield GuestOp("page_fault", p["faults"])
        yield GuestOp("tlb_miss", p["tlb_misses"])
        yield Compute(int(MILLISECS(p["cc_ms"])))
        record(g.stats, g.now - t0, p["read"])

"""Helpers for the HVM and device-model tests: a guest that runs a test's own program.

``probe(host, program, **keys)`` creates a guest whose vCPU 0 runs
*program* (after its kernel's boot steps, as any workload does), so a test
can issue exactly the register accesses, guest operations or hypercalls it
wants to measure and log what it saw.  The program is passed to the
``hvm-probe`` workload by a key in :data:`PROGRAMS`.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Iterator
from typing import Any

from xensim.domains.guest.guest_vcpu import Action, GuestVcpu
from xensim.domains.guest.workloads import WORKLOADS, Param, register_workload
from xensim.host import Host
from xensim.hypervisor.domain import Domain

ProbeProgram = Callable[[GuestVcpu], Iterator[Action]]
PROGRAMS: dict[str, ProbeProgram] = {}
_keys = itertools.count()


def _probe(g: GuestVcpu, p: dict[str, Any], rng: random.Random) -> Iterator[Action]:
    if g.vcpu.vcpu_id:
        return
    yield from PROGRAMS[p["prog"]](g)


if "hvm-probe" not in WORKLOADS:
    register_workload("hvm-probe", "test only: runs a program a test registered",
                      prog=Param(str, None, "key in tests.hypervisor.hvm_helpers.PROGRAMS"))(
        _probe)


def probe(host: Host, program: ProbeProgram, name: str = "g", **keys: Any) -> Domain:
    """Create guest *name* running *program* on vCPU 0 (other vCPUs idle)."""
    key = f"p{next(_keys)}"
    PROGRAMS[key] = program
    return host.create(name, workload=f"hvm-probe:prog={key}", **keys)


def kinds(host: Host, kind: str) -> dict[str, int]:
    """ns of *kind* per vCPU (``d1v0``...) over every domain ever created."""
    return {repr(v): v.kind_ns[kind] for d in host.all_domains for v in d.vcpus
            if v.kind_ns.get(kind)}


def exits(d: Domain) -> dict[str, int]:
    return dict(d.vmexit_counts)


def delta(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    """Counts that changed from *before* to *after*."""
    return {k: n - before.get(k, 0) for k, n in after.items() if n != before.get(k, 0)}

"""Cpupools: disjoint sets of pCPUs, each scheduled by its own policy instance.

Mirrors: xen/common/sched/cpupool.c.  Every host boots with ``Pool-0`` holding
all pCPUs and the boot scheduler (``sched=``); domains live in exactly one
pool and their vCPUs run only on its pCPUs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from xensim.hypervisor.pcpu import PCPU
    from xensim.hypervisor.sched.ops import Scheduler


class Cpupool:
    __slots__ = ("pool_id", "name", "sched", "pcpus", "cpu_ids", "n_dom")

    def __init__(self, pool_id: int, name: str) -> None:
        self.pool_id = pool_id
        self.name = name
        self.sched: Scheduler = None  # type: ignore[assignment]
        self.pcpus: list[PCPU] = []
        self.cpu_ids: frozenset[int] = frozenset()
        self.n_dom = 0

    def add_pcpu(self, pcpu: PCPU) -> None:
        self.pcpus.append(pcpu)
        self.pcpus.sort(key=lambda p: p.cpu_id)
        self.cpu_ids = frozenset(p.cpu_id for p in self.pcpus)
        pcpu.pool = self

    def remove_pcpu(self, pcpu: PCPU) -> None:
        self.pcpus.remove(pcpu)
        self.cpu_ids = frozenset(p.cpu_id for p in self.pcpus)
        pcpu.pool = None

    def __repr__(self) -> str:
        return f"Cpupool({self.name}, {self.sched.name if self.sched else '-'}, " \
               f"cpus={sorted(self.cpu_ids)})"

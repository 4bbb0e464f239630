"""credit2's run-queue arithmetic: which queue a pCPU joins, and the decaying loads.

Mirrors: xen/common/sched/credit2.c (cpu_runqueue_match,
cpu_runqueue_siblings_match, cpu_add_to_runqueue, update_runq_load,
update_svc_load).  Kept apart from the policy (credit2.py) because it is
plain arithmetic over the topology and fixed-point averages: the policy
decides when to call it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol, TypeVar

from xensim.hypervisor.cmdline import LOADAVG_GRANULARITY_SHIFT
from xensim.hypervisor.topology import Topology

__all__ = ["LOADAVG_GRANULARITY_SHIFT", "decay", "first_unused_id", "pick_runqueue"]


class RunqueueLike(Protocol):
    id: int
    active: set[int]
    pick_bias: int


R = TypeVar("R", bound=RunqueueLike)


def runqueue_match(mode: str, topo: Topology, peer: int, cpu: int) -> bool:
    """cpu_runqueue_match: does *cpu* belong with the queue of *peer* by topology?"""
    return mode == "all" or (mode == "core" and topo.same_core(peer, cpu)) \
        or (mode == "socket" and topo.same_socket(peer, cpu)) \
        or (mode == "node" and topo.same_node(peer, cpu))


def siblings_fit(topo: Topology, active: set[int], max_cpus: int) -> bool:
    """cpu_runqueue_siblings_match: room for one more whole core next to *active*?"""
    cores = {min(topo.siblings(c)) for c in active}
    return len(cores) * topo.threads_per_core + topo.threads_per_core <= max_cpus


def pick_runqueue(rqds: Sequence[R], cpu: int, topo: Topology, mode: str, max_per_rq: int,
                  nr_cpus: int, warn: Callable[[str], None]) -> R | None:
    """cpu_add_to_runqueue's choice: the least full matching queue with room (at most
    *max_per_rq*, spread evenly over ``nr_cpus``), the queue holding *cpu*'s siblings
    in any case, or None for a new queue."""
    min_rqs = (nr_cpus - 1) // max_per_rq + 1
    max_cpus = nr_cpus // min_rqs
    siblings = topo.siblings(cpu)
    chosen: R | None = None
    for rqd in sorted(rqds, key=lambda r: r.id):
        if not runqueue_match(mode, topo, rqd.pick_bias, cpu):
            continue
        if rqd.active & siblings:
            if len(rqd.active) >= max_per_rq:
                warn("WARNING: cpu_add_to_runqueue: more than opt_max_cpus_runqueue in a "
                     f"runqueue ({max_per_rq} vs {len(rqd.active)}), due to topology "
                     "constraints.\nConsider raising it!")
            return rqd
        if len(rqd.active) < max_cpus and (siblings_fit(topo, rqd.active, max_cpus)
                                           or mode == "all"):
            if chosen is None or len(rqd.active) < len(chosen.active):
                chosen = rqd
    return chosen


def first_unused_id(rqds: Sequence[RunqueueLike]) -> int:
    """The lowest queue id not in use (cpu_add_to_runqueue's ``rqi``)."""
    used = {r.id for r in rqds}
    return min(i for i in range(len(used) + 1) if i not in used)


def decay(avg: int, load: int, last: int, now: int, window: int,
          precision: int) -> int:
    """update_runq_load/update_svc_load: the average moved towards *load* (a count,
    fixed point with *precision* bits) by the time since *last*, over a window of
    2^*window* units; restarted at *load* when a whole window has passed.  Times are
    already shifted by LOADAVG_GRANULARITY_SHIFT (load averages count 2^10 ns units)."""
    if last + (1 << window) < now:
        return load << precision
    delta = max(now - last, 0)
    return avg + ((delta * (load << precision)) >> window) - ((delta * avg) >> window)

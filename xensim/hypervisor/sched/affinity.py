"""Affinity balance steps shared by the policies that honour soft affinity.

Mirrors: xen/common/sched/private.h (``has_soft_affinity``,
``affinity_balance_cpumask``, ``for_each_affinity_balance_step``) and
xen/common/cpumask ``cpumask_cycle``.  Xen tries the soft-affinity mask first
when it is *useful* (it intersects the hard mask without containing it),
then the hard mask.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from xensim.hypervisor.vcpu import VCPU


def has_soft_affinity(v: VCPU, pool_cpus: frozenset[int]) -> bool:
    hard = v.hard_affinity & pool_cpus
    soft = v.soft_affinity
    return soft is not None and bool(soft & hard) and not hard <= soft


def balance_steps(v: VCPU, pool_cpus: frozenset[int]) -> list[frozenset[int]]:
    """The masks to try in order: soft & hard (when useful), then hard (within the pool)."""
    hard = v.hard_affinity & pool_cpus
    if has_soft_affinity(v, pool_cpus):
        assert v.soft_affinity is not None
        return [v.soft_affinity & hard, hard]
    return [hard]


def cpumask_cycle(after: int, cpus: frozenset[int] | set[int]) -> int:
    """The first cpu of *cpus* after *after*, wrapping around (*cpus* non-empty)."""
    later = [c for c in cpus if c > after]
    return min(later) if later else min(cpus)


def cycle_order(start: int, cpus: frozenset[int] | set[int]) -> list[int]:
    """*cpus* in the order ``cpumask_test_or_cycle(start)`` then ``cpumask_cycle`` visit them."""
    ordered = sorted(cpus)
    return [c for c in ordered if c >= start] + [c for c in ordered if c < start]

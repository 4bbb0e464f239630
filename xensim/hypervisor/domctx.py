"""What the inter-domain primitives need from the hypervisor core, and nothing more.

Mirrors: xen/include/xen/sched.h (struct domain, rcu_lock_domain_by_id);
simplified: a domain is anything with the four attributes below.

The event-channel and grant-table modules are written before the core that
owns domains, so they code against these small protocols.  The core passes
its own ``Domain`` objects and a registry; tests pass tiny stand-ins.  Where
Xen would kick a vCPU (``vcpu_kick`` after ``vcpu_mark_events_pending``) we
call an injected :data:`NotifyFn`, so the core can route the wake-up into its
scheduler (a blocked vCPU is woken and, under credit, boosted).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable
from typing import Protocol, runtime_checkable

DOMID_FIRST_RESERVED = 0x7FF0
DOMID_SELF = 0x7FF0
DOMID_IO = 0x7FF1
DOMID_XEN = 0x7FF2
DOMID_IDLE = 0x7FFF


@runtime_checkable
class DomainLike(Protocol):
    """The part of ``struct domain`` these modules read."""

    domid: int
    is_privileged: bool
    is_dying: bool

    @property
    def max_vcpus(self) -> int: ...  # read-only: Domain's is a property


class DomainRegistry(Protocol):
    """``rcu_lock_domain_by_id``: a live (or dying, not yet destroyed) domain, or None."""

    def get_domain(self, domid: int) -> DomainLike | None: ...


NotifyFn = Callable[[DomainLike, int], None]
"""``notify(domain, vcpu_id)``: Xen's ``vcpu_kick``; the core wakes the vCPU."""


def no_notify(domain: DomainLike, vcpu_id: int) -> None:
    """Default :data:`NotifyFn` for callers that poll instead of being kicked."""


def lookup_any(registry: DomainRegistry, caller: DomainLike, domid: int) -> DomainLike | None:
    """``rcu_lock_domain_by_any_id``: DOMID_SELF means the caller."""
    if domid == DOMID_SELF:
        return caller
    return registry.get_domain(domid)


def xsm_target_ok(caller: DomainLike, target: DomainLike) -> bool:
    """XSM_TARGET under the dummy policy: yourself, or a privileged caller."""
    return caller is target or caller.domid == target.domid or caller.is_privileged


class DomainCounters:
    """Plain per-domain counters a metrics layer can read after the run.

    ``counters[domid]["op.send"]``; never reset by the subsystem itself, so
    the values of a dead domain stay readable for post-mortem metrics.
    """

    def __init__(self) -> None:
        self._by_dom: defaultdict[int, Counter[str]] = defaultdict(Counter)

    def __getitem__(self, domid: int) -> Counter[str]:
        return self._by_dom[domid]

    def bump(self, domid: int, key: str, n: int = 1) -> None:
        self._by_dom[domid][key] += n

    def forget(self, domid: int) -> None:
        """Drop a destroyed domain's counters (a long-lived host that keeps no history)."""
        self._by_dom.pop(domid, None)

    def snapshot(self) -> dict[int, dict[str, int]]:
        """A plain-dict copy, sorted by domid, for reports and tests."""
        return {d: dict(c) for d, c in sorted(self._by_dom.items())}

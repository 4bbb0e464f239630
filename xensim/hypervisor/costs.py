"""The cost model: the price of each primitive step, with where the number came from.

Design note.  Everything else in xensim is *emergent*: I/O latency, PV-vs-HVM
overhead and scheduler effects come from work queued on vCPUs that the
scheduler may or may not run.  Only primitive steps have a fixed price, and
this module is the one place that holds them.  Each entry names its source
(a row of ``shared/reference/published-results.md``, a manual, or an
estimate with its reasoning), so a reader can judge every number.

Cycle figures are turned into nanoseconds at :data:`NOMINAL_GHZ`, a
present-day server clock; a host may override any entry by name
(``[host.costs]`` in a scenario, ``Host(costs={...})`` in Python).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

NOMINAL_GHZ = 3.0
"""Clock used to turn published cycle counts into ns (3 GHz: a typical Xeon)."""


def cycles(n: int) -> int:
    """Cycles at :data:`NOMINAL_GHZ` to whole nanoseconds."""
    return round(n / NOMINAL_GHZ)


@dataclass(frozen=True, slots=True)
class Cost:
    """One primitive: its default price in ns and the source of that number."""

    name: str
    ns: int
    source: str
    description: str


_DEFAULTS: tuple[Cost, ...] = (
    Cost("context_switch", 1_500,
         "estimate: a Xen vCPU switch saves/restores registers and reloads CR3 "
         "(TLB refill dominates); same order as the x86 VM switch in Dall et al. "
         "ISCA 2016 Table 3 (R: verify)",
         "switching a pCPU from one guest vCPU to another (lazy: switches to and "
         "from the idle vCPU that resume the same vCPU are free)"),
    Cost("hypercall", cycles(1_230),
         "Dall et al., ISCA 2016, Table 3: x86 Xen hypercall ~1,230 cycles (R: verify)",
         "guest -> Xen -> guest round trip of one hypercall, before its own work"),
    Cost("upcall", cycles(1_500),
         "estimate: event-channel upcall entry/exit in a PV kernel, between a "
         "hypercall and an exit in cost",
         "Xen delivering an event-channel upcall into the guest kernel"),
)


class CostModel(Mapping[str, int]):
    """The table of primitive costs for one host: defaults plus overrides.

    Reads like a dict (``costs["hypercall"]``) so hot paths pay one lookup;
    :meth:`rows` gives the documented table for the README and ``xensim costs``.
    """

    def __init__(self, overrides: Mapping[str, int] | None = None) -> None:
        self._entries: dict[str, Cost] = {c.name: c for c in _DEFAULTS}
        self._ns: dict[str, int] = {c.name: c.ns for c in _DEFAULTS}
        for name, ns in (overrides or {}).items():
            self.override(name, ns)

    def override(self, name: str, ns: int) -> None:
        if name not in self._entries:
            known = ", ".join(sorted(self._entries))
            raise KeyError(f"unknown cost {name!r}; known costs: {known}")
        if isinstance(ns, bool) or not isinstance(ns, int) or ns < 0:
            raise ValueError(f"cost {name!r} must be a non-negative integer of ns, got {ns!r}")
        self._ns[name] = ns

    def __getitem__(self, name: str) -> int:
        return self._ns[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._ns)

    def __len__(self) -> int:
        return len(self._ns)

    def rows(self) -> list[tuple[str, int, str, str]]:
        """(name, ns in force, source, description) for every primitive."""
        return [(n, self._ns[n], c.source, c.description) for n, c in self._entries.items()]

    @staticmethod
    def register(cost: Cost) -> None:
        """Add a primitive to the default table (used by subsystems that own new steps)."""
        global _DEFAULTS
        if any(c.name == cost.name for c in _DEFAULTS):
            raise ValueError(f"cost {cost.name!r} is already registered")
        _DEFAULTS = _DEFAULTS + (cost,)

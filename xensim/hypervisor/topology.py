"""Host CPU topology: sockets, cores per socket, SMT threads per core, NUMA nodes.

Mirrors: what Xen learns at boot into ``cpu_data[cpu].{phys_proc_id,cpu_core_id}``,
``cpu_sibling_mask`` (threads of one core), ``cpu_core_mask`` (CPUs of one
socket) and ``cpu_to_node``, and reports through XEN_SYSCTL_physinfo /
XEN_SYSCTL_cputopoinfo (``xl info``, ``xl info -n``).  Simplified: a
symmetric machine; one NUMA node per socket; CPU numbers as Xen gives them
on common Intel boxes, the threads of a core adjacent
(``cpu = (socket * cores + core) * threads + thread``).

The default, :meth:`Topology.flat`, is one socket of N single-threaded cores,
which is what xensim modelled before it had a topology: credit's idle-core
search and credit2's ``socket`` run queues then behave as they always did.
SMT siblings do not slow each other (see docs/fidelity.md: no cost model).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_SPEC = re.compile(r"^\s*(\d+)\s*x\s*(\d+)\s*x\s*(\d+)\s*$")


@dataclass(frozen=True, slots=True)
class Topology:
    sockets: int
    cores_per_socket: int
    threads_per_core: int

    def __post_init__(self) -> None:
        for name in ("sockets", "cores_per_socket", "threads_per_core"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"topology {name} must be a positive integer, got {value!r}")

    @classmethod
    def flat(cls, nr_cpus: int) -> Topology:
        """One socket of *nr_cpus* cores without SMT (xensim's historical host)."""
        return cls(1, nr_cpus, 1)

    @classmethod
    def parse(cls, spec: str) -> Topology:
        """``SOCKETSxCORESxTHREADS``, e.g. ``2x8x2`` (32 pCPUs)."""
        m = _SPEC.match(spec)
        if m is None:
            raise ValueError(f"topology {spec!r}: expected SOCKETSxCORESxTHREADS, e.g. 2x8x2")
        return cls(int(m[1]), int(m[2]), int(m[3]))

    @classmethod
    def from_mapping(cls, keys: dict[str, object]) -> Topology:
        """``{sockets = 2, cores_per_socket = 8, threads_per_core = 2}`` (scenario TOML)."""
        known = {"sockets", "cores_per_socket", "threads_per_core"}
        unknown = set(keys) - known
        if unknown:
            raise ValueError(f"unknown topology key(s) {sorted(unknown)}; known: "
                             "sockets, cores_per_socket, threads_per_core")
        return cls(int(keys.get("sockets", 1)),  # type: ignore[call-overload]
                   int(keys.get("cores_per_socket", 1)),  # type: ignore[call-overload]
                   int(keys.get("threads_per_core", 1)))  # type: ignore[call-overload]

    @property
    def nr_cpus(self) -> int:
        return self.sockets * self.cores_per_socket * self.threads_per_core

    @property
    def nr_nodes(self) -> int:
        return self.sockets

    @property
    def spec(self) -> str:
        return f"{self.sockets}x{self.cores_per_socket}x{self.threads_per_core}"

    def socket(self, cpu: int) -> int:
        return cpu // (self.cores_per_socket * self.threads_per_core)

    def core(self, cpu: int) -> int:
        """The core's number within its socket (``cpu_to_core``)."""
        return cpu // self.threads_per_core % self.cores_per_socket

    def node(self, cpu: int) -> int:
        return self.socket(cpu)

    def siblings(self, cpu: int) -> frozenset[int]:
        """``cpu_sibling_mask``: the threads of *cpu*'s core, *cpu* included."""
        first = cpu - cpu % self.threads_per_core
        return frozenset(range(first, first + self.threads_per_core))

    def core_mask(self, cpu: int) -> frozenset[int]:
        """``cpu_core_mask``: every CPU of *cpu*'s socket."""
        per = self.cores_per_socket * self.threads_per_core
        first = cpu - cpu % per
        return frozenset(range(first, first + per))

    def node_mask(self, node: int) -> frozenset[int]:
        per = self.cores_per_socket * self.threads_per_core
        return frozenset(range(node * per, (node + 1) * per))

    def same_core(self, a: int, b: int) -> bool:
        return self.socket(a) == self.socket(b) and self.core(a) == self.core(b)

    def same_socket(self, a: int, b: int) -> bool:
        return self.socket(a) == self.socket(b)

    def same_node(self, a: int, b: int) -> bool:
        return self.node(a) == self.node(b)

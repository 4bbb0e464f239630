"""A simulated Xen host for scripts and notebooks: the object every face drives.

``Host(pcpus=4, scheduler="credit")`` boots a hypervisor with Domain-0;
``host.create(...)`` builds a guest the way ``xl create`` does;
``host.run(ms=...)`` advances simulated time as fast as the CPU allows;
``host.metrics()`` returns the run's results.  ``host.xl("list")`` runs an
xl command in-process, which is how scenario actions are carried out.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

from simpy import Environment

from xensim.hypervisor.domain import Domain
from xensim.hypervisor.hypervisor import Hypervisor
from xensim.hypervisor.time import MILLISECS, SimTime
from xensim.metrics import collect
from xensim.toolstack.libxl import Libxl

DOM0_NAME = "Domain-0"


@dataclass(frozen=True, slots=True)
class GuestSpec:
    """The keys of a guest that the Python API and scenarios set (xl.cfg names)."""

    name: str
    vcpus: int = 1
    memory: int = 512
    workload: str = "idle"
    cpu_weight: int | None = None
    cap: int | None = None
    cpus: Any = None
    cpus_soft: Any = None
    type: str = "pv"
    pool: str | None = None
    maxvcpus: int | None = None


class Host:
    """One simulated machine: hypervisor, Domain-0 and the toolstack over them."""

    def __init__(self, pcpus: int = 4, scheduler: str = "credit", *,
                 sched: dict[str, Any] | None = None, memory: int = 16384, seed: int = 0,
                 costs: dict[str, int] | None = None, trace: bool = False,
                 dom0_vcpus: int | None = None, dom0_memory: int = 1024) -> None:
        self.env = Environment()
        self.hv = Hypervisor(self.env, pcpus, scheduler=scheduler, sched_params=sched,
                             costs=costs, memory_mib=memory, seed=seed, trace=trace)
        self.toolstack = Libxl(self.hv)
        self.start_ns: SimTime = 0
        self.all_domains: list[Domain] = []
        self.dom0 = self._create(GuestSpec(DOM0_NAME, vcpus=dom0_vcpus or pcpus,
                                           memory=dom0_memory), privileged=True)

    def _create(self, spec: Any, *, paused: bool = False, privileged: bool = False) -> Domain:
        d = self.toolstack.domain_create(spec, paused=paused, privileged=privileged)
        self.all_domains.append(d)
        return d

    def create(self, name: str, *, paused: bool = False, **keys: Any) -> Domain:
        """Create and start a guest; keys are xl.cfg's (vcpus, memory, workload, cpu_weight,
        cap, cpus, cpus_soft, type, pool, maxvcpus)."""
        return self._create(GuestSpec(name, **keys), paused=paused)

    def create_from_config(self, cfg: Any, *, paused: bool = False) -> Domain:
        """Create a guest from a parsed xl.cfg :class:`DomainConfig`."""
        return self._create(cfg, paused=paused)

    def domain(self, ident: str | int) -> Domain:
        return self.toolstack.lookup(ident)

    @property
    def now(self) -> SimTime:
        return self.env.now

    def run(self, ms: float | None = None, *, ns: SimTime | None = None) -> None:
        """Advance simulated time by *ms* milliseconds (or *ns* nanoseconds)."""
        delta = ns if ns is not None else MILLISECS(ms or 0)
        self.env.run(until=self.env.now + delta)

    def reset_metrics(self) -> None:
        """Start measuring from now (drop a warm-up period from the results)."""
        now = self.env.now
        self.start_ns = now
        for d in self.all_domains + [self.hv.idle_domain]:
            for v in d.vcpus:
                v.runstate_change(v.runstate, now)
                v.runstate_time = [0, 0, 0, 0]
                v.wake_latencies.clear()
                v.kind_ns.clear()

    def metrics(self) -> dict[str, Any]:
        return collect(self)

    def xl(self, command: str) -> tuple[int, str, str]:
        """Run one xl command line against this host; returns (status, stdout, stderr)."""
        from xensim.toolstack.xl.main import run_command

        out, err = io.StringIO(), io.StringIO()
        rc = run_command(self, command, out, err)
        return rc, out.getvalue(), err.getvalue()

"""A simulated Xen (or KVM, or QEMU) host for scripts and notebooks: the object every face drives.

``Host(pcpus=4, scheduler="credit")`` boots a hypervisor with Domain-0;
``Host(hypervisor="kvm")`` a Linux host with KVM, whose domain 0 is the
host itself (named ``host``) and whose vCPUs CFS schedules;
``host.create(...)`` builds a guest the way ``xl create`` does;
``host.run(ms=...)`` advances simulated time as fast as the CPU allows;
``host.metrics()`` returns the run's results.  ``host.xl("list")`` runs an
xl command in-process, which is how scenario actions are carried out.
"""

from __future__ import annotations

import io
import os
from typing import Any

from simpy import Environment

from xensim.hypervisor.domain import Domain
from xensim.hypervisor.hostkind import host_kind
from xensim.hypervisor.hypervisor import Hypervisor
from xensim.hypervisor.time import MILLISECS, SimTime
from xensim.metrics import collect
from xensim.toolstack.domconfig import DomainConfig
from xensim.toolstack.libxl import Libxl

DOM0_NAME = "Domain-0"


DEFAULT_KERNEL = "/boot/vmlinuz-xensim"
"""What a PV/PVH guest created from Python or a scenario "boots" (xl insists on one)."""


def xl_value(v: Any) -> str:
    """A Python value in xl.cfg syntax (strings quoted, lists bracketed)."""
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(xl_value(x) for x in v) + "]"
    return str(v)


def config_from_keys(name: str, source: str = "<python>", **keys: Any) -> DomainConfig:
    """A :class:`DomainConfig` from xl.cfg keys given as Python values.

    The keys go through the xl.cfg parser, so the Python API, scenarios and
    ``xl create`` accept and reject exactly the same things.
    """
    keys = {"name": name, **keys}
    if keys.get("type", "pv") != "hvm" and "kernel" not in keys and "bootloader" not in keys:
        keys["kernel"] = DEFAULT_KERNEL
    text = "\n".join(f"{k} = {xl_value(v)}" for k, v in keys.items() if v is not None)
    return DomainConfig.from_text(text, source)


def advance(env: Environment, ms: float | None = None, ns: SimTime | None = None) -> None:
    """Run *env* for *ms* milliseconds (or *ns* nanoseconds) from now."""
    delta = ns if ns is not None else MILLISECS(ms or 0)
    env.run(until=env.now + delta)


class Host:
    """One simulated machine: hypervisor, Domain-0 and the toolstack over them."""

    def __init__(self, pcpus: int = 4, scheduler: str | None = None, *,
                 sched: dict[str, Any] | None = None, memory: int = 16384, seed: int = 0,
                 costs: dict[str, int] | None = None, trace: bool = False,
                 dom0_vcpus: int | None = None, dom0_memory: int = 1024,
                 hypervisor: str = "xen", keep_destroyed: bool = True,
                 start_ns: SimTime = 0, env: Environment | None = None,
                 name: str = "default") -> None:
        """*hypervisor* is the host kind: ``xen``, ``kvm`` or ``qemu-tcg`` (see
        :mod:`xensim.hypervisor.hostkind`); *scheduler* defaults to the kind's own
        (credit for Xen, cfs for the host Linux of kvm and qemu-tcg).

        *keep_destroyed* keeps every destroyed domain for :meth:`metrics` (a scenario
        reports restarted and destroyed guests too); a long-lived host (the daemon) sets
        it False, so a destroyed domain leaves nothing behind and memory stays flat.
        *start_ns* is the simulated time the host boots at (a host restored from its
        checkpoint resumes the clock where it was).  *env* is given when the host is one
        of a :class:`~xensim.site.Site`'s, which share one clock (then *start_ns* is
        the site's)."""
        kind = host_kind(hypervisor)
        self.name = name
        self.site: Any = None
        """The :class:`~xensim.site.Site` this host belongs to (None: a host alone)."""
        self.env = env if env is not None else Environment(initial_time=start_ns)
        self.hv = Hypervisor(self.env, pcpus, scheduler=scheduler or kind.scheduler,
                             sched_params=sched, costs=costs, memory_mib=memory, seed=seed,
                             trace=trace, kind=hypervisor)
        self.toolstack = Libxl(self.hv)
        self.start_ns: SimTime = start_ns
        self.all_domains: list[Domain] = []
        """Every domain ever created here, restarts included (for metrics)."""
        self.toolstack.create_hooks.append(self.all_domains.append)
        if not keep_destroyed:
            self.hv.teardown_hooks.append(self._forget)
        self.dom0 = self._create(config_from_keys(kind.dom0_name, vcpus=dom0_vcpus or pcpus,
                                                  memory=dom0_memory), privileged=True)

    def _create(self, cfg: DomainConfig, *, paused: bool = False,
                privileged: bool = False) -> Domain:
        return self.toolstack.domain_create(cfg, paused=paused, privileged=privileged)

    def create(self, name: str, *, paused: bool = False, **keys: Any) -> Domain:
        """Create and start a guest.  Keys are xl.cfg's, as Python values: ``vcpus=2,
        memory=512, workload="cpu", cpu_weight=512, cap=50, cpus="0-3,^2"``...
        Raises :class:`~xensim.toolstack.xlcfg.XlCfgError` for a bad key or value and
        :class:`~xensim.toolstack.libxl.LibxlError` when the host cannot take the guest."""
        return self._create(config_from_keys(name, **keys), paused=paused)

    def create_from_config(self, cfg: DomainConfig | str, *, paused: bool = False,
                           overrides: list[str] | None = None) -> Domain:
        """Create a guest from a :class:`DomainConfig` or an xl.cfg file path."""
        if isinstance(cfg, str):
            cfg = DomainConfig.from_file(cfg, overrides or [])
        return self._create(cfg, paused=paused)

    def _forget(self, d: Domain) -> None:
        """A destroyed domain leaves the host's records (``keep_destroyed=False``)."""
        if d in self.all_domains:
            self.all_domains.remove(d)
        self.toolstack.guest_stats.pop(d.domid, None)
        hv, io = self.hv, self.toolstack.io
        stores = [io.store] if io.xsd is not None else []
        for counters in [hv.evtchn.counters, hv.gnttab.counters] + [s.counters for s in stores]:
            counters.forget(d.domid)

    def trim_samples(self, keep: int) -> None:
        """Keep only the latest *keep* latency samples of each vCPU and guest workload.

        Wake-up and I/O latencies are kept as samples so :meth:`metrics` can give exact
        percentiles; a scenario's run is bounded, but a host that runs for days (the
        daemon) calls this now and then so its memory stays flat."""
        samples = [v.wake_latencies for d in self.hv.domains.values() for v in d.vcpus]
        samples += [value for stats_list in self.toolstack.guest_stats.values()
                    for stats in stats_list for value in stats.values()
                    if isinstance(value, list)]
        for values in samples:
            if len(values) > keep:
                del values[:len(values) - keep]

    def domain(self, ident: str | int) -> Domain:
        return self.toolstack.lookup(ident)

    @property
    def now(self) -> SimTime:
        return self.env.now

    def run(self, ms: float | None = None, *, ns: SimTime | None = None) -> None:
        """Advance simulated time by *ms* milliseconds (or *ns* nanoseconds)."""
        advance(self.env, ms, ns)

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
        rc = run_command(self, command, out, err, cwd=os.getcwd())
        return rc, out.getvalue(), err.getvalue()

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
from collections.abc import Sequence
from typing import Any

from simpy import Environment

from xensim.domains.dom0.hostnet import bridge_table, parse_bridges
from xensim.hypervisor.cmdline import XenCmdline
from xensim.hypervisor.domain import Domain
from xensim.hypervisor.hostkind import host_kind
from xensim.hypervisor.hypervisor import Hypervisor
from xensim.hypervisor.passthrough import parse_pci_devices
from xensim.hypervisor.time import MILLISECS, SimTime
from xensim.hypervisor.topology import Topology
from xensim.metrics import collect
from xensim.notebook.display import Metrics, XlResult, host_html, register_formatters
from xensim.progress import note_host
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

    def __init__(self, pcpus: int | None = None, scheduler: str | None = None, *,
                 sched: dict[str, Any] | None = None, memory: int = 16384, seed: int = 0,
                 costs: dict[str, int] | None = None, trace: bool = False,
                 dom0_vcpus: int | None = None, dom0_memory: int = 1024,
                 hypervisor: str = "xen", bridges: str | Sequence[Any] | None = None,
                 pci: str | Sequence[Any] | None = None, topology: Topology | str | None = None,
                 xen_cmdline: str | None = None, keep_destroyed: bool = True,
                 start_ns: SimTime = 0, env: Environment | None = None,
                 name: str = "default") -> None:
        """*hypervisor* is the host kind: ``xen``, ``kvm`` or ``qemu-tcg`` (see
        :mod:`xensim.hypervisor.hostkind`); *scheduler* defaults to the kind's own
        (credit for Xen, cfs for the host Linux of kvm and qemu-tcg) or to ``sched=``
        on *xen_cmdline*.  *topology* is a :class:`Topology` or ``"2x8x2"``
        (sockets x cores x threads); *pcpus* defaults to its size, else 4.

        *bridges* names dom0's bridges (``"xenbr0,xenbr1"``, ``["xenbr0",
        "ovsbr0:openvswitch"]`` or tables, see :mod:`xensim.domains.dom0.hostnet`;
        default ``xenbr0``); *pci* its PCI devices (``"0000:03:00.0"``, or tables
        ``{bdf, kind, assignable}``, see :mod:`xensim.hypervisor.passthrough`).
        Raises ValueError for a bad declaration.

        *keep_destroyed* keeps every destroyed domain for :meth:`metrics` (a scenario
        reports restarted and destroyed guests too); a long-lived host (the daemon) sets
        it False, so a destroyed domain leaves nothing behind and memory stays flat.
        *start_ns* is the simulated time the host boots at (a host restored from its
        checkpoint resumes the clock where it was).  *env* is given when the host is one
        of a :class:`~xensim.site.Site`'s, which share one clock (then *start_ns* is
        the site's)."""
        bridge_specs = parse_bridges(bridges)
        pci_devices = parse_pci_devices(pci)
        kind = host_kind(hypervisor)
        self.name = name
        self.site: Any = None
        """The :class:`~xensim.site.Site` this host belongs to (None: a host alone)."""
        if isinstance(topology, str):
            topology = Topology.parse(topology)
        if pcpus is None:
            pcpus = topology.nr_cpus if topology is not None else 4
        if scheduler is None and not (hypervisor == "xen"
                                      and XenCmdline.parse(xen_cmdline).sched_given):
            scheduler = kind.scheduler
        self.env = env if env is not None else Environment(initial_time=start_ns)
        self.hv = Hypervisor(self.env, pcpus, scheduler=scheduler,
                             sched_params=sched, costs=costs, memory_mib=memory, seed=seed,
                             trace=trace, kind=hypervisor, topology=topology,
                             cmdline=xen_cmdline)
        for pdev, _ in pci_devices:
            self.hv.pci.add_device(pdev)
        self.toolstack = Libxl(self.hv, bridge_specs)
        self.start_ns: SimTime = start_ns
        self.all_domains: list[Domain] = []
        """Every domain ever created here, restarts included (for metrics)."""
        self.toolstack.create_hooks.append(self.all_domains.append)
        if not keep_destroyed:
            self.hv.teardown_hooks.append(self._forget)
        self.dom0 = self._create(config_from_keys(kind.dom0_name, vcpus=dom0_vcpus or pcpus,
                                                  memory=dom0_memory), privileged=True)
        for pdev, assignable in pci_devices:
            if assignable:
                self.toolstack.pci.assignable_add(pdev.bdf)
        register_formatters(self)
        note_host(self)

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

    def devices(self) -> list[str]:
        """The host's networks and PCI devices, for ``xensim host status``: dom0's
        bridges with their ports (``brctl show``) and each PCI device with its owner."""
        lines = bridge_table(self.toolstack.io.bridges.values())
        for pdev in self.hv.pci.devices.values():
            owner = ("assignable" if pdev.bdf in dict(self.toolstack.pci.assignable_list())
                     else "Domain-0" if pdev.owner == 0 else f"domain {pdev.owner}")
            lines.append(f"pci {pdev.bdf} {pdev.kind}: {owner}")
        return lines

    def domain(self, ident: str | int) -> Domain:
        return self.toolstack.lookup(ident)

    @property
    def now(self) -> SimTime:
        return self.env.now

    def run(self, ms: float | None = None, *, ns: SimTime | None = None,
            progress: bool = False) -> None:
        """Advance simulated time by *ms* milliseconds (or *ns* nanoseconds); with
        *progress*, show a progress bar (a widget in a notebook: see
        :mod:`xensim.notebook.progress`)."""
        if progress:
            from xensim.notebook.progress import run_with_progress

            run_with_progress(self, ns if ns is not None else MILLISECS(ms or 0))
            return
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

    def metrics(self) -> Metrics:
        """The run's results (a dict, as ``xensim run --json`` writes them)."""
        return Metrics(collect(self))

    def xl(self, command: str) -> XlResult:
        """Run one xl command line against this host; returns (status, stdout, stderr),
        which a notebook shows as a terminal would.  Mistakes get xl's own messages and
        status, never an exception."""
        from xensim.toolstack.xl.main import run_command

        out, err = io.StringIO(), io.StringIO()
        rc = run_command(self, command, out, err, cwd=os.getcwd())
        return XlResult(rc, out.getvalue(), err.getvalue())

    def _repr_html_(self) -> str:
        return host_html(self)

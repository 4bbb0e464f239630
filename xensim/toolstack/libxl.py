"""A libxl-like control layer: what ``xl`` and scenario actions call.

Mirrors: tools/libs/light (libxl_domain_create_new, libxl_domain_destroy,
libxl_domain_pause, libxl_domain_sched_params_set, libxl_sched_credit_params_set).
It turns a domain configuration into hypervisor operations in libxl's
order: check resources, build the domain (paused), apply scheduler
parameters and affinity, start the guest, unpause unless asked not to.
Errors are :class:`LibxlError` with the message xl prints.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any

from xensim.domains.guest import GuestVcpu
from xensim.domains.iosys import IoSystem
from xensim.domains.workloads import WorkloadError, make_program, parse_workload
from xensim.hypervisor.cpumap import CpumapError
from xensim.hypervisor.hypervisor import HypervisorError
from xensim.hypervisor.sched.ops import SchedParamError

if TYPE_CHECKING:
    from xensim.hypervisor.cpupool import Cpupool
    from xensim.hypervisor.domain import Domain
    from xensim.hypervisor.hypervisor import Hypervisor
    from xensim.toolstack.domconfig import DomainConfig


class LibxlError(Exception):
    """A failed toolstack operation; the message is what xl prints."""


class Libxl:
    """Control operations on one host's hypervisor."""

    def __init__(self, hyp: Hypervisor) -> None:
        self.hyp = hyp
        self.guest_stats: dict[int, list[dict[str, Any]]] = {}
        self.io = IoSystem(hyp)
        """PV I/O: dom0's services and devices, guests' frontends (see domains/iosys.py)."""

    # --- lookup -----------------------------------------------------------------------
    def lookup(self, ident: str | int) -> Domain:
        """A domain by name or domid, as xl's ``find_domain``."""
        text = str(ident)
        if text.isdigit():
            d = self.hyp.domains.get(int(text))
        else:
            d = self.hyp.domain_by_name(text)
        if d is None:
            raise LibxlError(f"{text} is an invalid domain identifier (rc=-6)")
        return d

    def pool_by_name(self, name: str) -> Cpupool:
        for pool in self.hyp.pools.values():
            if pool.name == name:
                return pool
        raise LibxlError(f"cpupool {name!r} does not exist")

    # --- life cycle ---------------------------------------------------------------------
    def domain_create(self, cfg: DomainConfig, *, paused: bool = False,
                      privileged: bool = False) -> Domain:
        hyp = self.hyp
        if hyp.domain_by_name(cfg.name) is not None:
            raise LibxlError(f"domain with name \"{cfg.name}\" already exists.")
        spec = cfg.workload
        if privileged and spec == "idle":
            spec = "dom0"  # dom0's kernel runs xenstored and the backends
        try:
            workload = parse_workload(spec)
        except WorkloadError as exc:
            raise LibxlError(f"{cfg.name}: {exc}") from None
        pool = self.pool_by_name(cfg.pool)
        nr_cpus = len(hyp.pcpus)
        try:
            hard = cfg.hard_affinity(nr_cpus)
            soft = cfg.soft_affinity(nr_cpus)
        except CpumapError as exc:
            raise LibxlError(f"{cfg.name}: cpus: {exc}") from None
        if hard is not None:
            hard = [m & pool.cpu_ids for m in hard]
            if not all(hard):
                raise LibxlError(f"{cfg.name}: cpus selects no pCPU of cpupool {pool.name}")
        maxvcpus = cfg.maxvcpus
        try:
            d = hyp.create_domain(cfg.name, maxvcpus, cfg.memory * 1024, online_vcpus=cfg.vcpus,
                                  privileged=privileged, pool=pool, guest_type=cfg.type,
                                  hard_affinity=hard, soft_affinity=soft)
        except HypervisorError as exc:
            raise LibxlError(f"failed to create domain {cfg.name}: {exc}") from None
        d.max_memory_kib = max(cfg.maxmem, cfg.memory) * 1024  # XEN_DOMCTL_max_mem
        if pool.sched.name == "credit":
            try:
                pool.sched.adjust(d, {"weight": cfg.cpu_weight, "cap": cfg.cap})
            except SchedParamError as exc:
                hyp.destroy_domain(d)
                raise LibxlError(f"{cfg.name}: {exc}") from None
        rng = random.Random(f"{hyp.seed}:{cfg.name}")
        stats = self.guest_stats.setdefault(d.domid, [])
        guests = []
        for v in d.vcpus:
            guest = GuestVcpu(hyp, v, lambda g: make_program(workload, g, rng))
            guest.boot()
            stats.append(guest.stats)
            guests.append(guest)
        d.info["workload"] = cfg.workload
        d.info["config"] = cfg
        self.io.domain_created(d, cfg, workload.name, guests)
        if not paused:
            hyp.core.domain_unpause(d)
        return d

    def domain_destroy(self, d: Domain) -> None:
        self.hyp.destroy_domain(d)

    def domain_pause(self, d: Domain) -> None:
        self.hyp.core.domain_pause(d)

    def domain_unpause(self, d: Domain) -> None:
        if d.pause_count == 0:
            raise LibxlError(f"domain {d.domid} is not paused")
        self.hyp.core.domain_unpause(d)

    # --- scheduling -------------------------------------------------------------------
    def sched_params(self, d: Domain, params: dict[str, Any] | None = None,
                     scheduler: str | None = None) -> dict[str, Any]:
        """Get or set a domain's parameters; *scheduler* must match its pool's policy."""
        sched = d.pool.sched
        if scheduler is not None and sched.name != scheduler:
            raise LibxlError(f"Scheduler '{scheduler}' is not the scheduler of domain "
                             f"{d.domid}'s cpupool ({sched.name})")
        try:
            return sched.adjust(d, params)
        except SchedParamError as exc:
            raise LibxlError(str(exc)) from None

    def sched_global(self, pool: Cpupool, params: dict[str, Any] | None = None,
                     scheduler: str | None = None) -> dict[str, Any]:
        sched = pool.sched
        if scheduler is not None and sched.name != scheduler:
            raise LibxlError(f"Scheduler '{scheduler}' is not the scheduler of cpupool "
                             f"{pool.name} ({sched.name})")
        try:
            return sched.adjust_global(params)
        except SchedParamError as exc:
            raise LibxlError(str(exc)) from None

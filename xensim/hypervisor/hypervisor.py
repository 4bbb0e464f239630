"""The hypervisor of one simulated host: pCPUs, pools, the domain table, hypercalls.

Mirrors: Xen's boot-time setup (idle domain, Pool-0 with the ``sched=``
policy) and xen/common/domain.c (domain_create, domain_kill,
domain_shutdown, domain_pause_by_systemcontroller).  A new domain is built
paused, as ``XEN_DOMCTL_createdomain`` leaves it; the toolstack unpauses it.
"""

from __future__ import annotations

import random
import uuid
from collections import deque
from collections.abc import Callable
from functools import partial
from typing import Any

from simpy import Environment

from xensim.hypervisor import hypercalls as _hypercalls  # noqa: F401  (registers the PV ABI)
from xensim.hypervisor import sched_op as _sched_op  # noqa: F401  (registers sched_op)
from xensim.hypervisor.cmdline import XenCmdline
from xensim.hypervisor.costs import CostModel
from xensim.hypervisor.cpupool import Cpupool
from xensim.hypervisor.domain import (
    DOMID_FIRST_RESERVED,
    DOMID_IDLE,
    Domain,
    DomainTotals,
    ShutdownReason,
)
from xensim.hypervisor.errno import EBUSY, EEXIST, EINVAL, ENOMEM, ENOSPC
from xensim.hypervisor.evtchn.event_channel import send_guest_vcpu_virq
from xensim.hypervisor.hostkind import host_kind
from xensim.hypervisor.hvm.domain import HvmDomain
from xensim.hypervisor.hypercall import do_hypercall
from xensim.hypervisor.interdomain import setup_interdomain
from xensim.hypervisor.kvm.vm import KvmVm
from xensim.hypervisor.passthrough import PciBus
from xensim.hypervisor.pcpu import PCPU
from xensim.hypervisor.sched import get_scheduler_class, scheduler_names
from xensim.hypervisor.sched.core import SchedCore
from xensim.hypervisor.time import SimTime
from xensim.hypervisor.timer import Timer
from xensim.hypervisor.topology import Topology
from xensim.hypervisor.trace import TraceBuffer
from xensim.hypervisor.vcpu import VCPU, PauseFlag, RunState

XEN_VERSION = (4, 19)
DMESG_LINES = 4096
"""Lines ``xl dmesg`` keeps (Xen's conring is a fixed-size ring, 16 KiB by default)."""


class HypervisorError(Exception):
    """A control operation that Xen refuses; ``errno`` is the negative code."""

    def __init__(self, errno: int, message: str) -> None:
        super().__init__(message)
        self.errno = errno


class Hypervisor:
    """One host's hypervisor, on a SimPy :class:`~simpy.Environment`."""

    def __init__(self, env: Environment, nr_cpus: int, *, scheduler: str | None = None,
                 sched_params: dict[str, Any] | None = None,
                 costs: dict[str, int] | None = None, memory_mib: int = 16384,
                 seed: int = 0, trace: bool = False, kind: str = "xen",
                 topology: Topology | None = None, cmdline: str | None = None) -> None:
        if nr_cpus < 1:
            raise ValueError("a host needs at least one pCPU")
        if topology is not None and topology.nr_cpus != nr_cpus:
            raise ValueError(f"topology {topology.spec} has {topology.nr_cpus} pCPUs, "
                             f"not {nr_cpus}")
        self.topology = topology or Topology.flat(nr_cpus)
        """Sockets, cores and threads (credit's cpu_pick, credit2's run queues, xl info)."""
        self.cmdline = XenCmdline.parse(cmdline)
        """The Xen command line's boot parameters (``xl info``'s xen_commandline)."""
        self.kind = host_kind(kind)
        """What runs the guests: Xen, Linux with KVM, or QEMU alone (see hostkind.py)."""
        self.env = env
        self.costs = CostModel(costs)
        self.trace = TraceBuffer(trace)
        self.seed = seed
        self.rng = random.Random(seed)
        self.core = SchedCore(self)
        self.total_memory_kib = memory_mib * 1024
        self.dmesg: deque[tuple[SimTime, str]] = deque(maxlen=DMESG_LINES)
        """Xen's console ring: the oldest lines go once it is full (simplified: counted
        in lines, not conring's bytes)."""
        self.params: dict[str, object] = {}
        """Runtime parameters set since boot (``xl set-parameters``, see params.py)."""
        self.idle_domain = Domain(DOMID_IDLE, "idle")
        self.pcpus: list[PCPU] = []
        for cpu in range(nr_cpus):
            pcpu = PCPU(cpu)
            idle = VCPU(self.idle_domain, cpu, pcpu, is_idle=True)
            idle.hard_affinity = frozenset({cpu})
            idle.runstate_change(RunState.RUNNING, self.now)
            idle.is_running = True
            pcpu.idle = pcpu.curr = idle
            self.core.setup_pcpu(pcpu)
            self.pcpus.append(pcpu)
            self.idle_domain.vcpus.append(idle)
        self.pools: dict[int, Cpupool] = {}
        self.domains: dict[int, Domain] = {}
        self._by_name: dict[str, list[Domain]] = {}
        """Live domains by name, in creation order (NOTE: an index for speed)."""
        self.totals = DomainTotals()
        """Memory and UUIDs in use, summed over :attr:`domains` as they change."""
        self._next_domid = 0
        self.teardown_hooks: list[Callable[[Domain], None]] = []
        """Subsystems release a dying domain's resources here (ports, grants...)."""
        self.shutdown_hooks: list[Callable[[Domain], None]] = []
        """The toolstack learns of a domain's shutdown here (VIRQ_DOM_EXC)."""
        self.create_hooks: list[Callable[[Domain], None]] = []
        """Subsystems set up a new domain's state here (ports, grant table...)."""
        self.consoles: dict[int, list[str]] = {}
        """Each domain's console output (console_io writes; ``xl console`` reads)."""
        self.console_dropped: dict[int, int] = {}
        """Characters each console has lost off its front to the cap, so a reader can
        tell its position in the stream: dropped + what is kept = all ever written."""
        self.hc_charge = 0
        """Extra ns the hypercall being handled costs beyond entry/exit (see :meth:`charge`)."""
        self.evtchn: Any = None
        self.gnttab: Any = None
        setup_interdomain(self)
        self.pci = PciBus(self)
        """The host's PCI devices, their owners and the IOMMU (``xl pci-*``)."""
        for msg in self.cmdline.messages:
            for line in msg.split("\n"):
                self.log(line)
        scheduler = self._boot_scheduler(scheduler)
        cls = get_scheduler_class(scheduler)
        self.log(f"Using scheduler: {cls.long_name or cls.name} ({cls.name})")
        pool0 = self.cpupool_create("Pool-0", scheduler, sched_params, pool_id=0)
        for pcpu in self.pcpus:
            self.cpupool_assign_cpu(pool0, pcpu, log=False)
        self.log(f"Brought up {nr_cpus} CPUs, {memory_mib} MiB of RAM")

    def _boot_scheduler(self, scheduler: str | None) -> str:
        """Pool-0's policy: the caller's, else ``sched=`` (scheduler_init's fallback)."""
        boot = self.cmdline
        if scheduler is not None:
            if boot.sched_given and boot.sched != scheduler:
                raise ValueError(f"scheduler {scheduler!r} conflicts with sched={boot.sched} "
                                 "on the Xen command line")
            return scheduler
        if boot.sched_given and boot.sched not in scheduler_names():
            self.log(f"Could not find scheduler: {boot.sched}")
            self.log("Using 'SMP Credit Scheduler' (credit)")
            return "credit"
        return boot.sched

    @property
    def now(self) -> SimTime:
        """The clock, integer ns (SimPy types it ``int | float``; compiled, it is checked)."""
        return self.env.now  # type: ignore[return-value]

    # --- console ------------------------------------------------------------------------
    def log(self, msg: str) -> None:
        """A line of the hypervisor console (``xl dmesg``)."""
        self.dmesg.append((self.now, msg))

    def guest_log(self, d: Domain, msg: str) -> None:
        """A guest's line on Xen's console, ``(d1) ...`` (guest_printk): what an HVM
        guest's firmware writes to the debug port 0xE9."""
        self.dmesg.append((self.now, f"(d{d.domid}) {msg}"))

    # --- cpupools -----------------------------------------------------------------------
    def cpupool_create(self, name: str, scheduler: str,
                       sched_params: dict[str, Any] | None = None,
                       pool_id: int | None = None) -> Cpupool:
        if any(p.name == name for p in self.pools.values()):
            raise HypervisorError(EEXIST, f"cpupool {name!r} already exists")
        pid = pool_id if pool_id is not None else max(self.pools, default=-1) + 1
        pool = Cpupool(pid, name)
        pool.sched = get_scheduler_class(scheduler)(self.core, pool, **(sched_params or {}))
        self.pools[pid] = pool
        return pool

    def cpupool_assign_cpu(self, pool: Cpupool, pcpu: PCPU, *, log: bool = True) -> None:
        """Give a free pCPU to *pool* (``xl cpupool-cpu-add``)."""
        if pcpu.pool is not None:
            raise HypervisorError(EBUSY, f"cpu {pcpu.cpu_id} is in cpupool {pcpu.pool.name}")
        pool.add_pcpu(pcpu)
        pool.sched.init_pdata(pcpu)
        if log:
            self.log(f"cpu {pcpu.cpu_id} added to cpupool {pool.name}")

    def cpupool_unassign_cpu(self, pcpu: PCPU) -> None:
        """Take a pCPU out of its pool, moving the vCPUs there elsewhere in the pool.

        Mirrors cpupool_unassign_cpu(): a vCPU whose hard affinity held only
        pCPUs that left the pool has its affinity broken (reset to the pool).
        """
        pool = pcpu.pool
        if pool is None:
            raise HypervisorError(EINVAL, f"cpu {pcpu.cpu_id} is not in any cpupool")
        if len(pool.pcpus) == 1 and pool.n_dom:
            raise HypervisorError(EBUSY, f"cpu {pcpu.cpu_id} is the last of cpupool "
                                         f"{pool.name}, which has domains")
        pool.remove_pcpu(pcpu)
        pcpu.pool = pool  # it still schedules for the pool until its vCPUs have left
        vcpus = [v for d in self.domains.values() if d.pool is pool for v in d.vcpus]
        for v in vcpus:
            if not v.hard_affinity & pool.cpu_ids:
                self.log(f"Breaking affinity for d{v.domain.domid}v{v.vcpu_id}")
                v.hard_affinity = pool.cpu_ids
            pool.sched.adjust_affinity(v)
        leaving = [v for v in vcpus if v.processor is pcpu]
        for v in leaving:
            v.pause_flags |= PauseFlag.MIGRATING
            self.core.vcpu_sleep(v)
        if not pcpu.curr.is_idle:
            self.core.schedule(pcpu)
        for v in leaving:
            self.core.migrate_finish(v)
        pool.sched.deinit_pdata(pcpu)
        pcpu.pool = None
        pcpu.s_timer.stop()
        self.log(f"cpu {pcpu.cpu_id} removed from cpupool {pool.name}")

    def cpupool_destroy(self, pool: Cpupool) -> None:
        if pool.pool_id == 0:
            raise HypervisorError(EBUSY, "cpupool Pool-0 cannot be destroyed")
        if pool.n_dom:
            raise HypervisorError(EBUSY, f"cpupool {pool.name} still has domains")
        for pcpu in list(pool.pcpus):
            self.cpupool_unassign_cpu(pcpu)
        del self.pools[pool.pool_id]
        self.log(f"cpupool {pool.name} destroyed")

    def cpupool_move_domain(self, d: Domain, pool: Cpupool) -> None:
        """``xl cpupool-migrate``: the domain's vCPUs move to *pool*'s policy and pCPUs.

        As Xen's sched_move_domain(), affinities are reset to the new pool.
        """
        if not pool.pcpus:
            raise HypervisorError(EINVAL, f"cpupool {pool.name} has no cpus")
        if d.pool is pool:
            return
        old = d.pool
        self.core.domain_pause(d)
        for v in d.vcpus:
            old.sched.remove(v)
        old.sched.free_domdata(d)
        old.n_dom -= 1
        d.pool = pool
        pool.n_dom += 1
        d.sched_priv = pool.sched.alloc_domdata(d)
        for v in d.vcpus:
            v.hard_affinity = pool.cpu_ids
            v.soft_affinity = None
            v.processor = pool.pcpus[v.vcpu_id % len(pool.pcpus)]
            v.sched_priv = pool.sched.alloc_vdata(v)
            pool.sched.insert(v)
        self.core.domain_unpause(d)
        self.log(f"Domain {d.domid} ({d.name}) moved to cpupool {pool.name}")

    # --- domains ------------------------------------------------------------------------
    @property
    def free_memory_kib(self) -> int:
        return self.total_memory_kib - self.totals.memory_kib

    def _alloc_domid(self) -> int:
        for _ in range(DOMID_FIRST_RESERVED):
            domid = self._next_domid
            self._next_domid = (self._next_domid + 1) % DOMID_FIRST_RESERVED or 1
            if domid not in self.domains:
                return domid
        raise HypervisorError(ENOSPC, "no free domain id")

    def create_domain(self, name: str, nr_vcpus: int, memory_kib: int, *,
                      online_vcpus: int | None = None, privileged: bool = False,
                      pool: Cpupool | None = None, guest_type: str = "pv",
                      hard_affinity: list[frozenset[int]] | None = None,
                      soft_affinity: list[frozenset[int]] | None = None,
                      hap: bool = True) -> Domain:
        """*hard_affinity* / *soft_affinity* give one pCPU set per vCPU (None: all / none).

        A ``pvh`` or ``hvm`` domain is an HVM container (XEN_DOMCTL_CDF_hvm) and gets
        its :class:`~xensim.hypervisor.hvm.domain.HvmDomain`, paged with HAP or, when
        *hap* is false, with shadow page tables (XEN_DOMCTL_CDF_hap unset)."""
        # Built paused, with its vCPUs inserted in the pool's scheduler.
        if nr_vcpus < 1:
            raise HypervisorError(EINVAL, "a domain needs at least one vCPU")
        if memory_kib > self.free_memory_kib:
            raise HypervisorError(
                ENOMEM, f"not enough memory: need {memory_kib // 1024} MiB, "
                        f"{self.free_memory_kib // 1024} MiB free")
        pool = pool or self.pools[0]
        d = Domain(self._alloc_domid(), name, privileged=privileged,
                   memory_kib=memory_kib, guest_type=guest_type)
        if guest_type != "pv":
            (KvmVm if self.kind.name == "kvm" else HvmDomain)(self, d, "hap" if hap else "shadow")
        d.handle = str(uuid.UUID(int=self.rng.getrandbits(128), version=4))
        d.create_time = self.now
        d.pause_count = 1
        d.pool = pool
        pool.n_dom += 1
        d.sched_priv = pool.sched.alloc_domdata(d)
        online = nr_vcpus if online_vcpus is None else online_vcpus
        for i in range(nr_vcpus):
            v = VCPU(d, i, pool.pcpus[i % len(pool.pcpus)])
            v.hard_affinity = hard_affinity[i] if hard_affinity else pool.cpu_ids
            v.soft_affinity = soft_affinity[i] if soft_affinity else None
            v.state_entry_time = self.now
            if i >= online:
                v.pause_flags |= PauseFlag.DOWN
            v.singleshot = Timer(self.env, partial(self.send_timer_event, v))
            d.vcpus.append(v)
        self.domains[d.domid] = d
        self._by_name.setdefault(name, []).append(d)
        self.totals.add(d)
        for v in d.vcpus:
            v.sched_priv = pool.sched.alloc_vdata(v)
            pool.sched.insert(v)
        for hook in self.create_hooks:
            hook(d)
        self.log(f"Created domain {d.domid} ({name}): {nr_vcpus} vCPUs, "
                 f"{memory_kib // 1024} MiB, {guest_type}")
        return d

    def destroy_domain(self, d: Domain) -> None:
        """``domain_kill``: stop its vCPUs, release everything it holds."""
        if d.is_dying:
            return
        d.is_dying = True
        self.core.domain_pause(d)
        now = self.now
        for v in d.vcpus:
            if v.singleshot is not None:
                v.singleshot.stop()
            d.pool.sched.remove(v)
            v.runstate_change(RunState.OFFLINE, now)
        for hook in self.teardown_hooks:
            hook(d)
        d.pool.sched.free_domdata(d)
        d.pool.n_dom -= 1
        del self.domains[d.domid]
        self._unindex_name(d)
        self.totals.remove(d)
        self.consoles.pop(d.domid, None)
        self.console_dropped.pop(d.domid, None)
        self.log(f"Destroyed domain {d.domid} ({d.name})")

    def domain_shutdown(self, d: Domain, reason: ShutdownReason) -> None:
        if d.is_shutdown:
            return
        d.is_shutdown = True
        d.shutdown_code = reason
        self.core.domain_pause(d)
        self.log(f"Domain {d.domid} ({d.name}) shutdown: {reason.name.lower()}")
        for hook in self.shutdown_hooks:
            hook(d)

    def get_domain(self, domid: int) -> Domain | None:
        """``rcu_lock_domain_by_id``: the registry the event/grant modules use."""
        return self.domains.get(domid)

    def domain_by_name(self, name: str) -> Domain | None:
        same = self._by_name.get(name)
        return same[0] if same else None

    def rename_domain(self, d: Domain, name: str) -> None:
        """Give *d* a new name (``xl rename``), keeping the name index right."""
        live = self.domains.get(d.domid) is d
        if live:
            self._unindex_name(d)
        d.name = name
        if live:
            self._by_name.setdefault(name, []).append(d)

    def _unindex_name(self, d: Domain) -> None:
        same = self._by_name[d.name]
        same.remove(d)
        if not same:
            del self._by_name[d.name]

    # --- guests' entry points ------------------------------------------------------------
    def hypercall(self, v: VCPU, nr: int, *args: Any) -> int:
        """A guest's hypercall: 0 or ``-errno``; the host never raises for a guest."""
        if self.trace.enabled:
            self.trace.emit(self.now, v.processor.cpu_id, "hypercall",
                            v.domain.domid, v.vcpu_id, nr)
        self.hc_charge = 0
        return do_hypercall(self, v, nr, args)

    def charge(self, ns: int) -> None:
        """A handler's own work beyond the entry/exit cost (per batch, per entry...)."""
        self.hc_charge += ns

    def send_timer_event(self, v: VCPU) -> None:
        """VIRQ_TIMER for *v*: through its bound port if the kernel bound one, else a
        direct kick (see :mod:`~xensim.hypervisor.interdomain`)."""
        de = v.domain.evtchn
        if de is not None and de.virq_to_evtchn[v.vcpu_id][0]:
            send_guest_vcpu_virq(self.evtchn, v.domain, v.vcpu_id, 0)
            return
        self.vcpu_kick(v)

    def vcpu_kick(self, v: VCPU) -> None:
        """Make *v* take an upcall: wake it if blocked, interrupt it if running."""
        v.upcall_pending = True
        if v.pause_flags & PauseFlag.BLOCKED:
            self.core.vcpu_unblock(v)
        elif v.is_running and v.guest is not None:
            v.guest.on_kick()

"""A libxl-like control layer: what ``xl`` and scenario actions call.

Mirrors: tools/libs/light (libxl_domain_create_new, libxl_domain_destroy,
libxl_domain_pause, libxl_domain_shutdown/reboot, libxl_domain_rename,
libxl_set_vcpuaffinity, libxl_set_vcpuonline, libxl_set_memory_target,
libxl_domain_setmaxmem, libxl_domain_sched_params_set,
libxl_sched_credit_params_set, libxl_device_nic_add/remove,
libxl_device_disk_add/safe_remove/destroy).
It turns a domain configuration into hypervisor operations in libxl's
order: check resources, build the domain (paused), apply scheduler
parameters and affinity, start the guest, unpause unless asked not to.
Errors are :class:`LibxlError` with the message xl prints.

Shutdown and reboot: libxl writes ``control/shutdown`` in xenstore and the
guest's kernel answers with ``SCHEDOP_shutdown``.  The guest's answer is
modelled (it prints ``reboot: Power down`` on its console and) acknowledges after
:data:`GUEST_SHUTDOWN_ACK_NS` of simulated time (later if it is paused,
since a paused kernel reads nothing).  An HVM guest without PV drivers
(``xen_platform_pci = 0``) has no control interface, as in Xen, unless the
caller falls back to the ACPI power button.  What follows the shutdown is
the job of :mod:`xensim.toolstack.death`.

Memory: ``mem-set`` only sets a target (``memory/target`` in xenstore, and
Xen's maxmem to it); the guest's balloon driver moves its reservation there
over simulated time (:mod:`xensim.domains.guest.balloon`).  Devices: added and
removed asynchronously, see :mod:`xensim.toolstack.libxl_device`; the
methods return the operation, which xl waits on.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Container
from dataclasses import replace
from typing import TYPE_CHECKING, Any
from uuid import UUID

from simpy.events import Timeout

from xensim.domains.dom0.hostnet import DEFAULT_BRIDGES, BridgeSpec
from xensim.domains.dom0.iosys import IoSystem
from xensim.domains.dom0.xenstore import XsError
from xensim.domains.guest import classroom as _classroom  # noqa: F401  (registers its workloads)
from xensim.domains.guest import dirty as _dirty  # noqa: F401  (registers memwrite)
from xensim.domains.guest.guest_vcpu import GuestVcpu
from xensim.domains.guest.kernel import booted
from xensim.domains.guest.platform import mode_of, platform_for
from xensim.domains.guest.workloads import WorkloadError, make_program, parse_workload
from xensim.domains.hosted.devices import hosted_devices
from xensim.domains.hosted.platforms import hosted_platform
from xensim.hypervisor.cpumap import CpumapError, parse_cpumap
from xensim.hypervisor.domain import ShutdownReason
from xensim.hypervisor.hostkind import check_guest
from xensim.hypervisor.hypervisor import HypervisorError
from xensim.hypervisor.sched.ops import SchedParamError
from xensim.hypervisor.time import MILLISECS
from xensim.hypervisor.vcpu import PauseFlag
from xensim.qemu_dm.spawn import nic_models, spawn_device_model
from xensim.toolstack import libxl_device as dev
from xensim.toolstack.bootlog import firmware_lines
from xensim.toolstack.cnum import ascii_uint
from xensim.toolstack.consoled import Consoled
from xensim.toolstack.libxl_cdrom import guest_ejected
from xensim.toolstack.libxl_error import (
    ERROR_FAIL,
    ERROR_INVAL,
    ERROR_NOMEM,
    ERROR_NOPARAVIRT,
    LibxlError,
)
from xensim.toolstack.libxl_error import log_error as _log_error
from xensim.toolstack.libxl_pci import LibxlPci
from xensim.toolstack.pcispec import PciSpecError, parse_pci_spec

if TYPE_CHECKING:
    from xensim.hypervisor.cpupool import Cpupool
    from xensim.hypervisor.domain import Domain
    from xensim.hypervisor.hypervisor import Hypervisor
    from xensim.hypervisor.pcpu import PCPU
    from xensim.hypervisor.vcpu import VCPU
    from xensim.toolstack.diskspec import DiskSpec
    from xensim.toolstack.domconfig import DomainConfig
    from xensim.toolstack.vifspec import VifSpec


WEIGHT_CAP_SCHEDULERS = ("credit", "credit2", "cfs")
"""Policies that take ``cpu_weight``/``cap`` from xl.cfg (libxl_domain_sched_params);
cfs maps the weight onto CFS shares (256 -> 1024) and accepts only cap 0."""

GUEST_SHUTDOWN_ACK_NS = MILLISECS(200)
"""How long a guest kernel takes to notice ``control/shutdown`` and act on it
(a watch firing, then an orderly ``poweroff``: modelled as one fixed delay)."""

LIBXL_MIN_DOM0_MEM_KIB = 128 * 1024
"""libxl refuses to balloon dom0 below this (LIBXL_MIN_DOM0_MEM)."""

__all__ = ["GUEST_SHUTDOWN_ACK_NS", "Libxl", "LibxlError", "WEIGHT_CAP_SCHEDULERS"]


class Libxl:
    """Control operations on one host's hypervisor."""

    def __init__(self, hyp: Hypervisor, bridges: tuple[BridgeSpec, ...] = DEFAULT_BRIDGES
                 ) -> None:
        from xensim.toolstack.death import DeathWatcher

        self.hyp = hyp
        self.rng = random.Random(f"libxl:{hyp.seed}")
        """libxl's randomness (libxl_uuid_generate): domain UUIDs and generated MACs."""
        self.guest_stats: dict[int, list[dict[str, Any]]] = {}
        self.create_hooks: list[Callable[[Domain], None]] = []
        """Called with each domain this toolstack creates (the host keeps a list)."""
        self.death = DeathWatcher(self)
        self.io = IoSystem(hyp, bridges)
        """PV I/O: dom0's services and devices, guests' frontends (see domains/dom0/iosys.py)."""
        self.consoled = Consoled(hyp)
        """Guests' consoles as streams (``xl console`` follows them)."""
        self.pci = LibxlPci(self)
        """PCI passthrough: pciback's devices, the guests' (``xl pci-*``, ``pci = [...]``)."""
        self.device_ops: list[dev.DeviceOp] = []
        """Device adds and removes still waiting on a backend."""
        hyp.teardown_hooks.append(self._cancel_device_ops)

    # --- lookup -----------------------------------------------------------------------
    def lookup(self, ident: str | int) -> Domain:
        """A domain by name or domid, as xl's ``find_domain``."""
        text = str(ident)
        domid = ascii_uint(text)  # libxl_domain_qualifier_to_domid: digits, strtoul
        if domid is not None:
            d = self.hyp.domains.get(domid & 0xFFFFFFFF)  # stored in a uint32_t
        else:
            d = self.hyp.domain_by_name(text)
        if d is None:
            raise LibxlError(f"{text} is an invalid domain identifier (rc={ERROR_INVAL})",
                             ERROR_INVAL)
        return d

    def pool_by_name(self, name: str) -> Cpupool:
        for pool in self.hyp.pools.values():
            if pool.name == name:
                return pool
        raise LibxlError(f"cpupool {name!r} does not exist")

    # --- life cycle ---------------------------------------------------------------------
    def _setdefault(self, cfg: DomainConfig, privileged: bool = False) -> DomainConfig:
        """libxl__domain_config_setdefault: a UUID (libxl_uuid_generate) and a MAC for
        each vif without one.  The result is what the domain keeps (``d.info["config"]``)
        and what a reboot re-creates it from, so both survive a restart."""
        # A seeded generator repeats itself after a daemon restart, where real randomness
        # would not: skip what a domain here already has (one restored from a save file).
        # NOTE: for speed (see benchmarks/): the host keeps its domains' UUIDs counted,
        # and the MACs are gathered only when one must be made.
        taken = self.hyp.totals.uuids
        macs = {v.mac for d in self.hyp.domains.values() if d.info.get("config") is not None
                for v in d.info["config"].vifs} if any(not v.mac for v in cfg.vifs) else set()
        uuid = cfg.uuid or (str(UUID(int=0)) if privileged  # dom0's handle is all zeros
                            else _fresh(lambda: str(UUID(int=self.rng.getrandbits(128),
                                                         version=4)), taken))
        vifs = []
        for v in cfg.vifs:
            if not v.mac:
                v = replace(v, mac=_fresh(lambda: dev.random_mac(self.rng), macs))
            macs.add(v.mac)
            vifs.append(v)
        return replace(cfg, uuid=uuid, vifs=tuple(vifs))

    def domain_create(self, cfg: DomainConfig, *, paused: bool = False,
                      privileged: bool = False) -> Domain:
        hyp = self.hyp
        if hyp.domain_by_name(cfg.name) is not None:
            raise LibxlError(f"domain with name \"{cfg.name}\" already exists.")
        cfg = self._setdefault(cfg, privileged)
        spec = cfg.workload
        if privileged and spec == "idle":
            spec = "dom0"  # dom0's kernel runs xenstored and the backends
        try:
            workload = parse_workload(spec)
        except WorkloadError as exc:
            raise LibxlError(f"{cfg.name}: {exc}") from None
        why = None if privileged else check_guest(hyp.kind, cfg.type, cfg.guest_arch)
        if why is not None:
            raise LibxlError(f"{cfg.name}: {why}", ERROR_INVAL)
        if cfg.type == "hvm" and not hyp.kind.hosted:  # before building anything
            try:
                nic_models(list(cfg.vifs))
            except ValueError as exc:
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
        try:
            vifs, disks = dev.config_devices(self.io, cfg, workload.name) \
                if self.io.svc is not None else ([], [])
        except ValueError as exc:
            raise LibxlError(str(exc)) from None
        vifs = [v if v.mac else replace(v, mac=dev.random_mac(self.rng)) for v in vifs]
        need_kib = cfg.memory * 1024
        if need_kib > hyp.free_memory_kib:
            raise LibxlError(
                _log_error("libxl_mem.c", None,
                           f"cannot create {cfg.name}: need {need_kib} KiB, "
                           f"only {hyp.free_memory_kib} KiB free on the host")
                + "\nfailed to free memory for the domain", ERROR_NOMEM)
        maxvcpus = cfg.maxvcpus
        try:
            d = hyp.create_domain(cfg.name, maxvcpus, cfg.memory * 1024, online_vcpus=cfg.vcpus,
                                  privileged=privileged, pool=pool, guest_type=cfg.type,
                                  hard_affinity=hard, soft_affinity=soft, hap=cfg.hap)
        except HypervisorError as exc:
            raise LibxlError(f"failed to create domain {cfg.name}: {exc}") from None
        try:
            return self._build(d, cfg, workload, pool, vifs, disks, paused=paused,
                               privileged=privileged)
        except LibxlError:
            self._undo_create(d)
            raise
        except (XsError, HypervisorError, ValueError) as exc:
            self._undo_create(d)
            raise LibxlError(_log_error("libxl_create.c", d.domid,
                                        f"cannot make domain: {exc}")
                             + f"\nlibxl__domain_make failed for {cfg.name[:64]!r} "
                             f"(rc={ERROR_FAIL})", ERROR_FAIL) from None
        except BaseException:  # a bug: still leave nothing behind, then let it show
            self._undo_create(d)
            raise

    def _undo_create(self, d: Domain) -> None:
        """What libxl's create does when a step fails (``libxl__destroy_domid`` from the
        create callback): destroy the half-built domain and its stub domain, so a failed
        create leaves nothing listed and no memory held."""
        stub = d.info.get("stubdom")
        for dom in ([stub] if stub is not None else []) + [d]:
            if not dom.is_dying:
                self.hyp.destroy_domain(dom)
        self.guest_stats.pop(d.domid, None)

    def _build(self, d: Domain, cfg: DomainConfig, workload: Any, pool: Cpupool,
               vifs: list[Any], disks: list[Any], *, paused: bool,
               privileged: bool) -> Domain:
        """Everything after the domain exists; any failure is undone by the caller."""
        hyp = self.hyp
        d.handle = cfg.uuid  # XEN_DOMCTL_createdomain's handle
        err = [line for devid, vif in enumerate(vifs)
               for line in dev.hotplug_error(self.io, vif, d, devid)]
        if err:  # domcreate_attach_devices: the domain goes again (the caller undoes it)
            raise LibxlError("\n".join(err + [_log_error("libxl_create.c", d.domid,
                                                         "unable to add vif devices")]))
        d.info["platform"] = (hosted_platform(hyp, d, cfg.guest_arch) if hyp.kind.hosted
                              else platform_for(hyp, d, mode_of(cfg)))
        d.max_memory_kib = max(cfg.maxmem, cfg.memory) * 1024  # XEN_DOMCTL_max_mem
        if pool.sched.name in WEIGHT_CAP_SCHEDULERS:
            try:
                pool.sched.adjust(d, {"weight": cfg.cpu_weight, "cap": cfg.cap})
            except SchedParamError as exc:
                raise LibxlError(f"{cfg.name}: {exc}") from None
        rng = random.Random(f"{hyp.seed}:{cfg.name}")
        stats = self.guest_stats.setdefault(d.domid, [])
        guests = []
        for v in d.vcpus:
            guest = GuestVcpu(hyp, v, lambda g: booted(g, make_program(workload, g, rng)))
            guest.boot()
            stats.append(guest.stats)
            guests.append(guest)
        d.info["workload"] = cfg.workload
        d.info["config"] = cfg
        dm = None
        if d.guest_type == "hvm" and self.io.svc is not None and not hyp.kind.hosted:
            # libxl__spawn_local_dm
            try:
                dm = spawn_device_model(self.io, d, cfg, vifs, len(disks))
            except (ValueError, HypervisorError) as exc:  # e.g. no room for a stub domain
                raise LibxlError(f"{cfg.name}: device model: {exc}") from None
        devices = [dev.nic_nodes(d.domid, devid, vif) for devid, vif in enumerate(vifs)]
        devices += [dev.disk_nodes(devid, disk) for devid, disk in disks]
        if dm is not None and not cfg.xen_platform_pci:
            devices = []  # no PV drivers in the guest: it drives qemu's devices
        memory = {"memory/static-max": str(d.max_memory_kib),
                  "memory/target": str(d.memory_kib)}  # libxl__build_post
        if hyp.kind.hosted:
            devices = []  # a Linux host has no xenstore: QEMU gets its devices directly
        self.io.domain_created(d, guests, devices, memory)
        if dm is not None:
            self.io.attach_device_model(d, dm)
            for drive in dm.cdroms:  # xl's disk-eject watch (see libxl_cdrom.py)
                drive.on_guest_eject = lambda dr, d=d: guest_ejected(self, d, dr)
            d.info["firmware"] = firmware_lines(d, cfg)  # it runs once the domain does
        if cfg.pci and not privileged:
            self._add_pcis(d, cfg)
        if hyp.kind.hosted and not privileged:
            try:
                hosted_devices(self.io, d.info["kernel"], cfg, len(vifs), len(disks))
            except ValueError as exc:
                raise LibxlError(f"{cfg.name}: {exc}") from None
        if not paused:
            self._unpause(d)
        # A device-model stub domain is libxl's too: without the hooks the host's
        # metrics (Host.all_domains) would miss its CPU time, the emulation's.
        made = [d] + ([d.info["stubdom"]] if "stubdom" in d.info else [])
        for new in made:
            for hook in self.create_hooks:
                hook(new)
        return d

    def _add_pcis(self, d: Domain, cfg: DomainConfig) -> None:
        """libxl__add_pcis: each ``pci =`` entry; one that fails destroys the domain."""
        try:
            for text in cfg.pci:
                self.pci.device_add(d, parse_pci_spec(text))
        except (LibxlError, PciSpecError) as exc:
            self.hyp.destroy_domain(d)
            msg = str(exc) if isinstance(exc, LibxlError) else \
                f"unable to parse PCI_SPEC_STRING `{text}' for passthrough"
            raise LibxlError(msg + "\n" + _log_error("libxl_create.c", d.domid,
                                                     "unable to add pci devices")) from None

    def domain_destroy(self, d: Domain) -> None:
        self.hyp.destroy_domain(d)

    def domain_pause(self, d: Domain) -> None:
        self.hyp.core.domain_pause(d)

    def domain_unpause(self, d: Domain) -> None:
        if d.pause_count == 0:
            raise LibxlError(f"domain {d.domid} is not paused")
        self._unpause(d)

    def _unpause(self, d: Domain) -> None:
        """Run the domain; an HVM guest's firmware, on its first run, writes hvmloader's
        and the BIOS's lines to Xen's console (port 0xE9)."""
        for line in d.info.pop("firmware", ()):
            self.hyp.guest_log(d, line)
        self.hyp.core.domain_unpause(d)

    def domain_shutdown(self, d: Domain, reason: ShutdownReason = ShutdownReason.POWEROFF,
                        *, acpi_fallback: bool = False) -> None:
        """Ask the guest to power off or reboot; it acts after a short delay."""
        what = "reboot" if reason == ShutdownReason.REBOOT else "shutdown"
        if d.is_privileged:
            raise LibxlError(_log_error("libxl_domain.c", d.domid,
                                        f"xensim cannot {what} the control domain")
                             + f"\n{what} failed (rc={ERROR_FAIL})")
        cfg = d.info.get("config")
        pv_control = cfg is None or cfg.type != "hvm" or cfg.xen_platform_pci
        if not pv_control and not acpi_fallback:
            event = "reset" if what == "reboot" else "power"
            raise LibxlError("PV control interface not available: external graceful "
                             f"{what} not possible.\nUse \"-F\" to fallback to ACPI {event} "
                             f"event.\n{what} failed (rc={ERROR_NOPARAVIRT})", ERROR_NOPARAVIRT)
        if d.is_shutdown or d.is_dying:
            return
        self._guest_ack_later(d, reason)

    def _guest_ack_later(self, d: Domain, reason: ShutdownReason) -> None:
        ev = Timeout(self.hyp.env, GUEST_SHUTDOWN_ACK_NS)
        ev.callbacks.append(lambda _e: self._guest_ack(d, reason))  # type: ignore[union-attr]

    def _guest_ack(self, d: Domain, reason: ShutdownReason) -> None:
        if d.is_dying or d.is_shutdown or self.hyp.domains.get(d.domid) is not d:
            return
        if d.pause_count > 0:  # a paused kernel cannot see the request yet
            self._guest_ack_later(d, reason)
            return
        kernel = d.info.get("kernel")
        if kernel is not None:
            kernel.printk("reboot: Restarting system" if reason == ShutdownReason.REBOOT
                          else "reboot: Power down")
        self.hyp.domain_shutdown(d, reason)

    def domain_rename(self, d: Domain, new_name: str) -> None:
        other = self.hyp.domain_by_name(new_name)
        if other is not None and other is not d:
            raise LibxlError(_log_error("libxl_domain.c", d.domid,
                                        f"domain with name \"{new_name}\" already exists.")
                             + f"\nCan't rename domain '{d.name}'.")
        if not new_name:
            raise LibxlError(f"Can't rename domain '{d.name}'.")
        old = d.name
        self.hyp.rename_domain(d, new_name)
        self.hyp.log(f"Domain {d.domid} renamed from {old} to {new_name}")
        stub = d.info.get("stubdom")
        if stub is not None and not stub.is_dying:
            # libxl__domain_rename renames the device model's stub domain with its guest,
            # so <name>-dm stays unique (rename-restart would otherwise make two "g-dm")
            self.domain_rename(stub, f"{new_name}-dm")

    # --- vCPUs ------------------------------------------------------------------------
    def set_vcpuaffinity(self, d: Domain, vcpuid: int | None, hard: frozenset[int] | None,
                         soft: frozenset[int] | None) -> None:
        """``vcpu-pin``: *vcpuid* None means every vCPU; a None mask is left alone."""
        pool_cpus = d.pool.cpu_ids
        if hard is not None and not hard & pool_cpus:
            raise LibxlError(_log_error("libxl_sched.c", d.domid,
                                        "setting vcpu affinity: Invalid argument"), ERROR_INVAL)
        vcpus = d.vcpus if vcpuid is None else [v for v in d.vcpus if v.vcpu_id == vcpuid]
        if not vcpus:
            raise LibxlError(_log_error("libxl_sched.c", d.domid,
                                        f"vcpu {vcpuid} does not exist: Invalid argument"),
                             ERROR_INVAL)
        for v in vcpus:
            self.hyp.core.set_affinity(v, hard & pool_cpus if hard is not None else None, soft)

    def set_vcpuonline(self, d: Domain, nr: int) -> None:
        """Bring vCPUs 0..nr-1 online and the rest offline (the guest obeys at once;
        in Xen it reads ``cpu/N/availability`` and calls VCPUOP_up/down)."""
        if nr < 1 or nr > d.max_vcpus:
            raise LibxlError(_log_error("libxl_domain.c", d.domid,
                                        f"Requested {nr} VCPUs, however maxcpus is "
                                        f"{d.max_vcpus}!") + "\n"
                             f"libxl_set_vcpuonline failed domid={d.domid} max_vcpus={nr}, "
                             f"rc: {ERROR_FAIL}")
        core = self.hyp.core
        for v in d.vcpus:
            down = bool(v.pause_flags & PauseFlag.DOWN)
            if v.vcpu_id < nr and down:
                v.pause_flags &= ~PauseFlag.DOWN
                core.vcpu_wake(v)
            elif v.vcpu_id >= nr and not down:
                # Xen's vcpu_down(): pause, mark down, unpause
                core.vcpu_pause(v)
                v.pause_flags |= PauseFlag.DOWN
                if v.is_running:
                    core.schedule(v.processor)
                core.vcpu_unpause(v)

    # --- memory -----------------------------------------------------------------------
    def set_memory_target(self, d: Domain, target_kib: int) -> None:
        """``mem-set``: write the balloon target (and make it Xen's maxmem); the guest's
        balloon driver gets there over time.  Refused above ``memory/static-max`` (the
        config's maxmem) and, for dom0, below LIBXL_MIN_DOM0_MEM."""
        static_max = self._memory_node(d, "static-max", d.max_memory_kib)
        if target_kib > static_max:
            raise LibxlError(_log_error("libxl_mem.c", d.domid,
                                        "memory_dynamic_max must be less than or equal to "
                                        "memory_static_max"), ERROR_INVAL)
        if d.domid == 0 and target_kib < LIBXL_MIN_DOM0_MEM_KIB:
            raise LibxlError(_log_error("libxl_mem.c", 0, f"New target {target_kib} for dom0 "
                                        "is below the minimum threshold"), ERROR_INVAL)
        d.max_memory_kib = target_kib  # enforce: xc_domain_setmaxmem
        self._write_memory_node(d, "target", target_kib)
        self.hyp.log(f"Domain {d.domid} ({d.name}): memory target {target_kib // 1024} MiB")

    def domain_setmaxmem(self, d: Domain, max_kib: int) -> None:
        """``mem-max``: Xen's ceiling for the domain (the balloon cannot grow past it);
        ``memory/static-max`` stays as it is, as in libxl."""
        if max_kib < self._memory_node(d, "target", d.memory_kib):
            raise LibxlError(_log_error("libxl_mem.c", d.domid,
                                        "memory_static_max must be greater than or or equal "
                                        "to memory_dynamic_max"), ERROR_INVAL)
        d.max_memory_kib = max_kib

    def _memory_node(self, d: Domain, name: str, default: int) -> int:
        """``memory/<name>`` in KiB; dom0's are filled in on first use, from what Xen
        reports (libxl__fill_dom0_memory_info)."""
        if self.io.xsd is None:
            return default
        path = f"/local/domain/{d.domid}/memory/{name}"
        try:
            return int(self.io.store.read(0, path))
        except XsError:
            if d.domid != 0:
                raise LibxlError(_log_error("libxl_mem.c", d.domid,
                                            f"Cannot get memory info from {path}")) from None
        self._write_memory_node(d, "target", d.memory_kib)
        self._write_memory_node(d, "static-max", d.max_memory_kib)
        return default

    def _write_memory_node(self, d: Domain, name: str, kib: int) -> None:
        if self.io.xsd is not None:
            self.io.store.write(0, f"/local/domain/{d.domid}/memory/{name}", str(kib))
            self.io.xsd.flush()

    # --- devices ----------------------------------------------------------------------
    def device_nic_add(self, d: Domain, vif: VifSpec) -> dev.DeviceOp:
        """``network-attach``: done once the backend is in InitWait and vif-bridge ran."""
        self._devices_ok(d)
        return dev.add_nic(self, d, vif)

    def device_disk_add(self, d: Domain, disk: DiskSpec) -> dev.DeviceOp:
        """``block-attach``."""
        self._devices_ok(d)
        try:
            return dev.add_disk(self, d, disk)
        except ValueError as exc:
            raise LibxlError(str(exc), ERROR_INVAL) from None

    def device_nic_remove(self, d: Domain, devid: int) -> dev.DeviceOp:
        """``network-detach``: waits for the guest, then forces after the timeout."""
        return dev.DeviceRemove(self, d, "vif", devid, dev.Force.AUTO)

    def device_disk_remove(self, d: Domain, devid: int, *, force: bool = False) -> dev.DeviceOp:
        """``block-detach``: safe_remove (fails if the guest does not let go in time), or
        with *force* destroy (the guest's frontend directory goes first)."""
        return dev.DeviceRemove(self, d, "vbd", devid, dev.Force.ON if force else dev.Force.OFF)

    def device_list(self, d: Domain, kind: str) -> dict[int, dict[str, str]]:
        """The domain's devices of *kind* ("vif" or "vbd") by devid, frontend keys each."""
        return dev.devices(self.io, d.domid, kind) if self.io.xsd is not None else {}

    def _devices_ok(self, d: Domain) -> None:
        if self.io.xsd is None or d.domid == 0 or d.is_dying:
            raise LibxlError(_log_error("libxl_device.c", d.domid, "xensim: this domain has no "
                                        "PV frontends (Domain-0 and dying domains have none)"))

    def _cancel_device_ops(self, d: Domain) -> None:
        for op in [op for op in self.device_ops if op.d is d]:
            op.cancel()

    # --- scheduling -------------------------------------------------------------------
    def sched_params(self, d: Domain, params: dict[str, Any] | None = None,
                     scheduler: str | None = None) -> dict[str, Any]:
        """Get or set a domain's parameters; *scheduler* must match its pool's policy."""
        sched = d.pool.sched
        if scheduler is not None and sched.name != scheduler:
            raise LibxlError(f"Domain {d.domid}: this domain's cpupool {d.pool.name} does not "
                             f"use the {scheduler} scheduler (it uses {sched.name})")
        try:
            return sched.adjust(d, params)
        except SchedParamError as exc:
            raise LibxlError(str(exc)) from None

    def sched_vcpu_params(self, v: VCPU, params: dict[str, Any] | None = None,
                          scheduler: str | None = None) -> dict[str, Any]:
        """Per-vCPU parameters (RTDS's ``xl sched-rtds -v``)."""
        sched = v.domain.pool.sched
        if scheduler is not None and sched.name != scheduler:
            raise LibxlError(f"Domain {v.domain.domid}: this domain's cpupool "
                             f"{v.domain.pool.name} does not use the {scheduler} scheduler "
                             f"(it uses {sched.name})")
        try:
            return sched.adjust_vcpu(v, params)
        except SchedParamError as exc:
            raise LibxlError(str(exc)) from None

    def sched_global(self, pool: Cpupool, params: dict[str, Any] | None = None,
                     scheduler: str | None = None) -> dict[str, Any]:
        sched = pool.sched
        if scheduler is not None and sched.name != scheduler:
            raise LibxlError(f"cpupool {pool.name} does not use the {scheduler} scheduler "
                             f"(it uses {sched.name})")
        try:
            return sched.adjust_global(params)
        except SchedParamError as exc:
            raise LibxlError(str(exc)) from None

    # --- cpupools -----------------------------------------------------------------------
    def cpupool_create(self, name: str, scheduler: str, cpus: str | list[str] | None = None,
                       params: dict[str, Any] | None = None) -> Cpupool:
        """A new pool with *scheduler*, taking the free pCPUs that *cpus* names."""
        hyp = self.hyp
        try:
            wanted = parse_cpumap(cpus, len(hyp.pcpus)) if cpus is not None else frozenset()
        except CpumapError as exc:
            raise LibxlError(f"cpupool {name}: cpus: {exc}") from None
        busy = sorted(c for c in wanted if hyp.pcpus[c].pool is not None)
        if busy:
            raise LibxlError(f"cpupool {name}: cpu {busy[0]} is already in cpupool "
                             f"{hyp.pcpus[busy[0]].pool.name}; remove it first "
                             "(xl cpupool-cpu-remove)")
        try:
            pool = hyp.cpupool_create(name, scheduler, params)
        except HypervisorError as exc:
            raise LibxlError(f"cpupool {name}: {exc}") from None
        except (ValueError, SchedParamError) as exc:
            raise LibxlError(f"cpupool {name}: {exc}") from None
        for c in sorted(wanted):
            hyp.cpupool_assign_cpu(pool, hyp.pcpus[c])
        return pool

    def cpupool_cpu_add(self, pool: Cpupool, cpu: int) -> None:
        self._call(self.hyp.cpupool_assign_cpu, pool, self._pcpu(cpu))

    def cpupool_cpu_remove(self, pool: Cpupool, cpu: int) -> None:
        pcpu = self._pcpu(cpu)
        if pcpu.pool is not pool:
            raise LibxlError(f"cpu {cpu} is not in cpupool {pool.name}")
        self._call(self.hyp.cpupool_unassign_cpu, pcpu)

    def cpupool_destroy(self, pool: Cpupool) -> None:
        self._call(self.hyp.cpupool_destroy, pool)

    def cpupool_migrate(self, d: Domain, pool: Cpupool) -> None:
        if d.domid == 0:
            raise LibxlError("Domain-0 cannot be moved to another cpupool")
        self._call(self.hyp.cpupool_move_domain, d, pool)

    def _pcpu(self, cpu: int) -> PCPU:
        if not 0 <= cpu < len(self.hyp.pcpus):
            raise LibxlError(f"cpu {cpu} does not exist (the host has {len(self.hyp.pcpus)})")
        return self.hyp.pcpus[cpu]

    @staticmethod
    def _call(fn: Any, *args: Any) -> None:
        try:
            fn(*args)
        except HypervisorError as exc:
            raise LibxlError(str(exc)) from None


def _fresh(generate: Callable[[], str], taken: Container[str | None]) -> str:
    """The generator's next value that is not in *taken*."""
    value = generate()
    while value in taken:
        value = generate()
    return value

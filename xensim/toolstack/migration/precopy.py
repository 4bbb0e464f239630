"""Live migration as xl, libxl and libxc do it: pre-copy rounds, suspend, stop-and-copy.

Mirrors: tools/libs/guest/xg_sr_save.c (send_domain_memory_live: log-dirty on,
round 1 sends every page, each later round the pages dirtied during the one
before, ``simple_precopy_policy`` -- stop after SPP_MAX_ITERATIONS = 5
rounds or once fewer than SPP_TARGET_DIRTY_COUNT = 50 pages are dirty --,
then suspend_and_send_dirty; with ``--debug`` a verify pass resends every
page), xg_sr_common.h (MAX_BATCH_SIZE = 1024 pages per PAGE_DATA record),
tools/libs/light/libxl_dom_suspend.c (a PV or PV-driver guest is asked
through xenstore ``control/shutdown = "suspend"`` and answers with
SCHEDOP_shutdown(SHUTDOWN_suspend); an HVM guest without PV drivers is
suspended by Xen directly; an HVM guest's device model saves its state,
libxl__domain_suspend_device_model) and tools/xl/xl_migrate.c (the two
sides' messages, the rename to ``NAME--migratedaway`` / from
``NAME--incoming``, the failure paths).

Where the work runs: the sending helper is a dom0 process, so each batch is
a work item on a dom0 vCPU of the source (it maps and copies the pages:
``migrate_send_page``) before it goes on the link; the receiving helper's
work (``migrate_recv_page``) queues on the destination's dom0.  A starved
dom0 therefore slows the migration, and the migration's work delays the
backends queued behind it on the same dom0 vCPU.  The wire is a
:class:`~xensim.site.link.Link`; the sender's writes return once what is
left fits its socket buffer (:data:`SOCKET_BUFFER`).

What moves and what is rebuilt (all hosts live in one Python process): the
stream ends with the xl save file of :mod:`xensim.toolstack.savefile`
(config with the MACs libxl generated, uuid, vCPU run times, scheduler
parameters, xenstore, counters), which the receiver reads and rebuilds with
``restore_domain``: a new domid, its own event channels, grant table,
xenstore directories and backends, which the guest's frontends reconnect to
on resume, as Linux's do.  Its memory is the page data counted on the link.
The guest's workload program restarts on the destination from the top of
its loop (what it held in flight is lost, as a TCP connection's
unacknowledged data would be retransmitted), while its external clients
(``io_workloads.LanClient``) keep their state and follow it when it
announces itself (gratuitous ARP).  The source's domain is destroyed
through libxl, so nothing of it is left (docs/migration.md has the table).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from simpy import Event

from xensim.domains.guest.dirty import GuestMemory, profile_for
from xensim.hypervisor.domain import ShutdownReason
from xensim.hypervisor.logdirty import LogDirty
from xensim.hypervisor.time import MICROSECS, MILLISECS, SECONDS, SimTime
from xensim.toolstack.death import HANDLED
from xensim.toolstack.libxl_error import LibxlError, log_error
from xensim.toolstack.libxl_json import domain_config_json, yajl_dumps
from xensim.toolstack.savefile import capture_domain, encode_image, read_image, restore_domain
from xensim.toolstack.savefile.header import pack_header

if TYPE_CHECKING:
    from xensim.host import Host
    from xensim.hypervisor.domain import Domain
    from xensim.site.link import Link
    from xensim.toolstack.domconfig import DomainConfig

SPP_MAX_ITERATIONS = 5
SPP_TARGET_DIRTY_COUNT = 50
MAX_BATCH_SIZE = 1024
PAGE_SIZE = 4096
PAGE_DATA_OVERHEAD = 16
"""Bytes of a PAGE_DATA record besides the pages: record header and count (xg_sr_stream_format)."""
PFN_BYTES = 8
"""Each page's pfn/type word in a PAGE_DATA record."""
VCPU_STATE_BYTES = 4096
"""A vCPU's context record (X86_PV_VCPU_BASIC plus extended/xsave/msrs, or its share of
HVM_CONTEXT): about a page each, counted on the wire beside the save file's state record."""
HVM_CONTEXT_BYTES = 16384
"""HVM_CONTEXT/HVM_PARAMS records: Xen's platform devices (vLAPIC, vIOAPIC, PIT, RTC...)."""
QEMU_STATE_BYTES = 131072
"""EMULATOR_CONTEXT: qemu's saved device state (a few devices and their buffers)."""
GUEST_SUSPEND_NS = MILLISECS(5)
"""Time a PV Linux guest takes from the xenstore watch to SCHEDOP_shutdown(suspend):
xenbus's watch thread, freeze_processes, dpm_suspend, stop_machine (estimate)."""
SOCKET_BUFFER = 1 << 20
"""Bytes the sending helper's TCP socket holds beyond the wire: its write() returns once
the rest fits (Linux autotunes a bulk sender's buffer to about this on a LAN; estimate).
What is still buffered when the guest is suspended adds to the downtime."""
SUSPEND_TIMEOUT_NS = SECONDS(60)
"""libxl gives a guest this long to answer the suspend request (libxl_dom_suspend.c)."""
POLL_NS = MICROSECS(500)
"""How often a side waiting on the other re-checks the link."""


MIGRATING = "migration"
"""``Domain.info`` key of the migration a domain is in (one at a time)."""


class MigrationFailed(Exception):
    """The stream broke or the target refused: the lines xl prints are in the message."""


@dataclass
class Round:
    """One pass over the pages: what it sent and when."""

    number: int
    pages: int
    bytes: int
    start_ns: SimTime
    end_ns: SimTime = 0
    kind: str = "live"
    """``live`` (guest running), ``final`` (suspended), ``verify`` (--debug)."""

    def as_dict(self) -> dict[str, Any]:
        return {"round": self.number, "kind": self.kind, "pages": self.pages,
                "bytes": self.bytes, "start_ms": self.start_ns / 1e6,
                "duration_ms": (self.end_ns - self.start_ns) / 1e6}


class Migration:
    """``xl migrate DOMAIN HOST``: one live migration from *src* to *dst* over *link*."""

    def __init__(self, src: Host, dst: Host, link: Link, domain: Domain, *,
                 paused_after: bool = False, debug: bool = False,
                 config: DomainConfig | None = None) -> None:
        self.src, self.dst, self.link, self.domain = src, dst, link, domain
        self.paused_after = paused_after
        """``-p``: leave the guest paused on the target."""
        self.debug = debug
        """``--debug``: libxc's verify pass after the last round."""
        self.config = config
        """``-C``: the configuration the target builds the guest from."""
        self.name, self.handle = domain.name, domain.handle
        self.lines: list[tuple[SimTime, str]] = []
        """What xl prints on the sender's terminal (both sides' lines), with their times."""
        self.rounds: list[Round] = []
        self.state = "running"
        self.start_ns = self.end_ns = self.suspend_ns = self.resume_ns = 0
        self.dom0_ns = {"source": 0, "target": 0}
        """Work the two helpers queued on their dom0s."""
        self.logdirty = LogDirty(src.hv, domain)
        self.memory = GuestMemory(domain, profile_for(domain.info["config"].workload),
                                  src.env.now)
        self.config_json: dict[str, Any] = {}
        self.image = b""
        """The save file sent at the end of the stream (:mod:`xensim.toolstack.savefile`)."""
        self.state_bytes = 0
        self.target_domain: Domain | None = None
        self._recv_pages = self._sent_pages = 0

    def start(self) -> Migration:
        env = self.src.env
        self.start_ns = env.now
        self.domain.info[MIGRATING] = self
        env.process(self._run())
        if self.src.site is not None:
            self.src.site.migrations.append(self)
        return self

    @property
    def done(self) -> bool:
        return self.state != "running"

    def say(self, line: str) -> None:
        self.lines.append((self.src.env.now, line))

    def _run(self) -> Generator[Event, Any, None]:
        try:
            yield from self._migrate()
            self.state = "done"
        except MigrationFailed as exc:
            for line in str(exc).splitlines():
                self.say(line)
            self.state = "failed"
        self.end_ns = self.src.env.now
        self.domain.info.pop(MIGRATING, None)
        for rnd in self.rounds:
            rnd.end_ns = rnd.end_ns or self.end_ns

    # --- the two sides ---------------------------------------------------------------
    def _migrate(self) -> Generator[Event, Any, None]:
        env, d = self.src.env, self.domain
        yield env.timeout(2 * self.link.latency_ns)  # ssh brings up the receiver
        if not self.link.up:
            raise MigrationFailed(self._broken("banner"))
        self.say("migration target: Ready to receive domain.")
        cfg = self._saved_config()
        self.config_json = domain_config_json(cfg, d, self.src.toolstack, extensions=True)
        self.config_json["c_info"]["uuid"] = d.handle
        _head, hdr = pack_header(yajl_dumps(self.config_json))
        self.say(f"Saving to migration stream new xl format (info {hdr.info()})")
        self._check_target_memory(cfg)
        kind = "HVM" if d.guest_type != "pv" else "PV"
        self.say(f"xc: info: Saving domain {d.domid}, type x86 {kind}")
        yield from self._save(d)
        yield from self._wait_received()
        target = self._restore(cfg)
        yield from self._handshake(d, target, cfg)

    def _check_target_memory(self, cfg: DomainConfig) -> None:
        """The receiver builds the domain before it reads the pages: no room, no migration
        (libxl's memory check, with its message, on the target)."""
        need, free = cfg.memory * 1024, self.dst.hv.free_memory_kib
        if need > free:
            raise MigrationFailed(
                log_error("libxl_mem.c", None, f"cannot create {self.name}--incoming: need "
                          f"{need} KiB, only {free} KiB free on the host")
                + "\nfailed to free memory for the domain\n"
                "migration target: Domain creation failed (code -3).\n"
                + self._sender_fails())

    def _restore(self, cfg: DomainConfig) -> Domain:
        """The receiver: the save file that crossed the link, read and rebuilt paused as
        ``NAME--incoming`` (libxl_domain_create_restore)."""
        try:
            image = read_image(self.image, "<incoming migration stream>")
            for line in image.messages:
                self.say(line)
            self.say("Parsing config from <saved>")
            incoming = dataclasses.replace(image.config or cfg, name=f"{self.name}--incoming")
            target = restore_domain(self.dst.toolstack, self.image, paused=True,
                                    config=incoming)
        except LibxlError as exc:
            raise MigrationFailed(f"{exc}\nmigration target: Domain creation failed "
                                  "(code -3).\n" + self._sender_fails()) from None
        kind = "HVM" if target.guest_type != "pv" else "PV"
        self.say(f"xc: info: Found x86 {kind} domain from Xen 4.19")
        self.say("xc: info: Restoring domain")
        self.say("xc: info: Restore successful")
        self.target_domain = target
        return target

    def _saved_config(self) -> DomainConfig:
        """The config xl sends: the one from creation (or ``-C``), with the MACs libxl
        generated filled in, as libxl's stored JSON config has them."""
        stored: DomainConfig = self.domain.info["config"]  # libxl filled in uuid and MACs
        cfg = self.config or stored
        macs = [v.mac for v in stored.vifs]
        vifs = tuple(v if v.mac or i >= len(macs) else dataclasses.replace(v, mac=macs[i])
                     for i, v in enumerate(cfg.vifs))
        return dataclasses.replace(cfg, name=self.name, vifs=vifs)

    # --- the sending helper (libxc's save loop) -----------------------------------------
    def _save(self, d: Domain) -> Generator[Event, Any, None]:
        self.memory.start(self.src.env.now)  # SHADOW_OP_ENABLE_LOGDIRTY: writes count from now
        nr_pages = d.memory_kib * 1024 // PAGE_SIZE
        dirty, iteration, x = nr_pages, 0, 0
        while True:
            decision_continue = self._policy(dirty, iteration)
            x += 1
            if dirty > 0:
                yield from self._send_round(x, dirty, "live")
            if not decision_continue:
                break
            iteration = x
            if not self._policy(-1, iteration):
                break
            dirty = yield from self._clean()
        yield from self._suspend(d)
        dirty = yield from self._clean()
        yield from self._send_round(x + 1, dirty, "final")
        if self.debug:  # LIBXL_SUSPEND_DEBUG: verify_frames sends every page again
            yield from self._send_round(x + 2, nr_pages, "verify")
        # the end of the stream: the save file (xl header, JSON config, the state record)
        self.image, _hdr = encode_image(self.config_json,
                                        capture_domain(self.src.toolstack, d),
                                        page_rounds=len(self.rounds))
        state = len(self.image) + VCPU_STATE_BYTES * len(d.vcpus)
        if d.guest_type != "pv":
            state += HVM_CONTEXT_BYTES + (QEMU_STATE_BYTES if "device_model" in d.info else 0)
        self.state_bytes = state
        yield from self._stream(state, -(-state // PAGE_SIZE), None)

    @staticmethod
    def _policy(dirty: int, iteration: int) -> bool:
        """simple_precopy_policy: True to continue pre-copying."""
        stop = (0 <= dirty < SPP_TARGET_DIRTY_COUNT) or iteration >= SPP_MAX_ITERATIONS
        return not stop

    def _clean(self) -> Generator[Event, Any, int]:
        """XEN_DOMCTL_SHADOW_OP_CLEAN from the helper: the dirty count, at dom0's expense."""
        self.memory.sync(self.logdirty, self.src.env.now)
        dirty = self.logdirty.clean()
        yield self._dom0_work(self.src, "source", self.logdirty.clean_cost_ns(dirty) + 1,
                              "hypervisor")
        return dirty

    def _send_round(self, number: int, pages: int, kind: str) -> Generator[Event, Any, None]:
        rnd = Round(number, pages, 0, self.src.env.now, kind=kind)
        self.rounds.append(rnd)
        left = pages
        while left:
            n = min(MAX_BATCH_SIZE, left)
            left -= n
            nbytes = PAGE_DATA_OVERHEAD + n * (PFN_BYTES + PAGE_SIZE)
            yield from self._stream(nbytes, n, rnd)
        rnd.end_ns = self.src.env.now

    def _stream(self, nbytes: int, pages: int, rnd: Round | None) -> Generator[Event, Any, None]:
        """Map and copy *pages* on the source dom0, then write *nbytes* to the link."""
        env, d = self.src.env, self.domain
        if d.is_dying:
            raise MigrationFailed(f"xc: error: Domain {d.domid} has been destroyed: "
                                  "Internal error\n" + self._sender_fails())
        yield self._dom0_work(self.src, "source",
                              pages * self.src.hv.costs["migrate_send_page"], "migrate")
        if not d.is_shutdown:
            self.memory.sync(self.logdirty, env.now)
        if not self.link.up:
            raise MigrationFailed(self._broken("page data"))
        free = self.link.transmit(self.src.name, nbytes, lambda: self._received(pages))
        self._sent_pages += pages
        if rnd is not None:
            rnd.bytes += nbytes
        ahead = free - env.now - self.link.ps_per_byte * SOCKET_BUFFER // 1000
        if ahead > 0:  # write() blocks until the rest fits in the socket buffer
            yield env.timeout(ahead)

    def _received(self, pages: int) -> None:
        """A batch arrived: the receiving helper copies it into the new domain."""
        ev = self._dom0_work(self.dst, "target",
                             pages * self.dst.hv.costs["migrate_recv_page"], "migrate")
        ev.callbacks.append(lambda _e: self._count_received(pages))  # type: ignore[union-attr]

    def _count_received(self, pages: int) -> None:
        self._recv_pages += pages

    def _wait_received(self) -> Generator[Event, Any, None]:
        env = self.src.env
        while self._recv_pages < self._sent_pages:
            if not self.link.up:
                raise MigrationFailed(self._broken("end of stream"))
            yield env.timeout(POLL_NS)

    def _dom0_work(self, host: Host, side: str, ns: int, kind: str) -> Event:
        """Queue *ns* of *kind* work on *host*'s dom0 (the helper's vCPU); fires when done."""
        env = host.env
        ev = env.event()
        svc = host.toolstack.io.svc
        self.dom0_ns[side] += ns
        svc.post(svc.nr_vcpus - 1, lambda: (ns, ev.succeed), kind)
        return ev

    # --- suspend (libxl_dom_suspend.c) ----------------------------------------------------
    def _suspend(self, d: Domain) -> Generator[Event, Any, None]:
        env = self.src.env
        cfg = d.info["config"]
        io = self.src.toolstack.io
        if d.guest_type == "pv" or cfg.xen_platform_pci:
            io.store.write(0, f"/local/domain/{d.domid}/control/shutdown", "suspend")
            waited = 0
            while True:  # the guest's kernel reads the request when it runs
                yield env.timeout(GUEST_SUSPEND_NS)
                waited += GUEST_SUSPEND_NS
                if d.pause_count == 0 or d.is_dying:
                    break
                if waited >= SUSPEND_TIMEOUT_NS:  # a paused guest never answers
                    io.store.write(0, f"/local/domain/{d.domid}/control/shutdown", "")
                    raise MigrationFailed(
                        log_error("libxl_dom_suspend.c", d.domid,
                                  "guest did not suspend, timed out")
                        + "\nmigration sender: libxl_domain_suspend failed (rc=-8)\n"
                        "Migration failed, failed to suspend at sender.")
            io.store.write(0, f"/local/domain/{d.domid}/control/shutdown", "")
        if d.is_dying:
            raise MigrationFailed(f"xc: error: Domain {d.domid} has been destroyed: "
                                  "Internal error\n" + self._sender_fails())
        self.src.hv.domain_shutdown(d, ShutdownReason.SUSPEND)
        self.suspend_ns = env.now
        if "device_model" in d.info:  # libxl__qmp_suspend_save: qemu writes its state
            yield self._dom0_work(self.src, "source", self.src.hv.costs["qemu_save_state"],
                                  "qemu")

    def _resume_source(self) -> None:
        """libxl_domain_resume(suspend_cancel): the guest returns from its suspend."""
        d = self.domain
        if d.is_dying or not d.is_shutdown:
            return
        d.is_shutdown, d.shutdown_code = False, None
        d.info.pop(HANDLED, None)
        self.src.hv.core.domain_unpause(d)
        self.suspend_ns = 0

    # --- the end: xl_migrate.c's handshake -----------------------------------------------
    def _handshake(self, d: Domain, target: Domain, cfg: DomainConfig
                   ) -> Generator[Event, Any, None]:
        env, lat = self.src.env, self.link.latency_ns
        self.say("migration target: Transfer complete, requesting permission to start "
                 "domain.")
        yield env.timeout(lat)
        self.say("migration sender: Target has acknowledged transfer.")
        self.src.toolstack.domain_rename(d, f"{self.name}--migratedaway")
        self.say("migration sender: Giving target permission to start.")
        yield env.timeout(lat)
        self.say("migration target: Got permission, starting domain.")
        self.dst.toolstack.domain_rename(target, self.name)
        target.info["config"] = cfg
        self._follow_clients(target)
        if not self.paused_after:
            self.dst.toolstack.domain_unpause(target)
        self.resume_ns = env.now
        self.say("migration target: Domain started successsfully.")
        yield env.timeout(lat)
        self.say("migration sender: Target reports successful startup.")
        self.src.toolstack.domain_destroy(d)
        self.say("Migration successful.")

    def _follow_clients(self, target: Domain) -> None:
        """The guest lives on as *target*: its LAN clients keep talking to it (they
        reach it once its netfront announces it, see io_workloads.lan_client)."""
        for client in self.src.toolstack.io.ext.clients.values():
            if client.flow[1] == self.handle:
                client.domain = target

    # --- failures ---------------------------------------------------------------------------
    def _broken(self, what: str) -> str:
        return (f"xc: error: Failed to write {what} to stream (32 = Broken pipe): "
                "Internal error\n" + self._sender_fails())

    def _sender_fails(self) -> str:
        self._resume_source()
        return ("migration sender: libxl_domain_suspend failed (rc=-3)\n"
                "Migration failed, resuming at sender.")

    # --- what it reports -------------------------------------------------------------------
    def clients(self) -> list[Any]:
        """The guest's LAN clients (:class:`~xensim.domains.guest.io_workloads.LanClient`)."""
        ext = self.src.toolstack.io.ext
        return [c for c in ext.clients.values() if c.flow[1] == self.handle]

    def client_gaps(self) -> list[dict[str, Any]]:
        """For each LAN client of the guest, as a user sees it: ``switch_gap_ms``, the
        silence across the switch-over (from the last reply before the guest resumed on
        the target to the first after), and ``max_gap_ms``, the longest silence from the
        last reply before the migration to a second after it."""
        out = []
        hi = (self.end_ns if self.done else self.src.env.now) + MILLISECS(1000)
        for client in self.clients():
            times = [t for t, _ in client.replies if self.start_ns <= t <= hi]
            before = [t for t, _ in client.replies if t < self.start_ns]
            if before:
                times.insert(0, before[-1])
            gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
            switch = None
            if self.resume_ns:
                after = [i for i, t in enumerate(times) if t > self.resume_ns]
                if after and after[0] > 0:
                    switch = (times[after[0]] - times[after[0] - 1]) / 1e6
            out.append({"client": client.flow[0], "switch_gap_ms": switch,
                        "max_gap_ms": max(gaps, default=0) / 1e6, "replies": len(times)})
        return out

    def report(self) -> dict[str, Any]:
        pages = sum(r.pages for r in self.rounds)
        nbytes = sum(r.bytes for r in self.rounds)
        return {
            "domain": self.name, "from": self.src.name, "to": self.dst.name,
            "state": self.state, "start_ms": self.start_ns / 1e6,
            "total_ms": (self.end_ns - self.start_ns) / 1e6 if self.done else None,
            "downtime_ms": ((self.resume_ns - self.suspend_ns) / 1e6
                            if self.resume_ns and self.suspend_ns else None),
            "rounds": [r.as_dict() for r in self.rounds],
            "pages": pages, "bytes": nbytes,
            "state_bytes": self.state_bytes,
            "bandwidth_mbit": self.link.bandwidth_mbit,
            "dom0_cpu_ms": {k: v / 1e6 for k, v in self.dom0_ns.items()},
            "logdirty_faults": self.logdirty.faults,
            "clients": self.client_gaps(),
            "output": [line for _, line in self.lines],
        }


def start_migration(src: Host, domain: Domain, dst_name: str, *,
                    paused_after: bool = False, debug: bool = False,
                    config: DomainConfig | None = None) -> Migration:
    """Begin migrating *domain* from *src* to the site's host *dst_name*."""
    site = src.site
    if site is None or dst_name not in site.hosts:
        raise LibxlError(f"ssh: Could not resolve hostname {dst_name}: Name or service not "
                         "known\nmigration receiver stream: short read (banner)")
    link = site.link_between(src.name, dst_name)
    if link is None:
        raise LibxlError(f"ssh: connect to host {dst_name} port 22: No route to host\n"
                         "migration receiver stream: short read (banner)")
    if domain.is_privileged or "config" not in domain.info:
        raise LibxlError("No config file stored for running domain and none supplied - "
                         "cannot migrate.")
    if MIGRATING in domain.info:  # its log-dirty mode is taken: libxc cannot enable it
        raise LibxlError("xc: error: Failed to enable logdirty: 16,0,0 (16 = Device or "
                         "resource busy): Internal error\nmigration sender: "
                         "libxl_domain_suspend failed (rc=-3)\nMigration failed, resuming "
                         "at sender.")
    if src.hv.kind.hosted or site.hosts[dst_name].hv.kind.hosted:
        raise LibxlError("xl migrate: only Xen hosts can send or receive a Xen domain")
    return Migration(src, site.hosts[dst_name], link, domain, paused_after=paused_after,
                     debug=debug, config=config).start()

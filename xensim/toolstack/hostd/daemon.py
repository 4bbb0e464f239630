"""The host daemon: one simulated host, paced to the wall clock, serving xl requests.

One thread and one event loop, so two clients never interleave inside the host.  Each
turn of the loop advances simulated time to "now" (wall time since start x ``speed``),
then serves whatever the sockets have ready (:mod:`~xensim.toolstack.hostd.server`:
non-blocking, per-connection size and time limits), then answers the commands that
were waiting for the guest (``xl shutdown -w``), then checkpoints if it is time.  A
command runs to completion against the host as it is at that turn.

If simulation cannot keep up with ``speed`` the daemon lets its clock slip rather than
stall clients, and says so in ``xl dmesg``.

Isolation (what Xen guarantees for its own hypercalls): an exception out of an xl
command fails that command with "internal error" and a traceback in the log; an
exception out of a simulation callback (a guest's timer, the death watcher...) is
caught here, logged with the simulated time and the domain concerned, and that domain
is crashed (``domain_crash``, as Xen crashes a guest it cannot go on running); the
host and every other guest carry on.

One daemon per host name: the daemon takes an exclusive ``flock`` on the host's lock
file before anything else and holds it until it exits; a second daemon exits with
:data:`~xensim.toolstack.hostd.client.EXIT_ALREADY_RUNNING`.  A killed daemon's lock
goes with it, so liveness is never stale.

Run as ``python -m xensim.toolstack.hostd.daemon --name NAME --spec JSON``; it is
normally started detached by :func:`xensim.toolstack.hostd.client.start_daemon`.
"""

from __future__ import annotations

import argparse
import dataclasses
import fcntl
import io
import os
import resource
import signal
import socket
import sys
import time
import traceback
from dataclasses import dataclass
from typing import Any

from xensim.host import Host
from xensim.hypervisor.domain import DOMID_FIRST_RESERVED, Domain, ShutdownReason
from xensim.hypervisor.time import MILLISECS
from xensim.hypervisor.vcpu import VCPU
from xensim.toolstack.hostd import checkpoint
from xensim.toolstack.hostd.client import EXIT_ALREADY_RUNNING
from xensim.toolstack.hostd.runtime import HostPaths, RuntimeDirError, open_private
from xensim.toolstack.hostd.server import Conn, Server
from xensim.toolstack.hostd.spec import HostSpec, HostSpecError
from xensim.toolstack.xl.cmdtable import lookup
from xensim.toolstack.xl.context import NeedFiles
from xensim.toolstack.xl.globalopts import split_globals
from xensim.toolstack.xl.main import start_command

TICK_S = 0.02
"""How often the idle loop advances simulated time (wall seconds)."""
CHUNK_NS = MILLISECS(50)
"""Simulated time run per step while catching up, so the loop stays responsive."""
MAX_CATCHUP_S = 0.5
"""Wall time allowed to catch up before the clock slips (and clients are served)."""
WAIT_TIMEOUT_S = 300.0
"""The longest a ``-w`` command waits for its guests before giving up."""
MAX_WAITERS = 256
"""Commands waiting at once; more ``-w`` are refused (see ``XlContext.waiters_full``)."""
LOCK_RETRY_S = 1.0
"""A client's liveness probe holds the lock shared for microseconds: retry this long."""
FD_LIMIT = 4096
"""The daemon raises its soft descriptor limit to this (or the hard limit)."""
TRIM_EVERY_S = 10.0
KEEP_SAMPLES = 10_000
"""Latency samples kept per vCPU and workload (see :meth:`Host.trim_samples`)."""


@dataclass
class Pending:
    """A command whose answer waits for simulated events (``-w``)."""

    conn: Conn
    ctx: Any
    out: io.StringIO
    err: io.StringIO
    deadline: float


class HostDaemon:
    def __init__(self, paths: HostPaths, host: Host, spec: HostSpec) -> None:
        self.paths = paths
        self.host = host
        self.spec = spec
        self.speed = spec.speed
        self.wall_start = time.monotonic()
        self.wall_base = self.wall_start
        self.sim_base = host.now
        self.slips = 0
        self.faults = 0
        """Exceptions caught out of the simulation (each crashed at most one guest)."""
        self.stopping = False
        self.pending: list[Pending] = []
        self.server: Server | None = None
        self.next_trim = time.monotonic() + TRIM_EVERY_S
        self.next_checkpoint = time.monotonic() + checkpoint.EVERY_S
        self.restored: checkpoint.Restored | None = None
        self.checkpoints = 0
        self.checkpointing = True
        """False for a host of a site daemon (:mod:`~xensim.toolstack.hostd.site_daemon`)."""
        self.site_name: str | None = None
        """The site daemon this host lives in, if any: ``stop`` is then the site's."""
        self.web: Any = None
        """The live web view (:class:`~xensim.toolstack.web.server.WebView`) of ``--web``."""

    # --- the clock -------------------------------------------------------------------
    def sim_target(self) -> int:
        return self.sim_base + int((time.monotonic() - self.wall_base) * self.speed * 1e9)

    def advance(self) -> None:
        """Run the simulation up to the paced "now", in chunks; slip if too slow."""
        target = self.sim_target()
        give_up = time.monotonic() + MAX_CATCHUP_S
        host = self.host
        while host.now < target and not self.stopping:
            try:
                host.run(ns=min(CHUNK_NS, target - host.now))
            except Exception as exc:  # isolate: see the module docstring
                self.sim_fault(exc)
            if time.monotonic() > give_up:
                self.slips += 1
                host.hv.log(f"xensim: simulation slower than speed {self.speed}x; "
                            f"clock slipped {(self.sim_target() - host.now) / 1e9:.3f}s "
                            f"(slip #{self.slips})")
                self.wall_base, self.sim_base = time.monotonic(), host.now
                return

    def sim_fault(self, exc: Exception) -> None:
        """An exception escaped a simulation callback: log it with context and crash the
        guest it belongs to (never Domain-0, never the host)."""
        self.faults += 1
        d = _domain_of(exc)
        where = f"domain {d.domid} ({d.name})" if d is not None else "no domain"
        log(f"xensim: fault #{self.faults} in the simulation at t={self.host.now} ns, "
            f"{where}: {type(exc).__name__}: {exc}\n"
            + "".join(traceback.format_exception(exc)).rstrip())
        hv = self.host.hv
        if d is not None and not d.is_privileged and hv.domains.get(d.domid) is d \
                and not d.is_shutdown:
            hv.log(f"Domain {d.domid} ({d.name}) crashed: xensim internal error "
                   f"({type(exc).__name__})")
            try:
                hv.domain_shutdown(d, ShutdownReason.CRASH)
            except Exception as again:
                log(f"xensim: crashing domain {d.domid} failed too: {again!r}")

    # --- requests --------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        hv = self.host.hv
        return {
            "name": self.paths.name, "pid": os.getpid(),
            "uptime_s": round(time.monotonic() - self.wall_start, 3),
            "sim_ns": self.host.now, "speed": self.speed, "slips": self.slips,
            "faults": self.faults,
            "pcpus": len(hv.pcpus), "scheduler": hv.pools[0].sched.name,
            "memory_mib": hv.total_memory_kib // 1024,
            "free_memory_mib": hv.free_memory_kib // 1024,
            "domains": [{"domid": d.domid, "name": d.name}
                        for d in sorted(hv.domains.values(), key=lambda d: d.domid)],
            "spec": self.spec.to_json(),
            "restored": self.restored.summary() if self.restored is not None else None,
            "checkpoints": self.checkpoints,
            "devices": self.host.devices(),
            "web": self.web.url if self.web else None,
            "site": self.site_name,
        }

    # --- checkpoints ---------------------------------------------------------------
    def checkpoint(self, why: str) -> None:
        """Write the host's checkpoint; a failure is logged, never fatal."""
        try:
            n = checkpoint.write(self.paths, self.host, self.spec)
        except Exception as exc:
            log(f"xensim: checkpoint ({why}) failed: {type(exc).__name__}: {exc}")
            return
        self.checkpoints += 1
        self.next_checkpoint = time.monotonic() + checkpoint.EVERY_S
        if why != "periodic":
            log(f"xensim: checkpoint ({why}): {n} domains at simulated time "
                f"{self.host.now / 1e9:.3f} s")

    def _risky(self, argv: list[str]) -> str | None:
        """The command's name if it is one checkpointed before (see checkpoint.RISKY)."""
        split = split_globals(argv)
        if isinstance(split, str) or not split[1] or split[0]["N"]:
            return None
        spec = lookup(split[1][0])
        return spec.name if spec is not None and spec.name in checkpoint.RISKY else None

    def handle(self, conn: Conn, req: dict[str, Any]) -> None:
        assert self.server is not None
        op = req["op"]
        if op == "ping":
            self.server.reply(conn, {"rc": 0, "stdout": "", "stderr": "", "pid": os.getpid()})
        elif op == "status":
            self.server.reply(conn, {"rc": 0, "stdout": "", "stderr": "",
                                     "status": self.status()})
        elif op == "stop" and self.site_name is not None:
            self.server.reply(conn, {
                "rc": 1, "stdout": "", "stderr": f"host {self.paths.name!r} belongs to site "
                f"{self.site_name!r}; `xensim site stop --name {self.site_name}` stops the "
                "site and all its hosts\n"})
        elif op == "stop":
            self.stopping = True
            self.server.reply(conn, {"rc": 0, "stdout": "", "stderr": ""})
        else:
            self._run_xl(conn, req)

    def _run_xl(self, conn: Conn, req: dict[str, Any]) -> None:
        assert self.server is not None
        argv = req["argv"]
        risky = self._risky(argv)
        # once its files are here, it will run: checkpoint first
        if risky is not None and req["files"] and self.checkpointing:
            self.checkpoint(f"before xl {risky}")
        out, err = io.StringIO(), io.StringIO()
        try:
            rc, ctx = start_command(self.host, argv, out, err, cwd=req["cwd"], live=True,
                                    files_in=req["files"],
                                    waiters_full=len(self.pending) >= MAX_WAITERS)
        except NeedFiles as need:
            self.server.reply(conn, {"rc": 0, "stdout": "", "stderr": "",
                                     "need_files": need.paths})
            return
        except Exception as exc:  # a bug in one command must not take the host down
            log(f"xensim: internal error running xl {' '.join(argv)!r}:\n"
                + "".join(traceback.format_exception(exc)).rstrip())
            err.write(f"xl: internal error in xensim running {' '.join(argv)!r}; "
                      f"see {self.paths.logfile}\n")
            rc, ctx = 1, None
        if ctx is not None and ctx.waiter is not None:
            self.pending.append(Pending(conn, ctx, out, err, time.monotonic() + WAIT_TIMEOUT_S))
            return
        self._answer(conn, rc, out, err, ctx)

    def _answer(self, conn: Conn, rc: int, out: io.StringIO, err: io.StringIO,
                ctx: Any) -> None:
        assert self.server is not None
        reply: dict[str, Any] = {"rc": rc, "stdout": out.getvalue(), "stderr": err.getvalue()}
        if ctx is not None and ctx.files_out:
            from xensim.toolstack.hostd.protocol import encode_file

            reply["write_files"] = {p: encode_file(d) for p, d in ctx.files_out.items()}
        self.server.reply(conn, reply)

    def check_pending(self) -> None:
        still: list[Pending] = []
        for p in self.pending:
            try:
                rc = p.ctx.waiter()
            except Exception as exc:
                log("xensim: internal error in a waiting command:\n"
                    + "".join(traceback.format_exception(exc)).rstrip())
                p.err.write("xl: internal error in xensim while waiting\n")
                rc = 1
            if rc is None and time.monotonic() > p.deadline:
                p.err.write("xl: gave up waiting\n")
                rc = 1
            if rc is None:
                still.append(p)
            else:
                self._answer(p.conn, rc, p.out, p.err, p.ctx)
        self.pending = still

    # --- the loop --------------------------------------------------------------------
    def serve(self, listener: socket.socket) -> None:
        self.server = server = Server(listener, self.handle, log)
        try:
            while not self.stopping:
                self.advance()
                server.poll(TICK_S)
                self.housekeeping()
            self.finish("host stop")
        finally:
            server.close_all()

    def housekeeping(self) -> None:
        """What each turn of the loop does after serving the sockets."""
        if self.pending:
            self.check_pending()
        if self.checkpointing and time.monotonic() > self.next_checkpoint:
            self.checkpoint("periodic")
        if time.monotonic() > self.next_trim:
            self.host.trim_samples(KEEP_SAMPLES)
            self.next_trim = time.monotonic() + TRIM_EVERY_S
        if self.web:
            self.web.tick()

    def finish(self, why: str) -> None:
        """Answer the waiting commands, let queued answers out, checkpoint."""
        assert self.server is not None
        for p in self.pending:
            p.err.write("xl: host stopped\n")
            self._answer(p.conn, 1, p.out, p.err, None)
        self.pending = []
        drain(self.server)
        if self.checkpointing:
            self.checkpoint(why)


def drain(server: Server, limit_s: float = 2.0) -> None:
    """Give answers already queued (``stop``'s own) a moment to reach their clients."""
    deadline = time.monotonic() + limit_s
    while any(c.out is not None for c in server.conns.values()) and \
            time.monotonic() < deadline:
        server.poll(0.01)


def _domain_of(exc: BaseException) -> Domain | None:
    """The domain a failing callback was working for: the innermost frame with a
    :class:`Domain` or a vCPU in its locals."""
    tb = exc.__traceback__
    frames = []
    while tb is not None:
        frames.append(tb.tb_frame)
        tb = tb.tb_next
    for frame in reversed(frames):
        for value in list(frame.f_locals.values()):
            if isinstance(value, Domain) and 0 <= value.domid < DOMID_FIRST_RESERVED:
                return value
            if isinstance(value, VCPU) and not value.is_idle:
                return value.domain
    return None


def stop_on_signals(daemon: Any) -> None:
    """SIGTERM and SIGINT end *daemon*'s loop at its next turn; SIGPIPE is ignored (a
    client that went away is the server's business)."""

    def _stop(signum: int, frame: Any) -> None:
        daemon.stopping = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def acquire_lock(paths: HostPaths) -> int | None:
    """The lock that makes a second daemon for the same host refuse to start."""
    fd = open_private(paths.lockfile, os.O_RDWR | os.O_CREAT)
    deadline = time.monotonic() + LOCK_RETRY_S
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        except BlockingIOError:
            if time.monotonic() > deadline:
                os.close(fd)
                return None
            time.sleep(0.01)


def listen_socket(paths: HostPaths) -> socket.socket:
    """Bind the host's socket, mode 0600 from the start (umask), replacing a stale one:
    we hold the lock, so no daemon owns it."""
    try:
        paths.socket.unlink()
    except FileNotFoundError:
        pass
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)
    try:
        listener.bind(str(paths.socket))
    finally:
        os.umask(old)
    listener.listen(128)
    return listener


def raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = FD_LIMIT if hard == resource.RLIM_INFINITY else min(FD_LIMIT, hard)
    if soft != resource.RLIM_INFINITY and soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


def _build(paths: HostPaths, spec: HostSpec, fresh: bool
           ) -> tuple[Host, HostSpec, checkpoint.Restored | None]:
    """The host: from its checkpoint if there is one (and not *fresh*), else new."""
    ck = None
    if not fresh:
        try:
            ck = checkpoint.load(paths)
        except checkpoint.CheckpointError as exc:
            bad = paths.checkpoint.with_name(paths.checkpoint.name + ".bad")
            os.replace(paths.checkpoint, bad)
            log(f"xensim: {exc}; moved to {bad}, starting an empty host")
    if ck is None:
        # a long-lived host keeps no destroyed domains (memory stays flat)
        return Host(**spec.host_kwargs(), keep_destroyed=False), spec, None
    spec = ck["spec"]
    host = Host(**spec.host_kwargs(), keep_destroyed=False, start_ns=ck["sim_ns"])
    restored = checkpoint.restore(host, ck)
    log(f"xensim: restored {len(restored.domains)} domains from {paths.checkpoint} "
        f"(failed: {', '.join(restored.failed) or 'none'}); simulated time resumes at "
        f"{restored.sim_ns / 1e9:.3f} s")
    return host, spec, restored


def run_daemon(paths: HostPaths, spec: HostSpec, *, fresh: bool = False) -> int:
    paths.ensure_dir()
    lock = acquire_lock(paths)
    if lock is None:
        log(f"xensim: host {paths.name!r} is already running (pid {paths.read_pid()})")
        return EXIT_ALREADY_RUNNING
    paths.write_private(paths.pidfile, f"{os.getpid()}\n".encode())
    listener = listen_socket(paths)  # clients queue here while the host is built
    daemon: HostDaemon | None = None
    try:
        raise_fd_limit()
        web = spec.web  # a face of this daemon, never taken from a checkpoint
        try:
            host, spec, restored = _build(paths, spec, fresh)
        except (ValueError, TypeError, KeyError) as exc:
            log(f"xensim: cannot build host: {exc}")
            return 1
        spec = dataclasses.replace(spec, web=web)
        daemon = HostDaemon(paths, host, spec)
        daemon.restored = restored
        if web is not None:
            from xensim.toolstack.web.server import start_for_daemon

            daemon.web = start_for_daemon(host, web, paths.name)
            if daemon.web is None:
                return 1

        stop_on_signals(daemon)
        log(f"xensim: host {paths.name!r} up: pid {os.getpid()}, {spec.pcpus} pCPUs, "
            f"{spec.memory} MiB, {spec.hypervisor}, {host.hv.pools[0].sched.name}, "
            f"speed {spec.speed}x, seed {spec.seed}")
        daemon.serve(listener)
    finally:
        if daemon is not None and daemon.web:
            daemon.web.close()
        listener.close()
        for path in (paths.socket, paths.pidfile):
            try:
                path.unlink()
            except FileNotFoundError:
                pass
        os.close(lock)
    log(f"xensim: host {paths.name!r} stopped")
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="xensim-hostd")
    p.add_argument("--name", default=None)
    p.add_argument("--spec", default="{}", help="the HostSpec as JSON")
    p.add_argument("--fresh", action="store_true", help="ignore the host's checkpoint")
    a = p.parse_args(argv)
    try:
        spec = HostSpec.from_json(a.spec)
        return run_daemon(HostPaths.for_host(a.name), spec, fresh=a.fresh)
    except (HostSpecError, RuntimeDirError) as exc:
        log(f"xensim: {exc}")
        return 1


if __name__ == "__main__":
    sys.exit(main())

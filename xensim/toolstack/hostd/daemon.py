"""The host daemon: one simulated host, paced to the wall clock, serving xl requests.

Everything happens in one thread and one event loop, so two clients can
never interleave inside the host: the loop advances simulated time to
"now" (wall time since start x ``speed``), accepts a connection, reads the
whole request, advances again, runs the command to completion and answers.
A command that waits for the guest (``xl shutdown -w``) leaves a *waiter*
that the loop polls while it keeps serving others.

If simulation cannot keep up with ``speed`` the daemon lets its clock slip
rather than stall clients, and says so in ``xl dmesg``.

Run as ``python -m xensim.toolstack.hostd.daemon --name NAME ...``; it is
normally started detached by :func:`xensim.toolstack.hostd.client.start_daemon`.
"""

from __future__ import annotations

import argparse
import fcntl
import io
import os
import selectors
import signal
import socket
import sys
import time
import traceback
from dataclasses import dataclass, field
from typing import Any

from xensim.host import Host
from xensim.hypervisor.time import MILLISECS
from xensim.toolstack.hostd.protocol import (
    ProtocolError,
    decode,
    decode_files,
    encode,
    encode_files,
    recv_all,
)
from xensim.toolstack.hostd.runtime import HostPaths

TICK_S = 0.02
"""How often the idle loop advances simulated time (wall seconds)."""
CHUNK_NS = MILLISECS(50)
"""Simulated time run per step while catching up, so the loop stays responsive."""
MAX_CATCHUP_S = 1.0
"""Wall time allowed to catch up before the clock slips."""
REQUEST_TIMEOUT_S = 2.0
"""A client that does not finish sending its request in this time is dropped."""
WAIT_TIMEOUT_S = 300.0


@dataclass
class Pending:
    """A command whose answer waits for simulated events (``-w``)."""

    conn: socket.socket
    ctx: Any
    out: io.StringIO
    err: io.StringIO
    deadline: float


@dataclass
class HostDaemon:
    paths: HostPaths
    host: Host
    speed: float = 1.0
    options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.wall_start = time.monotonic()
        self.wall_base = self.wall_start
        self.sim_base = self.host.now
        self.slips = 0
        self.stopping = False
        self.pending: list[Pending] = []

    # --- the clock -------------------------------------------------------------------
    def sim_target(self) -> int:
        return self.sim_base + int((time.monotonic() - self.wall_base) * self.speed * 1e9)

    def advance(self) -> None:
        """Run the simulation up to the paced "now", in chunks; slip if too slow."""
        target = self.sim_target()
        give_up = time.monotonic() + MAX_CATCHUP_S
        host = self.host
        while host.now < target:
            host.run(ns=min(CHUNK_NS, target - host.now))
            if time.monotonic() > give_up:
                self.slips += 1
                host.hv.log(f"xensim: simulation slower than speed {self.speed}x; "
                            f"clock slipped {(self.sim_target() - host.now) / 1e9:.3f}s "
                            f"(slip #{self.slips})")
                self.wall_base, self.sim_base = time.monotonic(), host.now
                return

    # --- requests --------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        hv = self.host.hv
        return {
            "name": self.paths.name, "pid": os.getpid(),
            "uptime_s": round(time.monotonic() - self.wall_start, 3),
            "sim_ns": self.host.now, "speed": self.speed, "slips": self.slips,
            "pcpus": len(hv.pcpus), "scheduler": hv.pools[0].sched.name,
            "memory_mib": hv.total_memory_kib // 1024,
            "free_memory_mib": hv.free_memory_kib // 1024,
            "domains": [{"domid": d.domid, "name": d.name}
                        for d in sorted(hv.domains.values(), key=lambda d: d.domid)],
        }

    def handle(self, conn: socket.socket) -> None:
        conn.settimeout(REQUEST_TIMEOUT_S)
        try:
            req = decode(recv_all(conn))
        except (ProtocolError, OSError) as exc:
            self._reply(conn, {"rc": 1, "stdout": "", "stderr": f"xensim: bad request: {exc}\n"})
            return
        op = req.get("op", "xl")
        self.advance()
        if op == "ping":
            self._reply(conn, {"rc": 0, "stdout": "", "stderr": "", "pid": os.getpid()})
        elif op == "status":
            self._reply(conn, {"rc": 0, "stdout": "", "stderr": "", "status": self.status()})
        elif op == "stop":
            self.stopping = True
            self._reply(conn, {"rc": 0, "stdout": "", "stderr": ""})
        elif op == "xl":
            self._run_xl(conn, req)
        else:
            self._reply(conn, {"rc": 1, "stdout": "", "stderr": f"xensim: unknown op {op!r}\n"})

    def _run_xl(self, conn: socket.socket, req: dict[str, Any]) -> None:
        from xensim.toolstack.xl.main import start_command

        argv = req.get("argv")
        cwd = req.get("cwd") or "/"
        if not isinstance(argv, list) or not all(isinstance(a, str) for a in argv):
            self._reply(conn, {"rc": 1, "stdout": "", "stderr": "xensim: argv must be strings\n"})
            return
        out, err = io.StringIO(), io.StringIO()
        try:
            files_in = decode_files(req.get("files"))
        except ValueError as exc:
            self._reply(conn, {"rc": 1, "stdout": "", "stderr": f"xensim: bad request: {exc}\n"})
            return
        try:
            rc, ctx = start_command(self.host, argv, out, err, cwd=cwd, live=True,
                                    files_in=files_in)
        except Exception:  # a bug in one command must not take the host down
            traceback.print_exc(file=sys.stderr)
            sys.stderr.flush()
            err.write(f"xl: internal error in xensim running {' '.join(argv)!r}; "
                      f"see {self.paths.logfile}\n")
            rc, ctx = 1, None
        if ctx is not None and ctx.waiter is not None:
            self.pending.append(Pending(conn, ctx, out, err, time.monotonic() + WAIT_TIMEOUT_S))
            return
        reply = {"rc": rc, "stdout": out.getvalue(), "stderr": err.getvalue()}
        if ctx is not None and ctx.files_out:
            reply["files"] = encode_files(ctx.files_out)
        self._reply(conn, reply)

    def check_pending(self) -> None:
        still: list[Pending] = []
        for p in self.pending:
            rc = p.ctx.waiter()
            if rc is None and time.monotonic() > p.deadline:
                p.err.write("xl: gave up waiting\n")
                rc = 1
            if rc is None:
                still.append(p)
            else:
                self._reply(p.conn, {"rc": rc, "stdout": p.out.getvalue(),
                                     "stderr": p.err.getvalue()})
        self.pending = still

    @staticmethod
    def _reply(conn: socket.socket, obj: dict[str, Any]) -> None:
        # The client may have died meanwhile: the command ran all the same.
        try:
            conn.settimeout(REQUEST_TIMEOUT_S)
            conn.sendall(encode(obj))
        except OSError:
            pass
        finally:
            conn.close()

    # --- the loop --------------------------------------------------------------------
    def serve(self, listener: socket.socket) -> None:
        listener.setblocking(False)
        sel = selectors.DefaultSelector()
        sel.register(listener, selectors.EVENT_READ)
        while not self.stopping:
            self.advance()
            for _key, _ in sel.select(timeout=TICK_S):
                try:
                    conn, _addr = listener.accept()
                except BlockingIOError:
                    continue
                conn.setblocking(True)
                self.handle(conn)
                if self.stopping:
                    break
            if self.pending:
                self.check_pending()
        for p in self.pending:
            p.err.write("xl: host stopped\n")
            self._reply(p.conn, {"rc": 1, "stdout": p.out.getvalue(), "stderr": p.err.getvalue()})


def acquire_lock(paths: HostPaths) -> int | None:
    """The lock that makes a second daemon for the same host refuse to start."""
    paths.ensure_dir()
    fd = os.open(paths.lockfile, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


def run_daemon(paths: HostPaths, *, pcpus: int, memory: int, scheduler: str | None,
               speed: float, seed: int, hypervisor: str = "xen") -> int:
    lock = acquire_lock(paths)
    if lock is None:
        print(f"xensim: host {paths.name!r} is already running (pid {paths.read_pid()})",
              file=sys.stderr)
        return 1
    try:
        host = Host(pcpus=pcpus, scheduler=scheduler, memory=memory, seed=seed,
                    hypervisor=hypervisor)
    except (ValueError, TypeError) as exc:
        print(f"xensim: cannot build host: {exc}", file=sys.stderr)
        return 1
    if paths.socket.exists():
        paths.socket.unlink()  # stale: we hold the lock, so no daemon owns it
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(paths.socket))
    os.chmod(paths.socket, 0o600)
    listener.listen(64)
    paths.pidfile.write_text(f"{os.getpid()}\n")
    scheduler = host.hv.pools[0].sched.name
    daemon = HostDaemon(paths, host, speed, {"pcpus": pcpus, "memory": memory,
                                             "scheduler": scheduler, "seed": seed,
                                             "hypervisor": hypervisor})

    def _stop(signum: int, frame: Any) -> None:
        daemon.stopping = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    print(f"xensim: host {paths.name!r} up: pid {os.getpid()}, {pcpus} pCPUs, "
          f"{memory} MiB, {hypervisor}, {scheduler}, speed {speed}x, seed {seed}",
          file=sys.stderr, flush=True)
    try:
        daemon.serve(listener)
    finally:
        listener.close()
        for path in (paths.socket, paths.pidfile):
            try:
                path.unlink()
            except FileNotFoundError:
                pass
        os.close(lock)
    print(f"xensim: host {paths.name!r} stopped", file=sys.stderr, flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="xensim-hostd")
    p.add_argument("--name", default=None)
    p.add_argument("--pcpus", type=int, default=4)
    p.add_argument("--memory", type=int, default=16384)
    p.add_argument("--scheduler", default=None)
    p.add_argument("--hypervisor", default="xen")
    p.add_argument("--speed", type=float, default=1.0)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    return run_daemon(HostPaths.for_host(a.name), pcpus=a.pcpus, memory=a.memory,
                      scheduler=a.scheduler, speed=a.speed, seed=a.seed,
                      hypervisor=a.hypervisor)


if __name__ == "__main__":
    sys.exit(main())

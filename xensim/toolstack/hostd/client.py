"""Talking to a host daemon, and starting one on demand.

:func:`request` sends one request and returns the reply;
:func:`start_daemon` spawns a detached daemon (new session, stdio to its log
file) from the same source tree as the caller and waits until it answers;
:func:`ensure_running` is what ``xl`` calls so that ``xl create`` works on a
fresh install with no other step.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import xensim
from xensim.toolstack.hostd.protocol import ProtocolError, decode, encode, recv_all
from xensim.toolstack.hostd.runtime import HostPaths

START_TIMEOUT_S = 15.0


class HostdError(Exception):
    """The daemon is not there, refused to start, or answered nonsense."""


class NotRunning(HostdError):
    pass


def request(paths: HostPaths, obj: dict[str, Any], timeout: float | None = 600.0
            ) -> dict[str, Any]:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        try:
            sock.connect(str(paths.socket))
        except (FileNotFoundError, ConnectionRefusedError) as exc:
            raise NotRunning(f"host {paths.name!r} is not running") from exc
        sock.sendall(encode(obj))
        sock.shutdown(socket.SHUT_WR)
        data = recv_all(sock, limit=1 << 30)
    except OSError as exc:
        if isinstance(exc, NotRunning):
            raise
        raise HostdError(f"host {paths.name!r}: {exc}") from None
    finally:
        sock.close()
    try:
        return decode(data)
    except ProtocolError as exc:
        raise HostdError(f"host {paths.name!r}: {exc}") from None


def ping(paths: HostPaths) -> bool:
    try:
        request(paths, {"op": "ping"}, timeout=5.0)
    except HostdError:
        return False
    return True


def _daemon_env() -> dict[str, str]:
    """The caller's environment, with this source tree first on ``PYTHONPATH`` so the
    daemon runs the same xensim as its client (a checkout, not some installed copy)."""
    env = dict(os.environ)
    root = str(Path(xensim.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    return env


def start_daemon(paths: HostPaths, *, pcpus: int = 4, memory: int = 16384,
                 scheduler: str | None = None, speed: float = 1.0, seed: int = 0,
                 hypervisor: str = "xen", web: str | None = None) -> int:
    """Start host *paths.name* detached; returns its pid.  Raises :class:`HostdError`
    if it is already running or fails to come up (with the tail of its log)."""
    if ping(paths):
        raise HostdError(f"host {paths.name!r} is already running (pid {paths.read_pid()})")
    paths.ensure_dir()
    argv = [sys.executable, "-m", "xensim.toolstack.hostd.daemon", "--name", paths.name,
            "--pcpus", str(pcpus), "--memory", str(memory), "--hypervisor", hypervisor,
            *(["--scheduler", scheduler] if scheduler else []),
            "--speed", str(speed), "--seed", str(seed), *(["--web", web] if web else [])]
    with open(paths.logfile, "ab") as log:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                cwd="/", env=_daemon_env(), start_new_session=True)
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if ping(paths):
            return paths.read_pid() or proc.pid
        if proc.poll() is not None:
            if ping(paths):  # lost a start race to another client: fine
                return paths.read_pid() or proc.pid
            raise HostdError(f"host {paths.name!r} failed to start:\n{_log_tail(paths)}")
        time.sleep(0.02)
    proc.kill()
    raise HostdError(f"host {paths.name!r} did not answer within {START_TIMEOUT_S:.0f}s")


def _log_tail(paths: HostPaths, lines: int = 5) -> str:
    try:
        return "\n".join(paths.logfile.read_text().splitlines()[-lines:])
    except OSError:
        return "(no log)"


def ensure_running(paths: HostPaths) -> bool:
    """Start the host with default settings unless it answers; True if started now."""
    if ping(paths):
        return False
    try:
        start_daemon(paths)
    except HostdError:
        if ping(paths):
            return False
        raise
    return True


def stop_daemon(paths: HostPaths, timeout: float = 10.0) -> bool:
    """Ask the daemon to stop and wait for it to go; False if it was not running."""
    pid = paths.read_pid()
    try:
        request(paths, {"op": "stop"}, timeout=timeout)
    except NotRunning:
        return False
    except HostdError:
        if pid:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                return False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not paths.socket.exists() and not _alive(pid):
            return True
        time.sleep(0.02)
    return True


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (our own child, not yet reaped) counts as gone.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False

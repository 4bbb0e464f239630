"""Talking to a host daemon, and starting and stopping one, telling the truth each time.

Whether a host runs is decided by its lock (:meth:`HostPaths.daemon_pid`), never by a
ping: a busy host that answers late is still running, so :func:`ensure_running` never
starts a second one, ``xensim host status`` never says "not running" of a live daemon,
and :func:`stop_daemon` says "stopped" only once the lock is free.  A request to a host
that holds its lock but is not listening yet (it is starting, or restoring its
checkpoint) waits for it, within :data:`CONNECT_WAIT_S`.

:func:`start_daemon` spawns a detached daemon (new session, output to its 0600 log)
from the same source tree as the caller; of several racing starts exactly one wins and
the others get :class:`AlreadyRunning`.  Standard library only: the thin ``xl`` client
imports this module.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from xensim.toolstack.hostd.protocol import ProtocolError, decode, encode, recv_all
from xensim.toolstack.hostd.runtime import HostPaths, open_private

if TYPE_CHECKING:
    from xensim.toolstack.hostd.spec import HostSpec

START_TIMEOUT_S = 60.0
"""How long a start may take (building the host, restoring a checkpoint)."""
CONNECT_WAIT_S = 60.0
"""How long a request waits for a locked (starting) daemon to listen."""
STOP_TIMEOUT_S = 30.0
EXIT_ALREADY_RUNNING = 3
"""The daemon's exit status when another daemon holds the host's lock."""


class HostdError(Exception):
    """The daemon is not there, refused to start, or answered nonsense."""


class NotRunning(HostdError):
    pass


class AlreadyRunning(HostdError):
    def __init__(self, name: str, pid: int) -> None:
        super().__init__(f"host {name!r} is already running (pid {pid})")
        self.pid = pid


class Started:
    """A daemon this call started, and its first status (``restored`` says whether it
    resumed from a checkpoint)."""

    def __init__(self, pid: int, status: dict[str, Any]) -> None:
        self.pid = pid
        self.status = status


def _connect(paths: HostPaths, timeout: float | None) -> socket.socket:
    deadline = time.monotonic() + CONNECT_WAIT_S
    while True:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        try:
            sock.connect(str(paths.socket))
            return sock
        except (FileNotFoundError, ConnectionRefusedError):
            sock.close()
            if paths.daemon_pid() is None:
                raise NotRunning(f"host {paths.name!r} is not running") from None
            if time.monotonic() > deadline:
                raise HostdError(f"host {paths.name!r} holds its lock but does not listen "
                                 f"on {paths.socket}") from None
            time.sleep(0.02)
        except OSError:
            sock.close()
            raise


def request(paths: HostPaths, obj: dict[str, Any], timeout: float | None = 600.0
            ) -> dict[str, Any]:
    try:
        sock = _connect(paths, timeout)
    except OSError as exc:
        raise HostdError(f"host {paths.name!r}: {exc}") from None
    try:
        sock.sendall(encode(obj))
        sock.shutdown(socket.SHUT_WR)
        data = recv_all(sock, limit=1 << 30)
    except (OSError, ProtocolError) as exc:
        raise HostdError(f"host {paths.name!r}: {exc}") from None
    finally:
        sock.close()
    if not data:
        raise HostdError(f"host {paths.name!r} closed the connection without an answer "
                         f"(see {paths.logfile})")
    try:
        return decode(data)
    except ProtocolError as exc:
        raise HostdError(f"host {paths.name!r}: {exc}") from None


def _daemon_env() -> dict[str, str]:
    """The caller's environment, with this source tree first on ``PYTHONPATH`` so the
    daemon runs the same xensim as its client (a checkout, not some installed copy)."""
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[3])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    return env


def start_daemon(paths: HostPaths, spec: HostSpec | None = None, *,
                 fresh: bool = False) -> Started:
    """Start host *paths.name* detached: from its checkpoint if it has one, unless
    *fresh* (then *spec* decides everything).  Raises :class:`AlreadyRunning` if a daemon holds
    its lock (before or after a race), :class:`HostdError` if it fails to come up (with
    the tail of its log)."""
    from xensim.toolstack.hostd.spec import HostSpec

    spec = (spec or HostSpec()).validate()
    argv = ["-m", "xensim.toolstack.hostd.daemon", "--name", paths.name,
            "--spec", spec.to_json(), *(["--fresh"] if fresh else [])]
    return spawn(paths, argv)


def spawn(paths: HostPaths, argv: list[str]) -> Started:
    """Run ``python *argv*`` detached as the daemon that takes *paths*' lock and answers
    on its socket; its :class:`Started` once it answers ``status``."""
    import subprocess

    paths.ensure_dir()
    pid = paths.daemon_pid()
    if pid is not None:
        raise AlreadyRunning(paths.name, pid)
    log = open_private(paths.logfile, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        proc = subprocess.Popen([sys.executable, *argv], stdin=subprocess.DEVNULL,
                                stdout=log, stderr=log, cwd="/", env=_daemon_env(),
                                start_new_session=True)
    finally:
        os.close(log)
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        rc = proc.poll()
        if rc is not None:
            winner = paths.daemon_pid()
            if rc == EXIT_ALREADY_RUNNING and winner is not None:
                raise AlreadyRunning(paths.name, winner)
            raise HostdError(f"host {paths.name!r} failed to start:\n{_log_tail(paths)}")
        if paths.daemon_pid() == proc.pid:
            try:
                status = request(paths, {"op": "status"}, timeout=START_TIMEOUT_S)["status"]
            except (HostdError, KeyError):
                continue  # it died meanwhile: poll() says how
            return Started(proc.pid, status)
        time.sleep(0.02)
    proc.kill()
    raise HostdError(f"host {paths.name!r} did not come up within {START_TIMEOUT_S:.0f}s:\n"
                     f"{_log_tail(paths)}")


def _log_tail(paths: HostPaths, lines: int = 5) -> str:
    try:
        fd = open_private(paths.logfile, os.O_RDONLY)
    except OSError:
        return "(no log)"
    with os.fdopen(fd, "rb") as f:
        f.seek(max(0, os.fstat(fd).st_size - 8192))
        return "\n".join(f.read().decode(errors="replace").splitlines()[-lines:])


def ensure_running(paths: HostPaths) -> Started | None:
    """Start the host with default settings unless a daemon holds its lock; the
    :class:`Started` if this call started it (or restored it from its checkpoint)."""
    paths.ensure_dir()
    if paths.daemon_pid() is not None:
        return None
    try:
        return start_daemon(paths)
    except AlreadyRunning:
        return None


def stop_daemon(paths: HostPaths, timeout: float = STOP_TIMEOUT_S) -> bool:
    """Ask the daemon to stop (SIGTERM if it does not answer) and wait until its lock is
    free.  False if it was not running; :class:`HostdError` if it is still running
    after *timeout*."""
    pid = paths.daemon_pid()
    if pid is None:
        return False
    try:
        reply = request(paths, {"op": "stop"}, timeout=min(timeout, 10.0))
    except NotRunning:
        return False
    except HostdError:
        if pid:  # from our private pid file, and its lock is held: it is the daemon
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
    else:
        if reply.get("rc"):  # refused: a host of a site daemon
            raise HostdError(str(reply.get("stderr", "")).strip())
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if paths.daemon_pid() is None:
            return True
        time.sleep(0.02)
    raise HostdError(f"host {paths.name!r} is still running (pid {pid}) {timeout:.0f}s "
                     "after it was asked to stop")


def status(paths: HostPaths, timeout: float = 10.0) -> tuple[int | None, dict[str, Any] | None]:
    """(pid, status): pid None when not running; status None when the daemon is running
    but did not answer within *timeout* (busy, or still starting)."""
    pid = paths.daemon_pid()
    if pid is None:
        return None, None
    try:
        return pid, request(paths, {"op": "status"}, timeout=timeout)["status"]
    except NotRunning:
        return None, None
    except (HostdError, KeyError):
        return pid, None

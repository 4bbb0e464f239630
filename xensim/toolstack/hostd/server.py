"""Serving many clients from one thread, none of which can stall the others.

Every socket is non-blocking and watched by one selector: a connection is read as its
bytes arrive (a client that sends one byte every two seconds costs nothing while it
waits), answered when the daemon has a reply, and written as the client drains it.
Each connection has a deadline (:data:`REQUEST_TIMEOUT_S` to send its whole request,
:data:`REPLY_TIMEOUT_S` to take its answer), a size limit (``MAX_REQUEST``) and a
place in a bounded table (:data:`MAX_CONNECTIONS`); past any of them it gets an error
answer, best effort, and is closed.

Who may connect: the peer's uid from ``SO_PEERCRED`` must be the daemon's own (or
root), as tmux's ``server_accept`` requires.

Running out of file descriptors never stops the daemon: ``accept()`` failing with
EMFILE/ENFILE frees a reserved descriptor, accepts the waiting client, tells it the host
is out of descriptors and closes it (the libevent/nginx "reserve fd" idiom); any other
``accept()`` error is logged and the loop goes on.

Mirrors nothing in Xen (xenstored's socket server is closest: one select loop, a
per-connection buffer, and a quota per connection).
"""

from __future__ import annotations

import errno
import os
import selectors
import socket
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from xensim.toolstack.hostd.protocol import (
    MAX_REQUEST,
    ProtocolError,
    check_request,
    decode,
    encode,
)

REQUEST_TIMEOUT_S = 5.0
"""A client must send its whole request within this time of connecting."""
REPLY_TIMEOUT_S = 30.0
"""A client must take its whole answer within this time of it being ready."""
MAX_CONNECTIONS = 512
"""Connections open at once (reading, waiting for a ``-w`` answer, or being answered)."""
READ_CHUNK = 1 << 16


def error_reply(message: str, rc: int = 1) -> dict[str, Any]:
    return {"rc": rc, "stdout": "", "stderr": message if message.endswith("\n")
            else message + "\n"}


@dataclass(eq=False)
class Conn:
    """One client connection: its buffers, its deadline, and whether it is answered."""

    sock: socket.socket
    peer_pid: int
    deadline: float
    inbuf: bytearray = field(default_factory=bytearray)
    out: memoryview | None = None
    waiting: bool = False
    """Request read; the answer is not ready yet (a ``-w`` command)."""


Handler = Callable[[Conn, dict[str, Any]], None]
"""Called with each complete, well-formed request; answers through :meth:`Server.reply`."""


class Server:
    def __init__(self, listener: socket.socket, handler: Handler,
                 log: Callable[[str], None]) -> None:
        listener.setblocking(False)
        self.listener = listener
        self.handler = handler
        self.log = log
        self.sel = selectors.DefaultSelector()
        self.sel.register(listener, selectors.EVENT_READ)
        self.conns: dict[int, Conn] = {}
        self.refused = 0
        """Connections turned away (limits, deadlines, other users, malformed requests)."""
        self._reserve_fd: int | None = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)

    # --- the loop's one step ---------------------------------------------------------
    def poll(self, timeout: float) -> None:
        for key, events in self.sel.select(timeout):
            if key.fileobj is self.listener:
                self._accept_all()
                continue
            conn = self.conns.get(key.fd)
            if conn is None:
                continue
            if events & selectors.EVENT_READ:
                self._read(conn)
            elif events & selectors.EVENT_WRITE:
                self._write(conn)
        self._expire()

    def close_all(self) -> None:
        for conn in list(self.conns.values()):
            self._close(conn)
        self.sel.close()
        if self._reserve_fd is not None:
            os.close(self._reserve_fd)
            self._reserve_fd = None

    # --- accepting ---------------------------------------------------------------------
    def _accept_all(self) -> None:
        for _ in range(64):  # a bounded batch, so a flood cannot starve the simulation
            try:
                sock, _addr = self.listener.accept()
            except BlockingIOError:
                return
            except OSError as exc:
                if exc.errno in (errno.EMFILE, errno.ENFILE):
                    self._shed_one()
                else:
                    self.log(f"xensim: accept() failed: {exc}; still serving")
                return
            self._admit(sock)

    def _shed_one(self) -> None:
        """Out of descriptors: use the reserved one to accept and refuse one client."""
        self.log("xensim: out of file descriptors; refusing a client")
        if self._reserve_fd is None:
            return
        os.close(self._reserve_fd)
        self._reserve_fd = None
        try:
            sock, _ = self.listener.accept()
            self._refuse(sock, "xl: the host is out of file descriptors (too many clients "
                               "or waiting commands); try again later")
        except OSError:
            pass
        try:
            self._reserve_fd = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            self._reserve_fd = None

    def _admit(self, sock: socket.socket) -> None:
        pid, uid = _peer(sock)
        if uid not in (os.getuid(), 0):
            self.log(f"xensim: refused a connection from uid {uid} (pid {pid})")
            self._refuse(sock, "xl: permission denied: this host belongs to another user")
            return
        if len(self.conns) >= MAX_CONNECTIONS:
            self._refuse(sock, f"xl: the host is busy ({MAX_CONNECTIONS} connections open); "
                               "try again later")
            return
        sock.setblocking(False)
        conn = Conn(sock, pid, time.monotonic() + REQUEST_TIMEOUT_S)
        self.conns[sock.fileno()] = conn
        self.sel.register(sock, selectors.EVENT_READ)

    def _refuse(self, sock: socket.socket, message: str) -> None:
        self.refused += 1
        try:
            sock.setblocking(False)
            sock.send(encode(error_reply(message)))
        except OSError:
            pass
        sock.close()

    # --- reading and writing -----------------------------------------------------------
    def _read(self, conn: Conn) -> None:
        try:
            chunk = conn.sock.recv(READ_CHUNK)
        except BlockingIOError:
            return
        except OSError:
            self._close(conn)
            return
        if chunk:
            conn.inbuf += chunk
            if len(conn.inbuf) > MAX_REQUEST:
                self._fail(conn, f"request larger than {MAX_REQUEST} bytes")
            return
        self.sel.unregister(conn.sock)  # end of request: nothing more is read
        try:
            req = check_request(decode(bytes(conn.inbuf)))
        except ProtocolError as exc:
            self._fail(conn, str(exc))
            return
        conn.inbuf = bytearray()
        conn.waiting = True
        conn.deadline = float("inf")  # the handler's own limits apply now
        self.handler(conn, req)

    def _fail(self, conn: Conn, why: str) -> None:
        self.refused += 1
        self.log(f"xensim: bad request from pid {conn.peer_pid}: {why}")
        self.reply(conn, error_reply(f"xensim: bad request: {why}"))

    def reply(self, conn: Conn, obj: dict[str, Any]) -> None:
        """Queue *obj* as the answer; it is written as the client reads it."""
        if conn.sock.fileno() < 0:
            return
        conn.waiting = False
        conn.out = memoryview(encode(obj))
        conn.deadline = time.monotonic() + REPLY_TIMEOUT_S
        try:
            self.sel.unregister(conn.sock)
        except (KeyError, ValueError):
            pass
        self.sel.register(conn.sock, selectors.EVENT_WRITE)
        self._write(conn)

    def _write(self, conn: Conn) -> None:
        assert conn.out is not None
        try:
            sent = conn.sock.send(conn.out)
        except BlockingIOError:
            return
        except OSError:  # the client went away: the command ran all the same
            self._close(conn)
            return
        conn.out = conn.out[sent:]
        if not conn.out:
            self._close(conn)

    def _expire(self) -> None:
        now = time.monotonic()
        for conn in [c for c in self.conns.values() if c.deadline < now]:
            if conn.out is None:
                self._fail(conn, f"incomplete after {REQUEST_TIMEOUT_S:g}s")
            else:
                self.log(f"xensim: pid {conn.peer_pid} did not take its answer; dropped")
                self._close(conn)

    def _close(self, conn: Conn) -> None:
        fd = conn.sock.fileno()
        if fd >= 0:
            try:
                self.sel.unregister(conn.sock)
            except (KeyError, ValueError):
                pass
            self.conns.pop(fd, None)
        conn.sock.close()


def _peer(sock: socket.socket) -> tuple[int, int]:
    """(pid, uid) of the process at the other end (Linux ``SO_PEERCRED``)."""
    try:
        raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        pid, uid, _gid = struct.unpack("3i", raw)
        return pid, uid
    except OSError:
        return 0, -1

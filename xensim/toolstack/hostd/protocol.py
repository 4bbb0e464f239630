"""The wire format between clients and a host daemon: one JSON request per connection.

A client connects, sends one JSON object and shuts down its sending side;
the daemon reads to end of file, so a client killed while sending leaves
an incomplete request that is discarded, never half-executed.  The answer
is one JSON object ``{rc, stdout, stderr, ...}``, then the daemon closes.

Requests: ``{"op": "xl", "argv": [...], "cwd": "/dir"}`` (the default op),
``{"op": "status"}``, ``{"op": "stop"}``, ``{"op": "ping"}``.
"""

from __future__ import annotations

import json
import socket
from typing import Any

MAX_REQUEST = 1 << 20
"""Largest request accepted (bytes); an xl command line is far smaller."""


class ProtocolError(Exception):
    """A request or reply that is not one complete JSON object."""


def recv_all(sock: socket.socket, limit: int = MAX_REQUEST) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > limit:
            raise ProtocolError(f"message larger than {limit} bytes")
        chunks.append(chunk)


def decode(data: bytes) -> dict[str, Any]:
    try:
        obj = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProtocolError(f"incomplete or malformed message: {exc}") from None
    if not isinstance(obj, dict):
        raise ProtocolError("message is not a JSON object")
    return obj


def encode(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj).encode("utf-8")

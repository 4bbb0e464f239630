"""The wire format between clients and a host daemon: one JSON request per connection.

A client connects, sends one JSON object and shuts down its sending side;
the daemon reads to end of file, so a client killed while sending leaves
an incomplete request that is discarded, never half-executed.  The answer
is one JSON object ``{rc, stdout, stderr, ...}``, then the daemon closes.

Requests: ``{"op": "xl", "argv": [...], "cwd": "/dir", "files": {...}}`` (the default
op; ``files`` maps absolute paths to base64 contents the client read for the
command, e.g. ``xl restore``'s save file; a reply's ``files`` are for the
client to write, e.g. ``xl save``'s, so the daemon never opens a user's path),
``{"op": "status"}``, ``{"op": "stop"}``, ``{"op": "ping"}``.
"""

from __future__ import annotations

import base64
import binascii
import json
import socket
from typing import Any

MAX_REQUEST = 1 << 28
"""Largest request accepted (bytes): a command line, or one carrying a save file."""


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


def encode_files(files: dict[str, bytes]) -> dict[str, str]:
    return {path: base64.b64encode(data).decode("ascii") for path, data in files.items()}


def decode_files(obj: Any) -> dict[str, bytes]:
    """``files`` of a message; ValueError if it is not a map of paths to base64."""
    if obj is None:
        return {}
    if not isinstance(obj, dict):
        raise ValueError("files must be a map of paths to base64 strings")
    try:
        return {str(p): base64.b64decode(d, validate=True) for p, d in obj.items()}
    except (binascii.Error, TypeError) as exc:
        raise ValueError(f"files: {exc}") from None

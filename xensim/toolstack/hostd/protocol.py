"""The wire format between clients and a host daemon: one JSON request per connection.

A client connects, sends one JSON object and shuts down its sending side; the daemon
reads to end of file, so a client killed while sending leaves an incomplete request
that is discarded, never half-executed.  The answer is one JSON object
``{rc, stdout, stderr, ...}``, then the daemon closes.

Requests (:func:`check_request` enforces the shape, so nothing else in the daemon sees
an unexpected type):

- ``{"op": "xl", "argv": [...], "cwd": "/dir", "files": {PATH: FILE}}``: an xl command
  line.  ``files`` carries the bytes of the files the command reads, read by the client
  as real xl reads its own config; FILE is ``{"data": BASE64}`` or ``{"errno": N}``
  when the client could not read it.  A command that needs a file it was not sent is
  answered ``{"need_files": [PATH...]}`` without running, and the client asks again
  with them.  A reply may carry ``{"write_files": {PATH: BASE64}}`` for the client to
  write (``xl save``'s file is written by xl, not by the daemon).
- ``{"op": "status"}``, ``{"op": "stop"}``, ``{"op": "ping"}``.

Limits: a request is at most :data:`MAX_REQUEST` bytes, :data:`MAX_ARGS` arguments and
:data:`MAX_FILES` files; JSON nested too deep for the parser is a
:class:`ProtocolError` like any other malformed message.  Standard library only.
"""

from __future__ import annotations

import base64
import binascii
import json
import socket
from typing import Any

MAX_FILE = 16 << 20
"""Largest file a client sends for a command (bytes); more is refused with EFBIG."""
MAX_REQUEST = MAX_FILE * 2
"""Largest request accepted (bytes): one maximal file in base64 plus its command line."""
MAX_ARGS = 4096
MAX_ARG = 1 << 16
MAX_FILES = 8
OPS = ("xl", "status", "stop", "ping")


class ProtocolError(Exception):
    """A request or reply that is not one complete, well-formed JSON object."""


def recv_all(sock: socket.socket, limit: int = MAX_REQUEST) -> bytes:
    """Read to end of file from a blocking socket (the client's side)."""
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
    except (UnicodeDecodeError, ValueError) as exc:
        raise ProtocolError(f"incomplete or malformed message: {exc}") from None
    except RecursionError:
        raise ProtocolError("malformed message: nested too deeply") from None
    if not isinstance(obj, dict):
        raise ProtocolError("message is not a JSON object")
    return obj


def encode(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj).encode("utf-8")


def check_request(req: dict[str, Any]) -> dict[str, Any]:
    """*req* if it has a request's shape; a :class:`ProtocolError` naming what is wrong."""
    op = req.get("op", "xl")
    if op not in OPS:
        raise ProtocolError(f"unknown op {op!r}")
    if op != "xl":
        return {"op": op}
    argv = req.get("argv")
    if not isinstance(argv, list) or not all(isinstance(a, str) for a in argv):
        raise ProtocolError("argv must be a list of strings")
    if len(argv) > MAX_ARGS or any(len(a) > MAX_ARG for a in argv):
        raise ProtocolError(f"argv too long (at most {MAX_ARGS} arguments of "
                            f"{MAX_ARG} characters)")
    cwd = req.get("cwd", "/")
    if not isinstance(cwd, str) or not cwd.startswith("/"):
        raise ProtocolError("cwd must be an absolute path")
    files = req.get("files", {})
    if not isinstance(files, dict) or len(files) > MAX_FILES:
        raise ProtocolError(f"files must be an object of at most {MAX_FILES} entries")
    return {"op": "xl", "argv": argv, "cwd": cwd,
            "files": {_path(p): _file(p, f) for p, f in files.items()}}


def _path(p: str) -> str:
    if not p.startswith("/"):
        raise ProtocolError(f"file path {p!r} is not absolute")
    return p


def _file(path: str, f: Any) -> bytes | int:
    """A file's bytes, or the errno the client got reading it."""
    if isinstance(f, dict) and isinstance(f.get("errno"), int) and len(f) == 1:
        return int(f["errno"])
    if isinstance(f, dict) and isinstance(f.get("data"), str) and len(f) == 1:
        try:
            return base64.b64decode(f["data"], validate=True)
        except (binascii.Error, ValueError):
            raise ProtocolError(f"file {path!r}: data is not base64") from None
    raise ProtocolError(f"file {path!r} must be {{'data': BASE64}} or {{'errno': N}}")


def encode_file(data: bytes | int) -> dict[str, Any]:
    if isinstance(data, int):
        return {"errno": data}
    return {"data": base64.b64encode(data).decode("ascii")}

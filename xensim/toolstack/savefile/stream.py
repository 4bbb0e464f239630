"""The stream after xl's header: libxl's record framing carrying xensim's own records.

Mirrors: tools/libs/light/libxl_sr_stream_format.h (stream header
``"LibxlFmt"``, version 2, big-endian; then records of ``type``, ``length``
and a body padded to 8 bytes, ending with an END record) and
libxl_stream_read.c (a stream that ends early or holds an unknown
mandatory record fails the restore).  Simplified: the records are xensim's,
not libxc's: :data:`REC_XENSIM_DOMAIN` holds one domain's state as JSON (see
:mod:`~xensim.toolstack.savefile.capture`) and :data:`REC_XENSIM_PAGES` one
round of memory pages, which carries only counts since xensim models no
page contents.  A live migration (helper ``migrate``) sends several page
rounds, then the domain record, then END; a save file holds one round.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from xensim.toolstack.savefile.header import SaveFileError

STREAM_IDENT = b"LibxlFmt"
STREAM_VERSION = 2
_STREAM_HDR = struct.Struct(">8sII")
_REC_HDR = struct.Struct("<II")

REC_END = 0x00000000
REC_XENSIM_DOMAIN = 0x58530001
"""xensim: the domain's state, JSON (``"XS"`` in the high half, not a libxl number)."""
REC_XENSIM_PAGES = 0x58530002
"""xensim: one round of guest pages, JSON ``{"round": n, "pages": count, "dirty": bool}``."""
KNOWN_RECORDS = (REC_END, REC_XENSIM_DOMAIN, REC_XENSIM_PAGES)


@dataclass(frozen=True)
class Record:
    type: int
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))


def json_record(rtype: int, obj: Any) -> Record:
    """A record whose body is *obj* as canonical JSON (sorted keys: byte-identical runs)."""
    return Record(rtype, json.dumps(obj, sort_keys=True, separators=(",", ":")).encode())


def stream_header() -> bytes:
    return _STREAM_HDR.pack(STREAM_IDENT, STREAM_VERSION, 0)


def encode_record(rec: Record) -> bytes:
    pad = -len(rec.body) % 8
    return _REC_HDR.pack(rec.type, len(rec.body)) + rec.body + b"\0" * pad


def write_stream(records: Iterable[Record]) -> bytes:
    """Stream header, *records*, then END."""
    parts = [stream_header()]
    parts += [encode_record(r) for r in records]
    parts.append(encode_record(Record(REC_END, b"")))
    return b"".join(parts)


def _fail(msg: str) -> SaveFileError:
    return SaveFileError(f"libxl: error: libxl_stream_read.c: {msg}\n"
                         f"libxl: error: libxl_create.c: cannot (re-)build domain: -3")


def read_stream(data: bytes, offset: int = 0) -> list[Record]:
    """Every record from *offset* up to END (which is not returned).  Raises
    :class:`SaveFileError` for a stream that is truncated, foreign or unknown."""
    if len(data) - offset < _STREAM_HDR.size:
        raise _fail("truncated stream: reading stream header")
    ident, version, _options = _STREAM_HDR.unpack_from(data, offset)
    if ident != STREAM_IDENT:
        raise _fail(f"Invalid ident: expected 0x{int.from_bytes(STREAM_IDENT, 'big'):016x}, "
                    f"got 0x{int.from_bytes(ident, 'big'):016x}")
    if version != STREAM_VERSION:
        raise _fail(f"Unexpected Version: expected {STREAM_VERSION}, got {version}")
    pos = offset + _STREAM_HDR.size
    out: list[Record] = []
    while True:
        if len(data) - pos < _REC_HDR.size:
            raise _fail("truncated stream: reading record header")
        rtype, length = _REC_HDR.unpack_from(data, pos)
        pos += _REC_HDR.size
        padded = length + (-length % 8)
        if len(data) - pos < padded:
            raise _fail(f"truncated stream: reading record 0x{rtype:08x} body")
        body = data[pos:pos + length]
        pos += padded
        if rtype == REC_END:
            return out
        if rtype not in KNOWN_RECORDS:
            raise _fail(f"Unrecognised record 0x{rtype:08x}")
        out.append(Record(rtype, body))

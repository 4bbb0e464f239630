"""Trace files: what ``xensim run --trace FILE`` writes and ``xensim trace`` reads.

Mirrors the role of xentrace's binary trace (tools/xentrace/xentrace.c):
fixed-size binary records with a header, so a long run writes fast and reads
back without parsing text.  Unlike xentrace, event names are not fixed
numbers: the header carries the run's own event-name table, so a new
subsystem can emit a new event without touching this module.

Format, version 1 (the whole file is one gzip stream)::

    line 1   b"xensim-trace 1\n"                           magic and version
    line 2   one JSON object + b"\n"                        the header (below)
    rest     records, little-endian, back to back:
             int64 t_ns, int16 cpu, int16 domid, int16 vcpu,
             uint8 event (index into header["events"]), uint8 ndata,
             then ndata x int64 data values

Header keys: ``version``, ``host`` {pcpus, scheduler, seed}, ``pcpus``,
``domains`` {domid (as a string, JSON keys are strings): {name, vcpus}},
``idle_domid``, ``events`` (names), ``hypercalls`` {nr: name},
``start_ns`` (where the run's metrics start: after any warm-up),
``end_ns`` and ``nrecords``.  A switch record is 32 bytes before gzip; a
10 s run of the 16-pCPU reference host (~10^5 records) is a few MB raw and
well under 1 MB on disk.
"""

from __future__ import annotations

import gzip
import json
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from xensim.hypervisor.trace import TraceRecord
from xensim.research.errors import ResearchError

if TYPE_CHECKING:
    from xensim.host import Host

MAGIC = b"xensim-trace 1\n"
VERSION = 1
_HEAD = struct.Struct("<qhhhBB")
_DATA = [struct.Struct("<" + "q" * n) for n in range(256)]
GZIP_LEVEL = 6
"""Level 6 writes about three times faster than gzip's default 9 for a few % more bytes."""


class TraceFileError(ResearchError):
    """A file that is not a readable xensim trace (the message says why)."""


@dataclass
class Trace:
    """A trace read back: its header and its records, in emission order."""

    header: dict[str, Any]
    records: list[TraceRecord] = field(default_factory=list)

    @property
    def pcpus(self) -> int:
        return int(self.header["pcpus"])

    @property
    def start_ns(self) -> int:
        return int(self.header["start_ns"])

    @property
    def end_ns(self) -> int:
        return int(self.header["end_ns"])

    @property
    def idle_domid(self) -> int:
        return int(self.header["idle_domid"])

    def domain_name(self, domid: int) -> str:
        if domid == self.idle_domid:
            return "idle"
        d = self.header["domains"].get(str(domid))
        return d["name"] if d else f"d{domid}"

    def domain_names(self) -> dict[int, str]:
        """domid -> name for every guest domain (Domain-0 included), sorted by domid."""
        return {int(k): v["name"] for k, v in sorted(self.header["domains"].items(),
                                                      key=lambda kv: int(kv[0]))}


def header_for(host: Host, events: list[str]) -> dict[str, Any]:
    """The header of *host*'s trace: what a reader needs to name things."""
    from xensim.hypervisor.domain import DOMID_IDLE
    from xensim.hypervisor.hypercall import HC

    hv = host.hv
    return {
        "version": VERSION,
        "host": {"pcpus": len(hv.pcpus), "scheduler": hv.pools[0].sched.name,
                 "seed": hv.seed},
        "pcpus": len(hv.pcpus),
        "domains": {str(d.domid): {"name": d.name, "vcpus": len(d.vcpus)}
                    for d in host.all_domains},
        "idle_domid": DOMID_IDLE,
        "events": events,
        "hypercalls": {str(int(h)): h.name for h in HC},
        "start_ns": host.start_ns,
        "end_ns": host.env.now,
    }


def _int(v: Any, rec: TraceRecord) -> int:
    if isinstance(v, int):
        return int(v)
    if isinstance(v, float) and v.is_integer():
        return int(v)
    raise TraceFileError(f"trace record {rec.event!r} at t={rec.t} carries a non-integer "
                         f"data value {v!r}; the trace format stores integers only")


def write_records(f: IO[bytes], header: dict[str, Any],
                  records: Iterable[TraceRecord]) -> int:
    """Write the magic, *header* and *records* to the binary stream *f*; returns the count."""
    codes = {name: i for i, name in enumerate(header["events"])}
    pack = _HEAD.pack
    chunk: list[bytes] = []
    n = 0
    f.write(MAGIC)
    f.write(json.dumps(header, sort_keys=True).encode() + b"\n")
    for rec in records:
        t, cpu, event, domid, vcpu, data = rec
        chunk.append(pack(t, cpu, domid, vcpu, codes[event], len(data)))
        if data:
            try:
                chunk.append(_DATA[len(data)].pack(*data))
            except struct.error:
                chunk.append(_DATA[len(data)].pack(*(_int(v, rec) for v in data)))
        n += 1
        if len(chunk) >= 8192:
            f.write(b"".join(chunk))
            chunk.clear()
    f.write(b"".join(chunk))
    return n


def write_trace(path: str | Path, host: Host) -> int:
    """Write *host*'s trace buffer to *path*; returns the number of records.

    The host must have been built with ``trace=True``.
    """
    records = host.hv.trace.records
    events = sorted({r.event for r in records})
    if len(events) > 255:
        raise TraceFileError("more than 255 distinct trace event names")
    header = header_for(host, events)
    header["nrecords"] = len(records)
    with gzip.open(path, "wb", compresslevel=GZIP_LEVEL) as f:
        return write_records(f, header, records)  # type: ignore[arg-type]


def _iter_records(buf: bytes, offset: int, events: list[str]) -> Iterator[TraceRecord]:
    unpack_from = _HEAD.unpack_from
    size = _HEAD.size
    end = len(buf)
    while offset < end:
        if offset + size > end:
            raise TraceFileError(f"truncated record at byte {offset}")
        t, cpu, domid, vcpu, code, ndata = unpack_from(buf, offset)
        offset += size
        if ndata:
            data = _DATA[ndata].unpack_from(buf, offset)
            offset += 8 * ndata
        else:
            data = ()
        yield TraceRecord(t, cpu, events[code], domid, vcpu, data)


def read_trace(path: str | Path) -> Trace:
    """Read a trace file; raises :class:`TraceFileError` for anything else."""
    try:
        with gzip.open(path, "rb") as f:
            buf = f.read()
    except OSError as exc:
        raise TraceFileError(f"{path}: not a gzip'd xensim trace ({exc})") from None
    if not buf.startswith(MAGIC):
        raise TraceFileError(f"{path}: not an xensim trace (bad magic; expected "
                             f"{MAGIC.decode().strip()!r})")
    nl = buf.find(b"\n", len(MAGIC))
    if nl < 0:
        raise TraceFileError(f"{path}: truncated header")
    header = json.loads(buf[len(MAGIC):nl])
    try:
        records = list(_iter_records(buf, nl + 1, header["events"]))
    except TraceFileError as exc:
        raise TraceFileError(f"{path}: {exc}") from None
    return Trace(header, records)


def is_trace_file(path: str | Path) -> bool:
    """Whether *path* starts like an xensim trace (gzip magic, then ours)."""
    try:
        with gzip.open(path, "rb") as f:
            return f.read(len(MAGIC)) == MAGIC
    except OSError:
        return False

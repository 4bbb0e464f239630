"""The trace buffer: an xentrace-like stream of what the hypervisor did.

Components call :meth:`TraceBuffer.emit` with a short event name; the buffer
is off unless a run asks for a trace, and an off buffer costs one attribute
test per call site (``if trace.enabled``).  Records are plain tuples so a
long run stays cheap; exporters turn them into files and timelines.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from xensim.hypervisor.time import SimTime


class TraceRecord(NamedTuple):
    t: SimTime
    cpu: int
    event: str
    domid: int
    vcpu: int
    data: tuple[Any, ...]


class TraceBuffer:
    """Collects :class:`TraceRecord` rows while :attr:`enabled` is true."""

    def __init__(self, enabled: bool = False) -> None:
        self.enabled = enabled
        self.records: list[TraceRecord] = []

    def emit(self, t: SimTime, cpu: int, event: str, domid: int = -1, vcpu: int = -1,
             *data: Any) -> None:
        self.records.append(TraceRecord(t, cpu, event, domid, vcpu, data))

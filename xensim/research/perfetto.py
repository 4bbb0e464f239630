"""``xensim trace export --perfetto``: a trace as Chrome/Perfetto trace-event JSON.

The trace-event format (the JSON that chrome://tracing and ui.perfetto.dev
open) has complete events (``"ph": "X"``, with ``ts`` and ``dur`` in µs),
instant events (``"ph": "i"``) and metadata events (``"ph": "M"``) that
name processes and threads.  We emit two views of one run:

* one process per pCPU ("cpu3", pid ``1 + cpu``), one thread, an ``X``
  slice per running stretch named after the domain, so Perfetto's
  colour-by-name gives every domain one colour across pCPUs; tickles,
  steals and credit accounting are instants on that pCPU;
* one process per domain (pid ``DOMAIN_PID_BASE + domid``) with a thread
  per vCPU: the same slices named ``on cpuN``, and wakes, blocks, boosts,
  migrations and hypercalls as instants.

Thread ids are unique across processes because Perfetto's JSON importer
treats a tid as a Linux thread id.  Times are ns in the trace and µs here
(``ts = t_ns / 1000``); ``displayTimeUnit`` asks the UI to show ns.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from xensim.research.summary import analyse
from xensim.research.tracefile import Trace

DOMAIN_PID_BASE = 100_000
"""Domain processes sort after the pCPUs (pCPU pids are 1 + cpu)."""

_CPU_EVENTS = frozenset({"tickle", "steal", "credit_acct"})
_SKIP = frozenset({"switch"})


def _cpu_pid(cpu: int) -> int:
    return 1 + cpu


def _vcpu_tid(domid: int, vcpu: int) -> int:
    return 1_000_000 + domid * 1024 + vcpu


def _meta(kind: str, pid: int, tid: int, name: str) -> dict[str, Any]:
    return {"ph": "M", "name": kind, "pid": pid, "tid": tid, "args": {"name": name}}


def _us(ns: int) -> float:
    return ns / 1000


def trace_events(trace: Trace) -> list[dict[str, Any]]:
    """The ``traceEvents`` list for *trace*: metadata, slices, then instants."""
    a = analyse(trace)
    idle = trace.idle_domid
    names = trace.domain_names()
    hc = trace.header.get("hypercalls", {})
    ev: list[dict[str, Any]] = []
    for cpu in range(trace.pcpus):
        pid = _cpu_pid(cpu)
        ev.append(_meta("process_name", pid, pid, f"cpu{cpu}"))
        ev.append({"ph": "M", "name": "process_sort_index", "pid": pid, "tid": pid,
                   "args": {"sort_index": pid}})
        ev.append(_meta("thread_name", pid, pid, f"cpu{cpu}"))
    seen_vcpus = sorted({k for k in a.vcpus} | {(r.domid, r.vcpu) for r in trace.records
                                                if r.domid in names and r.vcpu >= 0})
    for domid in sorted({d for d, _ in seen_vcpus}):
        pid = DOMAIN_PID_BASE + domid
        ev.append(_meta("process_name", pid, pid, f"{names[domid]} (d{domid})"
                        if domid in names else f"d{domid}"))
        ev.append({"ph": "M", "name": "process_sort_index", "pid": pid, "tid": pid,
                   "args": {"sort_index": pid}})
    for domid, vcpu in seen_vcpus:
        ev.append(_meta("thread_name", DOMAIN_PID_BASE + domid, _vcpu_tid(domid, vcpu),
                        f"d{domid}v{vcpu}"))
    for s in a.slices:
        if s.domid == idle or s.end <= s.start:
            continue
        name = names.get(s.domid, f"d{s.domid}")
        ts, dur = _us(s.start), _us(s.end - s.start)
        args = {"domid": s.domid, "vcpu": s.vcpu, "cpu": s.cpu}
        ev.append({"ph": "X", "cat": "run", "name": name, "ts": ts, "dur": dur,
                   "pid": _cpu_pid(s.cpu), "tid": _cpu_pid(s.cpu),
                   "args": {**args, "vcpu_name": f"d{s.domid}v{s.vcpu}"}})
        ev.append({"ph": "X", "cat": "run", "name": f"on cpu{s.cpu}", "ts": ts, "dur": dur,
                   "pid": DOMAIN_PID_BASE + s.domid, "tid": _vcpu_tid(s.domid, s.vcpu),
                   "args": args})
    for t, cpu, event, domid, vcpu, data in trace.records:
        if event in _SKIP:
            continue
        name = event
        if event == "hypercall" and data:
            name = f"hypercall {hc.get(str(int(data[0])), '#' + str(data[0]))}"
        args: dict[str, Any] = {"cpu": cpu}
        if domid >= 0:
            args.update(domid=domid, vcpu=vcpu)
        if data:
            args["data"] = list(data)
        if event in _CPU_EVENTS or domid not in names or vcpu < 0:
            if not 0 <= cpu < trace.pcpus:
                continue
            pid = tid = _cpu_pid(cpu)
            if domid in names:
                name = f"{event} d{domid}v{vcpu}"
        else:
            pid, tid = DOMAIN_PID_BASE + domid, _vcpu_tid(domid, vcpu)
        ev.append({"ph": "i", "s": "t", "cat": event, "name": name, "ts": _us(t),
                   "pid": pid, "tid": tid, "args": args})
    return ev


def export_perfetto(trace: Trace, out: str | Path) -> int:
    """Write *trace* as trace-event JSON to *out*; returns the number of events."""
    events = trace_events(trace)
    doc = {"traceEvents": events, "displayTimeUnit": "ns",
           "otherData": {"generator": "xensim", "host": trace.header["host"],
                         "start_ns": trace.start_ns, "end_ns": trace.end_ns}}
    with open(out, "w") as f:
        json.dump(doc, f, separators=(",", ":"))
    return len(events)

"""Timelines: the compact "who ran where, when" that plots need.

A result JSON only carries totals, but a Gantt chart or a share-over-time
plot needs every running slice.  Rather than make ``plot`` re-run anything,
``xensim run --timeline`` (implied by ``--plot``) embeds a ``timeline``
object in the result, and a trace file yields the same object, so every
plot takes either.  Shape (version 1)::

    {"version": 1, "start_ns": .., "end_ns": .., "pcpus": N,
     "domains": {"<domid>": "<name>", ...},
     "slices": {"cpu": [..], "start_ns": [..], "end_ns": [..],
                "domid": [..], "vcpu": [..]},          # non-idle only, columnar
     "latency_ns": {"wakeup": {"<domain>": [samples..]}, "<kind>": {...}}}

Slices are clipped to the measured window.  Latency kinds other than
``wakeup`` come from the guests' own statistics: any per-vCPU sample list
named ``<kind>_ns`` (``response_ns`` of a periodic task; an I/O workload's
``io_ns``) becomes kind ``<kind>``, so new workloads get CDFs for free.
Columns keep the JSON small: ``dumps_result`` writes them one list per line.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from xensim.research.summary import Analysis, analyse
from xensim.research.tracefile import Trace, header_for

if TYPE_CHECKING:
    from xensim.host import Host

COLUMNS = ("cpu", "start_ns", "end_ns", "domid", "vcpu")


def timeline_from_analysis(a: Analysis) -> dict[str, Any]:
    """The timeline of a replayed trace (wake-up latencies from the replay)."""
    tr = a.trace
    start, end, idle = tr.start_ns, tr.end_ns, tr.idle_domid
    cols: dict[str, list[int]] = {c: [] for c in COLUMNS}
    for s in sorted(a.slices, key=lambda s: (s.cpu, s.start)):
        lo, hi = max(s.start, start), min(s.end, end)
        if s.domid == idle or hi <= lo:
            continue
        for c, v in zip(COLUMNS, (s.cpu, lo, hi, s.domid, s.vcpu), strict=True):
            cols[c].append(v)
    names = tr.domain_names()
    wake: dict[str, list[int]] = {}
    for (domid, _), st in sorted(a.vcpus.items()):
        if st.wake_latencies_ns:
            wake.setdefault(names.get(domid, f"d{domid}"), []).extend(st.wake_latencies_ns)
    return {"version": 1, "start_ns": start, "end_ns": end, "pcpus": tr.pcpus,
            "domains": {str(k): v for k, v in names.items()}, "slices": cols,
            "latency_ns": {"wakeup": wake}}


def timeline_from_host(host: Host) -> dict[str, Any]:
    """The timeline of a traced host after its run, with the guests' own samples."""
    records = host.hv.trace.records
    header = header_for(host, sorted({r.event for r in records}))
    tl = timeline_from_analysis(analyse(Trace(header, records)))
    lat: dict[str, dict[str, list[int]]] = {"wakeup": {}}
    for d in host.all_domains:
        samples = [x for v in d.vcpus for x in v.wake_latencies]
        if samples:
            lat["wakeup"][d.name] = samples
        for stats in host.toolstack.guest_stats.get(d.domid, []):
            for key, value in sorted(stats.items()):
                if key.endswith("_ns") and isinstance(value, list) and value:
                    lat.setdefault(key[:-3], {}).setdefault(d.name, []).extend(value)
    tl["latency_ns"] = lat
    return tl


def load_timeline(path: str) -> dict[str, Any]:
    """The timeline in a result JSON (``--timeline``) or a trace file."""
    from xensim.research.errors import ResearchError
    from xensim.research.tracefile import is_trace_file, read_trace

    if is_trace_file(path):
        return timeline_from_analysis(analyse(read_trace(path)))
    try:
        with open(path) as f:
            result = json.load(f)
    except OSError as exc:
        raise ResearchError(f"{path}: cannot read: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise ResearchError(f"{path}: neither an xensim trace nor JSON ({exc})") from None
    tl = result.get("timeline") if isinstance(result, dict) else None
    if not isinstance(tl, dict):
        raise ResearchError(f"{path}: this result has no timeline; re-run with "
                            "`xensim run SCENARIO --json OUT --timeline`, or plot a trace "
                            "file from `xensim run SCENARIO --trace FILE`")
    return tl


_NUM_LIST = re.compile(r"\[\s+(-?[\d.e+-]+(?:,\s+-?[\d.e+-]+)*)\s+\]")


def dumps_result(result: dict[str, Any]) -> str:
    """``json.dumps(indent=2, sort_keys=True)``, but numeric lists on one line,
    so an embedded timeline costs a few bytes per slice, not a line per number."""
    text = json.dumps(result, indent=2, sort_keys=True)
    return _NUM_LIST.sub(lambda m: "[" + re.sub(r",\s+", ", ", m.group(1)) + "]", text) + "\n"

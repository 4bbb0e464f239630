"""``xensim trace summary``: xenalyze-style totals per domain, vCPU and pCPU.

Mirrors: the spirit of xen's tools/xentrace/xenalyze.c summary mode, which
replays the scheduler records to rebuild who ran where and for how long,
then prints per-domain/vCPU runstate times, wake-to-run latencies and
per-pCPU activity.  Simplified: we replay only our own event names
(``switch``, ``wake``, ``block``, ``boost_start``, ``hypercall``,
``tickle``, ``steal``, ``migrate``) and keep samples in memory.

The replay follows the accounting of :mod:`xensim.metrics` so the two
agree: a running slice lasts from a ``switch`` in to the next ``switch`` on
that pCPU; a wake-to-run latency starts at a ``wake`` of a vCPU that had
blocked *and been switched out* (its runstate was BLOCKED) and ends when it
is next switched in; a migration is a switch-in on another pCPU than the
vCPU's previous one.  Only the measured window ``[start_ns, end_ns]`` of
the header counts, as after a warm-up.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from xensim.metrics import percentile
from xensim.research.tracefile import Trace


@dataclass(slots=True)
class VcpuStats:
    domid: int
    vcpu: int
    run_ns: int = 0
    switches_in: int = 0
    wakes: int = 0
    wake_latencies_ns: list[int] = field(default_factory=list)
    boosts: int = 0
    migrations: int = 0
    hypercalls: Counter[int] = field(default_factory=Counter)


@dataclass(slots=True)
class PcpuStats:
    cpu: int
    busy_ns: int = 0
    switches: int = 0
    tickles: int = 0
    steals: int = 0


@dataclass
class Slice:
    """One stretch of a vCPU running on a pCPU (idle slices included)."""

    cpu: int
    start: int
    end: int
    domid: int
    vcpu: int


@dataclass
class Analysis:
    """What a replay of a trace found."""

    trace: Trace
    vcpus: dict[tuple[int, int], VcpuStats]
    pcpus: list[PcpuStats]
    slices: list[Slice]

    @property
    def duration_ns(self) -> int:
        return self.trace.end_ns - self.trace.start_ns

    def domain_run_ns(self) -> dict[int, int]:
        out: dict[int, int] = {}
        for (domid, _), s in sorted(self.vcpus.items()):
            out[domid] = out.get(domid, 0) + s.run_ns
        return out


def analyse(trace: Trace) -> Analysis:
    """Replay *trace* into per-vCPU and per-pCPU stats and the list of running slices."""
    start, end, idle = trace.start_ns, trace.end_ns, trace.idle_domid
    vcpus: dict[tuple[int, int], VcpuStats] = {}
    pcpus = [PcpuStats(c) for c in range(trace.pcpus)]
    slices: list[Slice] = []
    occupant: list[tuple[int, int, int]] = [(idle, c, 0) for c in range(trace.pcpus)]
    blocked: set[tuple[int, int]] = set()      # saw "block", no "wake" since
    asleep: set[tuple[int, int]] = set()       # runstate BLOCKED (switched out blocked)
    woke_at: dict[tuple[int, int], int] = {}
    running: set[tuple[int, int]] = set()
    last_cpu: dict[tuple[int, int], int] = {}

    def stats(key: tuple[int, int]) -> VcpuStats:
        s = vcpus.get(key)
        if s is None:
            s = vcpus[key] = VcpuStats(*key)
        return s

    def close(cpu: int, t: int) -> None:
        domid, vcpu, t0 = occupant[cpu]
        slices.append(Slice(cpu, t0, t, domid, vcpu))
        ns = min(t, end) - max(t0, start)
        if ns > 0 and domid != idle:
            stats((domid, vcpu)).run_ns += ns
            pcpus[cpu].busy_ns += ns

    for t, cpu, event, domid, vcpu, data in trace.records:
        key = (domid, vcpu)
        counted = start <= t <= end
        if event == "switch":
            close(cpu, t)
            prev = (data[0], data[1])
            running.discard(prev)
            if prev in blocked:
                asleep.add(prev)
            occupant[cpu] = (domid, vcpu, t)
            if counted:
                pcpus[cpu].switches += 1
            if domid == idle:
                continue
            running.add(key)
            s = stats(key)
            if counted:
                s.switches_in += 1
            if last_cpu.get(key, cpu) != cpu and counted:
                s.migrations += 1
            last_cpu[key] = cpu
            if key in woke_at:
                lat = t - woke_at.pop(key)
                if counted:
                    s.wake_latencies_ns.append(lat)
        elif event == "wake":
            if key in asleep:
                woke_at[key] = t
            blocked.discard(key)
            asleep.discard(key)
            if counted:
                stats(key).wakes += 1
        elif event == "block":
            blocked.add(key)
            if key not in running:
                asleep.add(key)
        elif not counted:
            continue
        elif event == "boost_start":
            stats(key).boosts += 1
        elif event == "hypercall":
            stats(key).hypercalls[int(data[0])] += 1
        elif event == "tickle" and 0 <= cpu < len(pcpus):
            pcpus[cpu].tickles += 1
        elif event == "steal" and 0 <= cpu < len(pcpus):
            pcpus[cpu].steals += 1
    for cpu in range(trace.pcpus):
        close(cpu, end)
    return Analysis(trace, vcpus, pcpus, slices)


def _lat(samples: list[int]) -> tuple[str, str, str]:
    s = sorted(samples)
    if not s:
        return "", "", ""
    return (f"{percentile(s, 50) / 1000:.1f}", f"{percentile(s, 99) / 1000:.1f}",
            f"{s[-1] / 1000:.1f}")


def summary_tables(a: Analysis) -> list[Any]:
    """Rich renderables: a header line, the per-vCPU table and the per-pCPU table."""
    from rich.table import Table

    tr = a.trace
    dur = a.duration_ns
    host = tr.header["host"]
    hc_names = tr.header.get("hypercalls", {})
    title = (f"{dur / 1e9:g} s traced on {host['pcpus']} pCPUs ({host['scheduler']}, "
             f"seed {host['seed']}), {len(tr.records):,} records")
    vt = Table(title=f"Per domain and vCPU: {title}")
    for col, just in (("Domain", "left"), ("vCPU", "right"), ("Run s", "right"),
                      ("CPU%", "right"), ("Switches", "right"), ("Wakes", "right"),
                      ("Wake p50", "right"), ("p99", "right"), ("max µs", "right"),
                      ("Boosts", "right"), ("Migr", "right"), ("Hypercalls", "left")):
        vt.add_column(col, justify=just, no_wrap=col != "Hypercalls")  # type: ignore[arg-type]
    by_dom: dict[int, list[VcpuStats]] = {}
    for key in sorted(a.vcpus):
        by_dom.setdefault(key[0], []).append(a.vcpus[key])
    for domid in list(tr.domain_names()) + sorted(set(by_dom) - set(tr.domain_names())):
        rows = by_dom.get(domid, [])
        if not rows:
            continue
        name = tr.domain_name(domid)
        for s in rows:
            hcs = ", ".join(f"{hc_names.get(str(nr), f'#{nr}')}({nr}):{n}"
                            for nr, n in sorted(s.hypercalls.items()))
            vt.add_row(name, str(s.vcpu), f"{s.run_ns / 1e9:.3f}",
                       f"{100 * s.run_ns / dur:.1f}" if dur else "", str(s.switches_in),
                       str(s.wakes), *_lat(s.wake_latencies_ns), str(s.boosts),
                       str(s.migrations), hcs)
        if len(rows) > 1:
            run = sum(s.run_ns for s in rows)
            lats = [x for s in rows for x in s.wake_latencies_ns]
            vt.add_row(f"[b]{name}[/b]", "all", f"{run / 1e9:.3f}",
                       f"{100 * run / dur:.1f}" if dur else "",
                       str(sum(s.switches_in for s in rows)),
                       str(sum(s.wakes for s in rows)), *_lat(lats),
                       str(sum(s.boosts for s in rows)),
                       str(sum(s.migrations for s in rows)),
                       f"{hcs_total} total" if (hcs_total := sum(
                           sum(s.hypercalls.values()) for s in rows)) else "")
    pt = Table(title="Per pCPU")
    for col in ("pCPU", "Busy s", "Busy %", "Switches", "Tickles", "Steals"):
        pt.add_column(col, justify="right", no_wrap=True)
    for p in a.pcpus:
        pt.add_row(str(p.cpu), f"{p.busy_ns / 1e9:.3f}",
                   f"{100 * p.busy_ns / dur:.1f}" if dur else "", str(p.switches),
                   str(p.tickles), str(p.steals))
    return [vt, pt]

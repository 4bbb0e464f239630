"""Results of a run, computed after the fact from what the host accounted.

Like SimSo's ``Results``: the hot path only accumulates (runstate times,
wake-up latencies, work by kind); this module turns them into the JSON
shape that ``xensim run --json`` writes and the tables print.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from xensim.hypervisor.vcpu import RunState

if TYPE_CHECKING:
    from xensim.host import Host
    from xensim.hypervisor.domain import Domain
    from xensim.hypervisor.vcpu import VCPU


def percentile(sorted_values: list[int], q: float) -> int:
    """Nearest-rank percentile (q in 0..100) of an already sorted list; 0 if empty."""
    if not sorted_values:
        return 0
    rank = max(1, -(-len(sorted_values) * q // 100))  # ceil(n*q/100), at least 1
    return sorted_values[int(rank) - 1]


def latency_summary_us(samples_ns: list[int]) -> dict[str, float]:
    s = sorted(samples_ns)
    return {"n": len(s), "p50": percentile(s, 50) / 1000, "p99": percentile(s, 99) / 1000,
            "max": (s[-1] / 1000) if s else 0.0}


def events_dispatched(host: Host) -> int:
    """SimPy events processed so far: ids handed out minus those still queued."""
    env = host.env
    issued = env._eid.__reduce__()[1][0]  # type: ignore[attr-defined]
    return int(issued) - len(env._queue)  # type: ignore[attr-defined]


def vcpu_metrics(v: VCPU, now: int) -> dict[str, Any]:
    times = v.runstate_snapshot(now)
    return {
        "vcpu": v.vcpu_id,
        "running_ns": times[RunState.RUNNING],
        "runnable_ns": times[RunState.RUNNABLE],
        "blocked_ns": times[RunState.BLOCKED],
        "offline_ns": times[RunState.OFFLINE],
        "wakeup_latency_us": latency_summary_us(v.wake_latencies),
        "switches": v.nr_switches,
        "migrations": v.nr_migrations,
        "time_by_kind_ns": dict(sorted(v.kind_ns.items())),
    }


def _merge_stats(per_vcpu: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for stats in per_vcpu:
        for key, value in stats.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                out[key] = out.get(key, 0) + value
            elif isinstance(value, list):
                out.setdefault(key, []).extend(value)
    return out


def domain_metrics(host: Host, d: Domain, now: int, duration: int) -> dict[str, Any]:
    vcpus = [vcpu_metrics(v, now) for v in d.vcpus]
    cpu_ns = sum(m["running_ns"] for m in vcpus)
    out: dict[str, Any] = {
        "domid": d.domid,
        "workload": d.info.get("workload", ""),
        "cpu_ns": cpu_ns,
        "cpu_share": cpu_ns / duration if duration else 0.0,
        "vcpus": vcpus,
    }
    if d.is_dying:
        out["destroyed"] = True
    stats = _merge_stats(host.toolstack.guest_stats.get(d.domid, []))
    if "jobs" in stats:
        out["jobs"] = stats["jobs"]
        out["deadline_misses"] = stats["deadline_misses"]
        out["response_time_us"] = latency_summary_us(stats.get("response_ns", []))
    if "io_ops" in stats:
        nbytes = stats.get("io_bytes", 0)
        out["io"] = {"ops": stats["io_ops"], "bytes": nbytes,
                     "mbit_per_s": nbytes * 8000 / duration if duration else 0.0,
                     "latency_us": latency_summary_us(stats.get("io_latency_ns", []))}
    io_counters(host, d, out)
    if d.hypercall_counts:
        out["hypercalls"] = dict(sorted(d.hypercall_counts.items()))
    if d.denied:
        out["denied"] = d.denied
    return out


def io_counters(host: Host, d: Domain, out: dict[str, Any]) -> None:
    """Event-channel sends and grant operations of *d* (only when non-zero): entries it
    granted, and the maps, unmaps and copies it performed."""
    hv = host.hv
    if hv.evtchn is not None:
        sends = hv.evtchn.counters[d.domid].get("sends", 0)
        if sends:
            out["evtchn_sends"] = sends
    if hv.gnttab is not None:
        c = hv.gnttab.counters[d.domid]
        ops = c.get("grants", 0) + c.get("maps", 0) + c.get("unmaps", 0) + c.get("copies", 0)
        if ops:
            out["grant_ops"] = ops


def collect(host: Host) -> dict[str, Any]:
    """Everything a run reports, keyed as the README documents."""
    now = host.env.now
    duration = now - host.start_ns
    hyp = host.hv
    domains = {d.name: domain_metrics(host, d, now, duration) for d in host.all_domains}
    pcpus = []
    for p in hyp.pcpus:
        idle_ns = p.idle.runstate_snapshot(now)[RunState.RUNNING]
        pcpus.append({"cpu": p.cpu_id, "pool": p.pool.name if p.pool else None,
                      "idle_ns": idle_ns, "busy_ns": duration - idle_ns})
    return {
        "duration_ns": duration,
        "host": {"pcpus": len(hyp.pcpus), "scheduler": hyp.pools[0].sched.name,
                 "seed": hyp.seed},
        "domains": domains,
        "pcpus": pcpus,
        "sched": {"schedules": hyp.core.nr_schedules, "context_switches": hyp.core.nr_switches},
        "events": events_dispatched(host),
    }

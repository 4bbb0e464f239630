"""How fast does xensim simulate a busy host?  Prints figures and ratios.

Reference host (issue #2): 16 pCPUs, 64 single-vCPU domains, half ``cpu``,
half ``duty:busy_ms=2,idle_ms=6``, credit scheduler.  The baseline is this
machine's bare SimPy dispatch rate (a process looping on ``env.timeout``),
measured in the same run, because machines here are noisy: compare ratios,
not absolute numbers.  The CPU-time figures (process time, not wall time)
are steadier when other jobs share the cores.

``--vs PYTHON`` also runs each repeat under another interpreter, in
alternation, and compares CPU time: ``make bench-fast`` passes the compiled
build's (``.venv-fast/bin/python``).

    python benchmarks/bench_host.py [--sim-s 5] [--repeat 3] [--vs PYTHON]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import time

import simpy

from xensim.compiled import build_name
from xensim.host import Host
from xensim.hypervisor.timer import queue_expiry
from xensim.metrics import events_dispatched


def bare_simpy_rates(n: int = 300_000) -> tuple[float, float]:
    """SimPy events per wall second and per CPU second for a loop of
    ``yield env.timeout(1)``."""
    env = simpy.Environment()

    def loop(env: simpy.Environment):  # type: ignore[no-untyped-def]
        for _ in range(n):
            yield env.timeout(1)

    env.process(loop(env))
    t0, c0 = time.perf_counter(), time.process_time()
    env.run()
    return n / (time.perf_counter() - t0), n / (time.process_time() - c0)


def bare_simpy_rate(n: int = 300_000) -> float:
    """SimPy events per wall second for a loop of ``yield env.timeout(1)``."""
    return bare_simpy_rates(n)[0]


def stepping_rate(n: int = 300_000) -> float:
    """Events per CPU second when each is one of xensim's queue entries (what a timer or
    a softirq queues) whose callback only queues the next: what SimPy's loop costs to
    queue and step the host's events with no work done in them, a floor under any run."""
    env = simpy.Environment()
    left = [n]

    def requeue(_ev: object) -> None:
        left[0] -= 1
        if left[0]:
            queue_expiry(env, env.now + 1, callbacks, None)

    callbacks = (requeue,)
    queue_expiry(env, 0, callbacks, None)
    c0 = time.process_time()
    env.run()
    return n / (time.process_time() - c0)


def reference_host(seed: int = 1) -> Host:
    host = Host(pcpus=16, seed=seed, memory=65536)
    for i in range(32):
        host.create(f"cpu{i}", workload="cpu")
        host.create(f"duty{i}", workload="duty:busy_ms=2,idle_ms=6")
    return host


def run_host(sim_s: float) -> tuple[float, float, int, float]:
    """Wall and CPU seconds for *sim_s* of the reference host, its events and decisions/s."""
    host = reference_host()
    t0, c0 = time.perf_counter(), time.process_time()
    host.run(ms=sim_s * 1000)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    return wall, cpu, events_dispatched(host), host.metrics()["sched"]["schedules"] / sim_s


def measure(sim_s: float) -> dict[str, float]:
    """One repeat: bare SimPy's rates, then *sim_s* of the reference host."""
    base, base_cpu = bare_simpy_rates()
    wall, cpu, events, decisions = run_host(sim_s)
    return {"base": base, "base_cpu": base_cpu, "wall": wall, "cpu": cpu,
            "events": events, "decisions": decisions}


def measure_with(python: str, sim_s: float) -> tuple[str, dict[str, float]]:
    """One repeat under another interpreter (its own xensim build)."""
    out = subprocess.run([python, __file__, "--sim-s", str(sim_s), "--json"],
                         capture_output=True, text=True, check=True).stdout
    row = json.loads(out)
    return row.pop("build"), row


def compare(args: argparse.Namespace) -> None:
    """This interpreter and ``--vs``'s in alternation; medians of CPU-time figures."""
    mine: list[dict[str, float]] = []
    theirs: list[dict[str, float]] = []
    other = ""
    for _ in range(args.repeat):
        mine.append(measure(args.sim_s))
        other, row = measure_with(args.vs, args.sim_s)
        theirs.append(row)
    print(f"reference host, {args.sim_s:g} simulated s x {args.repeat}, "
          "medians per CPU second (shared machines):")
    for name, rows in ((build_name(), mine), (other, theirs)):
        speed = statistics.median(args.sim_s / r["cpu"] for r in rows)
        ratio = statistics.median(r["events"] / r["cpu"] / r["base_cpu"] for r in rows)
        print(f"  {name:36s}: {speed:6.1f} simulated s, ratio to bare SimPy {ratio:.2f}")
    factor = statistics.median(a["cpu"] / b["cpu"] for a, b in zip(mine, theirs, strict=True))
    print(f"CPU time, {build_name()} / {other}: {factor:.2f} (median of the pairs)")
    assert all(a["events"] == b["events"] for a, b in zip(mine, theirs, strict=True)), \
        "the two builds dispatched different numbers of events"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sim-s", type=float, default=5.0, help="simulated seconds per repeat")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--vs", metavar="PYTHON",
                    help="also run under this interpreter, alternating; compare CPU time")
    ap.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.json:
        print(json.dumps({"build": build_name(), **measure(args.sim_s)}))
        return
    if args.vs:
        compare(args)
        return
    print(f"xensim build: {build_name()}")
    best = None
    cpu_rows = []
    for _ in range(args.repeat):
        m = measure(args.sim_s)
        base, base_cpu, wall, cpu = m["base"], m["base_cpu"], m["wall"], m["cpu"]
        events, decisions = m["events"], m["decisions"]
        row = (args.sim_s / wall, events / wall, base, decisions)
        cpu_rows.append((args.sim_s / cpu, events / cpu / base_cpu))
        if best is None or row[0] > best[0]:
            best = row
        print(f"  run: {args.sim_s / wall:6.1f} sim-s/wall-s, {events / wall:10,.0f} events/s, "
              f"bare SimPy {base:10,.0f} events/s; per CPU second: {args.sim_s / cpu:6.1f} "
              f"sim-s, ratio {events / cpu / base_cpu:.2f}")
    assert best is not None
    speed, ev_rate, base, decisions = best
    cpu_speed, cpu_ratio = sorted(cpu_rows)[len(cpu_rows) // 2]
    print("reference host: 16 pCPUs, 64 domains (32 cpu, 32 duty), credit")
    print(f"simulated seconds per wall second : {speed:8.1f}")
    print(f"scheduler decisions per sim second: {decisions:8,.0f}")
    print(f"xensim SimPy events per second    : {ev_rate:10,.0f}")
    print(f"bare SimPy events per second      : {base:10,.0f}")
    print(f"ratio xensim / bare event rate    : {ev_rate / base:8.2f}")
    print(f"median per CPU second (shared machines): {cpu_speed:.1f} simulated s, "
          f"ratio to bare SimPy {cpu_ratio:.2f}")
    print(f"bare-SimPy events per decision budget at 50x real time: "
          f"{base / (50 * decisions):.2f}")
    floor = stepping_rate()
    per_sim_s = ev_rate / speed
    left_us = (1 / 50 - per_sim_s / floor) / decisions * 1e6
    print(f"SimPy stepping these events alone : {floor / per_sim_s:8.1f} simulated s per CPU s "
          f"({per_sim_s:,.0f} events per simulated s, {floor:,.0f} stepped per CPU s)")
    now_us = (1 / cpu_speed - per_sim_s / floor) / decisions * 1e6
    print(f"CPU per decision left at 50x      : {left_us:8.2f} us, for the policy, the switch "
          "and the guest's reaction")
    print(f"the same, spent in this run       : {now_us:8.2f} us (median per CPU second)")


if __name__ == "__main__":
    main()

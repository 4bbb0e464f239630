"""Is xensim's cost linear in the work?  Wall time per domain created and per event.

Sweeps the number of domains (at a fixed pCPU count) and the number of pCPUs
(at a fixed domain count); each point is a host of single-vCPU guests, half
``cpu`` and half ``duty:busy_ms=4,idle_ms=12``, under credit (issue #12).
For each point it prints the wall and CPU time to create every domain, and
the CPU time per SimPy event over a measured window after a warm-up, next to
the CPU cost of one bare SimPy event (the machines here are shared and noisy:
CPU time, unlike wall time, does not count the time other jobs held the core;
the window is cut into rounds that visit every point of a sweep in turn, and
the ratio is the figure to compare).

    python benchmarks/bench_scale.py                       # both sweeps
    python benchmarks/bench_scale.py --domains 64,1000 --pcpus 16
    python benchmarks/bench_scale.py --target              # 10,000 domains, 256 pCPUs, 10 s
    python benchmarks/bench_scale.py --target --cli        # the same through `xensim run`

``--target`` builds the issue's big host through the Python API (or, with
``--cli``, writes it as a scenario and runs ``xensim run`` on it) and prints
the creation time, the wall time of 10 simulated seconds and the peak memory.
The CPU seconds the process used are printed beside each wall time: on a
machine shared with other jobs they say what a dedicated core would take.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_host import bare_simpy_rate, bare_simpy_rates

from xensim.host import Host
from xensim.metrics import events_dispatched

DUTY = "duty:busy_ms=4,idle_ms=12"


def build(domains: int, pcpus: int) -> tuple[Host, float, float]:
    """The sweep's host, with the wall and CPU seconds its domains took to create."""
    host = Host(pcpus=pcpus, seed=1, memory=64 * domains + 4096, dom0_vcpus=min(pcpus, 4))
    t0, c0 = time.perf_counter(), time.process_time()
    for i in range(domains // 2):
        host.create(f"cpu{i}", workload="cpu", memory=32)
        host.create(f"duty{i}", workload=DUTY, memory=32)
    return host, time.perf_counter() - t0, time.process_time() - c0


def sweep(points: list[tuple[int, int]], warm_ms: float, ms: float, repeats: int = 5) -> None:
    """Print one line per (domains, pCPUs) point.  Every host is built first, then
    the measured window is cut into *repeats* rounds that visit each host in turn,
    beside a bare-SimPy loop, and each keeps its cheapest round: on a shared machine
    the neighbours only ever add to a measurement, and they come and go over the
    minutes a sweep takes, so points measured minutes apart would not compare."""
    built = []
    for domains, pcpus in points:
        host, create_s, create_cpu = build(domains, pcpus)
        host.run(ms=warm_ms)
        built.append((domains, pcpus, host, create_s, create_cpu))
    base_us = float("inf")
    best = [float("inf")] * len(built)
    events = [0] * len(built)
    for _ in range(repeats):
        base_us = min(base_us, 1e6 / bare_simpy_rates(100_000)[1])
        for k, (_d, _p, host, _s, _c) in enumerate(built):
            e0, c0 = events_dispatched(host), time.process_time()
            host.run(ms=ms / repeats)
            cpu = time.process_time() - c0
            n = events_dispatched(host) - e0
            events[k] += n
            best[k] = min(best[k], cpu / n * 1e6)
    print(HEADER)
    for k, (domains, pcpus, _host, create_s, create_cpu) in enumerate(built):
        print(f"{domains:>7,} {pcpus:>6} {create_s:9.2f} {create_cpu:9.2f} "
              f"{create_cpu / domains * 1e3:9.2f} {events[k]:>9,} {best[k]:9.2f} "
              f"{base_us:9.3f} {best[k] / base_us:7.1f}", flush=True)


HEADER = (f"{'domains':>7} {'pcpus':>6} {'create s':>9} {'cpu s':>9} {'cpu ms/d':>9} "
          f"{'events':>9} {'cpu us/ev':>9} {'bare us':>9} {'x bare':>7}")


def scenario_text(domains: int, pcpus: int, seconds: float) -> str:
    """The target host as a scenario file for ``xensim run``."""
    lines = ["[host]", f"pcpus = {pcpus}", 'scheduler = "credit"', "seed = 1",
             f"memory = {64 * domains + 4096}", f"dom0_vcpus = {min(pcpus, 4)}", ""]
    for i in range(domains // 2):
        for name, wl in ((f"cpu{i}", "cpu"), (f"duty{i}", DUTY)):
            lines += ["[[domain]]", f'name = "{name}"', f'workload = "{wl}"', "memory = 32", ""]
    lines += ["[run]", f"duration_ms = {seconds * 1000:g}", ""]
    return "\n".join(lines)


# The child runs `xensim run` (xensim.cli's main, what the console script calls) and
# says on stderr when the host is built, so creation is timed apart from the run.
CLI_CHILD = """
import sys, time
import xensim.scenario as scenario
from xensim.cli import main
t0, c0 = time.perf_counter(), time.process_time()
build_host = scenario.build_host
def timed(*args, **kw):
    host = build_host(*args, **kw)
    print(f"built {time.perf_counter() - t0} {time.process_time() - c0}", file=sys.stderr)
    return host
scenario.build_host = timed
sys.exit(main(["run", sys.argv[1], "-q"]))
"""


def target(domains: int, pcpus: int, seconds: float, cli: bool) -> None:
    base = bare_simpy_rate()
    print(f"bare SimPy events per second      : {base:12,.0f}")
    if cli:
        with tempfile.TemporaryDirectory() as tmp:
            sc = Path(tmp) / "scale.toml"
            sc.write_text(scenario_text(domains, pcpus, seconds))
            t0 = time.perf_counter()
            child = subprocess.run([sys.executable, "-c", CLI_CHILD, str(sc)], check=True,
                                   stderr=subprocess.PIPE, text=True)
            wall = time.perf_counter() - t0
        built = [line.split() for line in child.stderr.splitlines() if line.startswith("built ")]
        use = resource.getrusage(resource.RUSAGE_CHILDREN)
        peak = use.ru_maxrss / 2**20
        print(f"xensim run, {domains:,} domains on {pcpus} pCPUs, {seconds:g} simulated s")
        if built:
            b_wall, b_cpu = float(built[0][1]), float(built[0][2])
            print(f"reading the scenario, creating    : {b_wall:12.1f} s "
                  f"({b_wall / domains * 1e3:.2f} ms each; {b_cpu:.1f} s of CPU)")
        print(f"wall time, build + run            : {wall:12.1f} s "
              f"({use.ru_utime + use.ru_stime:.1f} s of CPU)")
        print(f"peak memory                       : {peak:12.2f} GiB")
        return
    host, create_s, create_cpu = build(domains, pcpus)
    print(f"Python API, {domains:,} domains on {pcpus} pCPUs")
    print(f"creating the domains              : {create_s:12.1f} s "
          f"({create_s / domains * 1e3:.2f} ms each; {create_cpu:.1f} s of CPU)")
    e0, t0, c0 = events_dispatched(host), time.perf_counter(), time.process_time()
    host.run(ms=seconds * 1000)
    wall = time.perf_counter() - t0
    cpu = time.process_time() - c0
    events = events_dispatched(host) - e0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(f"{seconds:g} simulated s                    : {wall:12.1f} s wall "
          f"({cpu:.1f} s of CPU; {events:,} events, {wall / events * 1e6:.1f} us each)")
    print(f"ratio xensim / bare event rate    : {events / wall / base:12.3f}")
    print(f"peak memory                       : {peak:12.2f} GiB")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--domains", default="64,250,1000,2500,10000",
                    help="domain counts of the domain sweep (at --sweep-pcpus)")
    ap.add_argument("--sweep-pcpus", type=int, default=16)
    ap.add_argument("--pcpus", default="4,16,64,256",
                    help="pCPU counts of the pCPU sweep (at --sweep-domains)")
    ap.add_argument("--sweep-domains", type=int, default=1000)
    ap.add_argument("--warm-ms", type=float, default=100.0)
    ap.add_argument("--ms", type=float, default=1000.0, help="measured simulated ms per point")
    ap.add_argument("--target", action="store_true", help="the 10,000-domain target run")
    ap.add_argument("--cli", action="store_true", help="--target through `xensim run`")
    ap.add_argument("--seconds", type=float, default=10.0, help="--target's simulated s")
    args = ap.parse_args()
    if args.target:
        target(10_000, 256, args.seconds, args.cli)
        return
    domains = [int(x) for x in args.domains.split(",") if x]
    if domains:
        print(f"domain sweep on {args.sweep_pcpus} pCPUs (half cpu, half {DUTY}, credit)")
        sweep([(n, args.sweep_pcpus) for n in domains], args.warm_ms, args.ms)
    pcpus = [int(x) for x in args.pcpus.split(",") if x]
    if pcpus:
        print(f"pCPU sweep with {args.sweep_domains:,} domains")
        sweep([(args.sweep_domains, p) for p in pcpus], args.warm_ms, args.ms)


if __name__ == "__main__":
    main()

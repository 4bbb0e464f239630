"""Does a long-lived host keep its memory flat?  Prints memory over time (issue #16).

Two soaks, on a host configured as the daemon runs it (``keep_destroyed=False``, latency
samples trimmed as the daemon trims them):

1. *--cycles* create/destroy cycles of a small guest (``xl create`` then ``xl destroy``,
   one simulated millisecond each way), printing the process's resident memory (RSS)
   and the Python heap every tenth of the way.  The old daemon kept every domain it
   ever created: about 130 KB a cycle (44 MB to 862 MB over 6,286 cycles).
2. A long run of three busy guests for *--sim-s* simulated seconds, printing memory
   each simulated second.

    python benchmarks/bench_soak.py [--cycles 10000] [--sim-s 20]
"""

from __future__ import annotations

import argparse
import gc
import time

from xensim.host import Host
from xensim.toolstack.hostd.daemon import KEEP_SAMPLES


def rss_mib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def heap_mib() -> float:
    """Bytes held by live Python objects the GC tracks, roughly (sys.getsizeof sum)."""
    import sys

    gc.collect()
    return sum(sys.getsizeof(o) for o in gc.get_objects()) / (1 << 20)


def soak_cycles(n: int) -> None:
    host = Host(pcpus=2, seed=1, keep_destroyed=False)
    print(f"create/destroy cycles: {n}")
    print(f"{'cycle':>8} {'RSS MiB':>9} {'heap MiB':>9} {'wall s':>7}")
    t0 = time.perf_counter()
    step = max(1, n // 10)
    for i in range(n + 1):
        if i % step == 0:
            print(f"{i:>8} {rss_mib():>9.1f} {heap_mib():>9.1f} {time.perf_counter() - t0:>7.1f}",
                  flush=True)
        if i == n:
            break
        d = host.create("g", memory=64, workload="cpu")
        host.run(ms=1)
        host.toolstack.domain_destroy(d)
        host.run(ms=1)


def soak_long_run(sim_s: int) -> None:
    host = Host(pcpus=2, seed=1, keep_destroyed=False)
    host.create("cpu", memory=256, workload="cpu")
    host.create("interactive", memory=256, workload="duty:busy_ms=0.2,idle_ms=10")
    host.create("disk", memory=256, workload="disk")
    print(f"long run: {sim_s} simulated s, 3 guests (cpu, duty, disk)")
    print(f"{'sim s':>8} {'RSS MiB':>9} {'heap MiB':>9} {'wall s':>7}")
    t0 = time.perf_counter()
    for s in range(sim_s + 1):
        if s:
            host.run(ms=1000)
            host.trim_samples(KEEP_SAMPLES)  # what the daemon does every 10 wall s
        print(f"{s:>8} {rss_mib():>9.1f} {heap_mib():>9.1f} {time.perf_counter() - t0:>7.1f}",
              flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cycles", type=int, default=10_000)
    ap.add_argument("--sim-s", type=int, default=20)
    args = ap.parse_args()
    soak_cycles(args.cycles)
    soak_long_run(args.sim_s)


if __name__ == "__main__":
    main()

"""What do xensim's primitive steps cost, in bare SimPy events?  One line per hot path.

Each figure is wall time per operation divided by the wall time of one bare
SimPy event (a process looping on ``env.timeout``) measured just before it,
so the ratios hold on a busy machine where absolute times do not:

- context switch: two CPU hogs on one pCPU with a 1 ms slice and no rate
  limit; the whole decision (slice timer, credit's do_schedule, the switch,
  runstates, the work timer) per switch;
- hypercall: ``xen_version`` from a guest vCPU through the hypercall table;
- evtchn send + upcall: a guest's EVTCHNOP_send to a blocked peer on another
  pCPU, then the simulation until the peer has woken, taken the upcall and
  blocked again (wake, SCHEDULE_SOFTIRQ, two switches, the upcall's work);
- grant copy: dom0's GNTTABOP_copy of 4 KiB between two guests' grants;
- xenstore write with N watches: dom0 writes a node while N watches sit on
  other domains' paths; flat in N because watches are indexed by path.

    python benchmarks/bench_micro.py [--n 20000]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from bench_host import bare_simpy_rate

from xensim.domains.dom0.xenstore import XenStore
from xensim.host import Host
from xensim.hypervisor.domctx import DOMID_SELF
from xensim.hypervisor.evtchn import event_channel as ev
from xensim.hypervisor.evtchn.event_channel import EVTCHNOP, EvtchnSend
from xensim.hypervisor.grant.grant_table import GNTCOPY, GNTTABOP, GnttabCopy, GnttabCopyPtr
from xensim.hypervisor.grant.guest import gnttab_grant_foreign_access
from xensim.hypervisor.hypercall import HC


def per_op(fn: Callable[[], None], n: int) -> float:
    """Wall seconds per call of *fn*, best of three rounds of *n*."""
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        best = min(best, (time.perf_counter() - t0) / n)
    return best


def context_switch(n: int) -> float:
    host = Host(pcpus=1, seed=1, sched={"tslice_ms": 1, "ratelimit_us": 0})
    host.create("a", workload="cpu")
    host.create("b", workload="cpu")
    host.run(ms=10)
    core = host.hv.core
    s0, t0 = core.nr_switches, time.perf_counter()
    host.run(ms=n / 10)  # a switch per 1 ms slice: n / 10 of them
    return (time.perf_counter() - t0) / (core.nr_switches - s0)


def hypercall(n: int) -> float:
    host = Host(pcpus=1, seed=1)
    v = host.create("g", workload="idle").vcpus[0]
    hv = host.hv
    return per_op(lambda: hv.hypercall(v, HC.xen_version, 0), n)


def evtchn_round_trip(n: int) -> float:
    host = Host(pcpus=2, seed=1)
    a = host.create("a", workload="idle", cpus="0")
    b = host.create("b", workload="idle", cpus="1")
    host.run(ms=1)
    alloc = ev.EvtchnAllocUnbound(DOMID_SELF, a.domid)
    assert ev.evtchn_alloc_unbound(host.hv.evtchn, b, alloc) == 0
    bind = ev.EvtchnBindInterdomain(b.domid, alloc.port)
    assert ev.evtchn_bind_interdomain(host.hv.evtchn, a, bind) == 0
    hv, va, send = host.hv, a.vcpus[0], EvtchnSend(bind.local_port)
    host.run(ms=1)
    handled = b.vcpus[0]

    def once() -> None:
        assert hv.hypercall(va, HC.event_channel_op, EVTCHNOP.send, send) == 0
        host.run(ns=100_000)

    cost = per_op(once, n // 10)
    assert handled.nr_switches > n // 10  # the peer really ran each time
    return cost


def grant_copy(n: int) -> float:
    host = Host(pcpus=1, seed=1)
    d1 = host.create("g1", workload="idle")
    d2 = host.create("g2", workload="idle")
    gt, dom0 = host.hv.gnttab, host.dom0
    src = gnttab_grant_foreign_access(gt, d1, 0, 3, readonly=True)
    dst = gnttab_grant_foreign_access(gt, d2, 0, 4)
    flags = GNTCOPY.source_gref | GNTCOPY.dest_gref
    v0, hv = dom0.vcpus[0], host.hv

    def once() -> None:
        op = GnttabCopy(GnttabCopyPtr(d1.domid, 0, src), GnttabCopyPtr(d2.domid, 0, dst),
                        4096, flags)
        hv.hypercall(v0, HC.grant_table_op, GNTTABOP.copy, [op], 1)

    return per_op(once, n)


def xenstore_write(n: int, watches: int) -> float:
    xs = XenStore()
    for domid in range(1, watches + 1):
        xs.watch(domid, f"/local/domain/{domid}/control/shutdown", "tok", fire=False)
    return per_op(lambda: xs.write(0, "/local/domain/0/data/x", "1"), n)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=20_000, help="operations per round")
    args = ap.parse_args()
    n = args.n
    cases: list[tuple[str, Callable[[], float]]] = [
        ("context switch (whole decision)", lambda: context_switch(n)),
        ("hypercall (xen_version)", lambda: hypercall(n)),
        ("evtchn send + upcall round trip", lambda: evtchn_round_trip(n)),
        ("grant copy 4 KiB (GNTTABOP_copy)", lambda: grant_copy(n))]
    cases += [(f"xenstore write, {w:>6,} watches", lambda w=w: xenstore_write(n // 4, w))
              for w in (10, 1_000, 10_000)]
    print(f"{'hot path':36} {'us/op':>8} {'bare us':>8} {'bare SimPy events':>18}")
    for name, measure in cases:
        base = 1 / bare_simpy_rate(100_000)  # next to each row: the load here changes
        secs = measure()
        print(f"{name:36} {secs * 1e6:8.2f} {base * 1e6:8.3f} {secs / base:18.1f}", flush=True)


if __name__ == "__main__":
    main()

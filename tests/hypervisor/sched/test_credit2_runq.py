"""credit2's run-queue arithmetic (credit2_runq.py) against Xen 4.19's credit2.c.

cpu_runqueue_match, cpu_runqueue_siblings_match, cpu_add_to_runqueue's choice and
queue numbering, and update_runq_load/update_svc_load's fixed-point decay, checked
with exact numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from xensim.host import Host
from xensim.hypervisor.sched.credit2_runq import (
    decay,
    first_unused_id,
    pick_runqueue,
    runqueue_match,
    siblings_fit,
)
from xensim.hypervisor.topology import Topology

W, P = 20, 18  # the default window (2^30 ns in 2^10 ns units) and precision


def test_the_load_average_moves_halfway_to_the_count_in_half_a_window() -> None:
    # avg' = avg + delta * (load << P) / 2^W - delta * avg / 2^W: from 1.0 towards 3,
    # half a window later it is 2.0 exactly.
    assert decay(1 << P, 3, 0, 1 << (W - 1), W, P) == 2 << P
    assert decay(5 << 30, 0, 7, 7, W, P) == 5 << 30  # no time passed: unchanged


def test_the_load_average_truncates_each_term_as_xen_shifts_it() -> None:
    # (5 * (1 << 18)) >> 20 = 1 (1.25 truncated); the decay term of 0 is 0.
    assert decay(0, 1, 0, 5, W, P) == 1
    # (3 * (1 << 20)) >> 20 = 3 of a 1 << 20 average taken off; nothing added (load 0)
    assert decay(1 << 20, 0, 0, 3, W, P) == (1 << 20) - 3


def test_the_load_average_restarts_at_the_count_after_a_whole_window() -> None:
    # "if ( load_last_update + (1ULL << W) < now )": avgload = load << P.
    assert decay(5 << P, 2, 0, (1 << W) + 1, W, P) == 2 << P
    assert decay(5 << P, 2, 100, 100 + (1 << W) + 1, W, P) == 2 << P


def test_the_load_average_ignores_time_going_backwards() -> None:
    # update_runq_load: "Time went backwards?": delta is taken as 0.
    assert decay(5 << 30, 0, 100, 50, W, P) == 5 << 30


@pytest.mark.parametrize("used, expected", [
    ([], 0), ([0, 1, 2], 3), ([0, 1, 3], 2), ([1, 2], 0), ([2, 0], 1),
])
def test_a_new_run_queue_takes_the_lowest_unused_id(used: list[int], expected: int) -> None:
    assert first_unused_id([_Rq(i) for i in used]) == expected


def test_runqueue_match_follows_the_topology_by_mode() -> None:
    # cpu_runqueue_match on 2 sockets x 2 cores x 2 threads (one node per socket):
    # pCPUs 0-1 a core, 0-3 a socket.
    topo = Topology.parse("2x2x2")
    assert not runqueue_match("cpu", topo, 0, 1)  # one queue per pCPU
    assert runqueue_match("core", topo, 0, 1) and not runqueue_match("core", topo, 0, 2)
    assert runqueue_match("socket", topo, 0, 3) and not runqueue_match("socket", topo, 0, 4)
    assert runqueue_match("node", topo, 0, 3) and not runqueue_match("node", topo, 3, 4)
    assert runqueue_match("all", topo, 0, 7)


def test_siblings_fit_counts_whole_cores_already_in_the_queue() -> None:
    # cpu_runqueue_siblings_match: each core present counts with all its threads, plus
    # the new pCPU's threads, within max_cpus_runq.
    topo = Topology.parse("1x4x2")
    assert siblings_fit(topo, {0}, 4)  # core {0,1} + a new core: 4
    assert siblings_fit(topo, {0, 1}, 4)
    assert not siblings_fit(topo, {0, 2}, 4)  # two cores already: 6 > 4
    assert siblings_fit(topo, {0, 2}, 6)
    assert not siblings_fit(topo, {0, 2}, 5)


def test_the_least_full_matching_queue_is_chosen_the_first_on_a_tie() -> None:
    # cpu_add_to_runqueue: among matching queues with room, the one with fewest pCPUs
    # ("rqd->refcnt < rqd_valid->refcnt": the first one on a tie).
    topo = Topology.parse("1x8x1")
    warn: list[str] = []
    rqs = [_Rq(0, {0, 1, 2}, 0), _Rq(1, {3}, 3), _Rq(2, {4}, 4)]
    assert pick_runqueue(rqs, 5, topo, "all", 16, 8, warn.append) is rqs[1]
    rqs[1].active.add(6)
    assert pick_runqueue(rqs, 5, topo, "all", 16, 8, warn.append) is rqs[2]
    # at most nr_cpus / min_rqs each: with a limit of 4, 8 pCPUs make queues of 4
    full = [_Rq(0, {0, 1, 2, 3}, 0)]
    assert pick_runqueue(full, 4, topo, "all", 4, 8, warn.append) is None
    assert pick_runqueue([_Rq(0, {0, 1, 2}, 0)], 4, topo, "all", 4, 8, warn.append) \
        is not None
    # nr_cpus / min_rqs in integers: 7 pCPUs, at most 3 a queue -> 3 queues of at most 2
    assert pick_runqueue([_Rq(0, {0, 1}, 0)], 2, topo, "all", 3, 7, warn.append) is None
    assert warn == []


def test_credit2_runqueue_all_fills_a_queue_without_keeping_room_for_whole_cores() -> None:
    # cpu_add_to_runqueue: "... || opt_runqueue == OPT_RUNQUEUE_ALL": with pCPUs 0 and 2
    # (two cores' worth) in a queue of at most 4, "socket" wants a new queue for pCPU 4,
    # "all" takes it.
    topo = Topology.parse("1x4x2")
    rq = _Rq(0, {0, 2}, 0)
    assert pick_runqueue([rq], 4, topo, "socket", 5, 8, lambda _m: None) is None
    assert pick_runqueue([rq], 4, topo, "all", 5, 8, lambda _m: None) is rq


def test_siblings_stay_together_even_past_the_limit_with_xens_warning() -> None:
    # cpu_add_to_runqueue keeps a core's threads in one queue even when that exceeds
    # sched_credit2_max_cpus_runqueue, and warns (printk) with both numbers.
    host = Host(topology="1x2x2", xen_cmdline="sched=credit2 sched_credit2_max_cpus_runqueue=1",
                dom0_vcpus=1)
    assert [sorted(r.active) for r in host.hv.pools[0].sched.rqds] == [[0, 1], [2, 3]]
    out = host.xl("dmesg")[1]
    warning = ("WARNING: cpu_add_to_runqueue: more than opt_max_cpus_runqueue in a runqueue "
               "(1 vs 1), due to topology constraints.\nConsider raising it!\n")
    assert out.count(warning) == 2


@dataclass(eq=False)
class _Rq:
    id: int
    active: set[int] = field(default_factory=set)
    pick_bias: int = 0

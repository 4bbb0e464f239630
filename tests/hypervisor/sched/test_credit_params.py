"""credit's boot parameters, per-pCPU set-up, domain parameters and counters, each
checked against what Xen 4.19's credit.c (csched_global_init, csched_init_pdata,
csched_dom_cntl, csched_sys_cntl) would hold."""

from __future__ import annotations

import pytest

from tests.hypervisor.sched.helpers import credit_of
from xensim.host import Host
from xensim.hypervisor.sched.credit import CreditScheduler
from xensim.hypervisor.sched.ops import SchedParamError


def test_a_new_scheduler_starts_with_every_counter_and_the_balance_at_zero() -> None:
    # A new pool's scheduler, before it has any pCPU or domain.
    host = Host(pcpus=2, seed=1, dom0_vcpus=1)
    sched = host.toolstack.cpupool_create("p", "credit", None).sched
    assert isinstance(sched, CreditScheduler)
    assert sched.stats == {"acct": 0, "boost": 0, "park": 0, "unpark": 0, "steal": 0,
                           "tickle": 0, "ratelimit": 0}
    assert sched.credit_balance == 0 and "\tcredit balance     = 0\n" in sched.dump()


@pytest.mark.parametrize(("tslice_ms", "ticks", "tick_us"),
                         [(1, 1, 1000), (2, 1, 2000), (3, 3, 1000), (10, 3, 3333),
                          (1000, 3, 333333)])
def test_boot_tslice_sets_the_ticks_and_their_period_in_whole_microseconds(
        tslice_ms: int, ticks: int, tick_us: int) -> None:
    # csched_global_init: sched_credit_tslice_ms in [1, 1000] is taken; below
    # CSCHED_TICKS_PER_TSLICE (3) ms there is one tick a slice; the tick period is
    # tslice_ms * 1000 / ticks in integer microseconds (10 ms: 3333 us, not 3333.33).
    host = Host(pcpus=1, seed=1, dom0_vcpus=1, xen_cmdline=f"sched_credit_tslice_ms={tslice_ms}")
    sched = credit_of(host)
    assert sched.tslice_ms == tslice_ms and sched.tslice == tslice_ms * 1_000_000
    assert sched.ticks_per_tslice == ticks and sched.tick_period == tick_us * 1000
    assert isinstance(sched.tick_period, int)
    assert sched.credits_per_tslice == 10 * tslice_ms


def test_a_boot_ratelimit_longer_than_the_slice_is_cut_to_the_slice() -> None:
    # csched_init ("Setting ratelimit to tslice"): a ratelimit of 40 ms with a 30 ms
    # slice is the slice; 20 ms is kept.
    assert credit_of(Host(pcpus=1, seed=1, xen_cmdline="sched_ratelimit_us=40000")).ratelimit \
        == 30_000_000
    assert credit_of(Host(pcpus=1, seed=1, xen_cmdline="sched_ratelimit_us=20000")).ratelimit \
        == 20_000_000


@pytest.mark.parametrize(("delay_us", "ns"), [(500, 500_000), (100_000, 100_000_000)])
def test_the_boot_migration_delay_is_taken_up_to_its_maximum(delay_us: int, ns: int) -> None:
    host = Host(pcpus=1, seed=1, xen_cmdline=f"vcpu_migration_delay={delay_us}")
    assert credit_of(host).unit_migr_delay == ns


def test_a_pcpu_joining_starts_its_tick_and_balancing_clock_and_sort_count_now() -> None:
    # csched_init_pdata at time T: the pCPU's tick in a tick period, the master's
    # accounting in a slice (the first pCPU of the pool is the master), its last load
    # balance at T, its sort count at the pool's, its idle bias on the last pCPU.
    host = Host(pcpus=4, topology="2x2x1", seed=1, dom0_vcpus=1)
    assert [p.sched_priv.idle_bias for p in host.hv.pcpus] == [3, 3, 3, 3]
    assert credit_of(host).balance_bias == {0: 0, 1: 2}  # the first pCPU of each node
    for cpu in (2, 3):
        host.toolstack.cpupool_cpu_remove(host.hv.pools[0], cpu)
    host.run(ms=45)
    pool = host.toolstack.cpupool_create("p", "credit", "2")
    sched = pool.sched
    assert isinstance(sched, CreditScheduler)
    assert sched.master_ticker.expires == 75_000_000  # a slice after the pool's birth
    sched.runq_sort = 5
    host.run(ms=1)
    host.toolstack.cpupool_cpu_add(pool, 3)
    spc = host.hv.pcpus[3].sched_priv
    assert spc.last_load_balance == 46_000_000 and spc.runq_sort_last == 5
    assert spc.ticker.expires == 56_000_000
    assert sched.master is host.hv.pcpus[2] and sched.master_ticker.expires == 75_000_000
    assert sched.balance_bias == {1: 2}


def test_domain_parameters_take_their_bounds_and_name_what_is_wrong() -> None:
    host = Host(pcpus=2, seed=1, dom0_vcpus=1)
    d = host.create("d", workload="cpu", vcpus=2, paused=True)
    sched = credit_of(host)
    assert sched.adjust(d, {"weight": 1}) == {"weight": 1, "cap": 0}
    assert sched.adjust(d, {"weight": 65535, "cap": 200}) == {"weight": 65535, "cap": 200}
    with pytest.raises(SchedParamError) as e:
        sched.adjust(d, {"weight": 256, "tslice": 5})
    assert str(e.value) == "unknown credit domain parameter(s) ['tslice']; known: weight, cap"
    with pytest.raises(SchedParamError) as e:
        sched.adjust(d, {"cap": 201})
    assert str(e.value) == "cap must be in 0..200 (100 per vCPU), got 201"
    assert sched.adjust(d) == {"weight": 65535, "cap": 200}  # nothing changed by an error


def test_the_accounting_keeps_its_beat_when_the_master_pcpu_leaves() -> None:
    # csched_deinit_pdata: the next pCPU becomes master and the master ticker is
    # migrated to it (migrate_timer keeps its expiry): a pool built at time 0 and losing
    # its master at 45 ms accounts at 60 ms, not at 75.
    host = Host(pcpus=4, seed=1, dom0_vcpus=1)
    for cpu in (2, 3):
        host.toolstack.cpupool_cpu_remove(host.hv.pools[0], cpu)
    pool = host.toolstack.cpupool_create("p", "credit", "2-3")
    sched = pool.sched
    assert isinstance(sched, CreditScheduler)
    host.run(ms=45)
    host.toolstack.cpupool_cpu_remove(pool, 2)
    assert sched.master is host.hv.pcpus[3]
    assert sched.master_ticker.active and sched.master_ticker.expires == 60_000_000

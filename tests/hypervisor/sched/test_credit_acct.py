"""csched_acct's arithmetic to the credit: each test sets the active lists, credits and
balance by hand, runs one accounting pass (``_acct``) and checks what Xen 4.19's
credit.c would hand out, with the sums worked in the comments (``ceil`` is credit.c's
``(a + b - 1) / b`` in ``uint32_t``)."""

from __future__ import annotations

from tests.hypervisor.sched.helpers import credit_of
from xensim.host import Host
from xensim.hypervisor.sched.credit import (
    FLAG_PARKED,
    PRI_TS_OVER,
    PRI_TS_UNDER,
    CreditScheduler,
    CschedUnit,
)


def _accounting(pcpus: int, doms: list[tuple[str, int, int]], vcpus: int = 1,
                ) -> tuple[CreditScheduler, dict[str, list[CschedUnit]]]:
    """A host of *pcpus* with paused guests (name, weight, cap) whose units alone are
    active, the domains in the given order on the active list, every credit at 0."""
    host = Host(pcpus=pcpus, seed=1, dom0_vcpus=1)
    made = {name: host.create(name, workload="cpu", vcpus=vcpus, cpu_weight=weight, cap=cap,
                              paused=True)
            for name, weight, cap in doms}
    sched = credit_of(host)
    for sdom in list(sched.active_sdom):
        for svc in list(sdom.active_units):
            sched._acct_stop(svc)
    units = {name: [v.sched_priv for v in d.vcpus] for name, d in made.items()}
    for name, _w, _c in reversed(doms):  # active_unit_start puts a domain at the head
        for svc in units[name]:
            svc.credit = 0
            sched._acct_start(svc)
    assert [s.dom.name for s in sched.active_sdom] == [name for name, _w, _c in doms]
    sched.credit_balance = 0
    return sched, units


def test_every_accounting_pass_is_counted() -> None:
    sched, _ = _accounting(1, [("a", 256, 0)])
    before = sched.stats["acct"]
    for _ in range(3):
        sched._acct()
    assert sched.stats["acct"] == before + 3


def test_a_lone_unit_of_weight_one_gets_a_whole_period_and_is_under_at_zero() -> None:
    # weight_total 1 is work like any other: credit_fair = ceil(300 * 1 / 1) = 300,
    # equal to the peak (one unit, 300 a period): -300 + 300 = 0, and a credit of 0 is
    # not below zero, so the unit is UNDER.
    sched, units = _accounting(1, [("a", 1, 0)])
    (svc,) = units["a"]
    svc.credit, svc.pri = -300, PRI_TS_OVER
    sched._acct()
    assert svc.credit == 0 and svc.pri == PRI_TS_UNDER
    assert sched.credit_balance == 0


def test_a_pass_with_nothing_active_zeroes_the_balance_and_asks_for_no_sort() -> None:
    # weight_total == 0: credit_balance = 0 and "goto out": runq_sort is not bumped.
    sched, units = _accounting(1, [("a", 256, 0)])
    sched._acct_stop(units["a"][0])
    assert sched.weight == 0
    sched.credit_balance = -50
    sort = sched.runq_sort
    sched._acct()
    assert sched.credit_balance == 0 and sched.runq_sort == sort
    assert sched.master_ticker.expires == sched.core.now + sched.tslice


def test_a_negative_balance_raises_a_lone_domains_peak_by_all_of_it() -> None:
    # 2 pCPUs (credit 600), balance -30: credit_total 630; the one domain's peak is
    # 300 + ceil(30 * 256 * 1 / 256) = 330 and its fair share 630 is over it, so it gets
    # the peak: -300 + 330 = 30 (under 300: no halving).
    sched, units = _accounting(2, [("a", 256, 0)])
    (svc,) = units["a"]
    svc.credit = -300
    sched.credit_balance = -30
    sched._acct()
    assert svc.credit == 30
    assert sched.credit_balance == 30


def test_a_negative_balance_share_of_the_peak_rounds_up() -> None:
    # weights 2:1 on 2 pCPUs, balance -2: credit_total 602, weight_total 3.
    # a: peak 300 + ceil(2 * 2 / 3) = 302; fair ceil(602 * 2 / 3) = 402 >= 302, so a gets
    #    302 and hands ceil(100 * 3 / 1) = 300 on (credit_total 902).
    # b: peak 300 + ceil(2 * 1 / 3) = 301; fair ceil(902 / 3) = 301 >= 301: 301.
    sched, units = _accounting(2, [("a", 2, 0), ("b", 1, 0)])
    for svc in (*units["a"], *units["b"]):
        svc.credit = -300
    sched.credit_balance = -2
    sched._acct()
    assert [s.credit for s in units["a"]] == [2] and [s.credit for s in units["b"]] == [1]
    assert sched.credit_balance == 3


def test_a_cap_becomes_credit_per_period_rounding_up() -> None:
    # cap 50: credit_cap = ceil(50 * 300 / 100) = 150, the domain's peak; its fair share
    # (300) is over it, so it gets 150.  Per unit the cap is ceil(150 / 1) = 150, and
    # -150 is not below -150: not parked.
    sched, units = _accounting(1, [("a", 256, 50)])
    (svc,) = units["a"]
    svc.credit = -300
    sched._acct()
    assert svc.credit == -150 and not svc.flags & FLAG_PARKED


def test_a_capped_unit_is_parked_only_below_minus_its_cap_and_keeps_its_other_flags() -> None:
    # Three domains capped at 10% on one pCPU: each peak is ceil(10 * 300 / 100) = 30,
    # each fair share is above it (100, 135, 240 as the surplus is handed on), so each
    # unit gets exactly 30.  x ends at -30 (not below -30: runs on), y at -31 and z at -70
    # (parked: paused, the PARKED flag added to the ones it had).
    sched, units = _accounting(1, [("x", 256, 10), ("y", 256, 10), ("z", 256, 10)])
    (x,), (y,), (z,) = units["x"], units["y"], units["z"]
    x.credit, y.credit, z.credit = -60, -61, -100
    flags = {s: s.flags for s in (x, y, z)}
    assert all(flags.values())  # PINNED (one pCPU) at least
    pauses = {s: s.vcpu.pause_count for s in (x, y, z)}
    parks = sched.stats["park"]
    sched._acct()
    assert (x.credit, y.credit, z.credit) == (-30, -31, -70)
    assert x.flags == flags[x] and x.vcpu.pause_count == pauses[x]
    for s in (y, z):
        assert s.flags == flags[s] | FLAG_PARKED and s.vcpu.pause_count == pauses[s] + 1
    assert sched.stats["park"] == parks + 2


def test_a_parked_unit_is_unparked_when_its_credit_is_back_to_zero() -> None:
    # Two capped units parked at -30 get 30 each: 0 is not below zero, so each is UNDER
    # and unparked (vcpu_unpause, PARKED cleared), two unparks counted.
    sched, units = _accounting(1, [("p", 256, 10), ("q", 256, 10)])
    parked = [*units["p"], *units["q"]]
    pauses = {s: s.vcpu.pause_count for s in parked}
    for svc in parked:
        svc.credit, svc.pri = -30, PRI_TS_OVER
        svc.flags |= FLAG_PARKED
        sched.core.vcpu_pause(svc.vcpu)
    unparks = sched.stats["unpark"]
    sched._acct()
    for svc in parked:
        assert svc.credit == 0 and svc.pri == PRI_TS_UNDER
        assert not svc.flags & FLAG_PARKED and svc.vcpu.pause_count == pauses[svc]
    assert sched.stats["unpark"] == unparks + 2


def test_a_domain_given_exactly_its_peak_does_not_mark_credit_as_extra() -> None:
    # 2 pCPUs, a and b weight 256; b capped at 10%.  a's fair share ceil(600 * 256 / 512)
    # = 300 equals its peak, which is not "less than the peak": no credit_xtra.  So b,
    # over its peak, is not moved to the head of the active list (it is only when a
    # domain before it took less than its peak).
    sched, units = _accounting(2, [("a", 256, 0), ("b", 256, 10)])
    sched._acct()
    assert [s.dom.name for s in sched.active_sdom] == ["a", "b"]
    assert [s.credit for s in units["a"]] == [300] and [s.credit for s in units["b"]] == [30]


def test_a_fair_share_rounds_up_per_domain() -> None:
    # weights 1:12 on one pCPU: a's share is ceil(300 * 1 / 13) = ceil(23.08) = 24.
    sched, units = _accounting(1, [("a", 1, 0), ("b", 12, 0)])
    sched._acct()
    assert [s.credit for s in units["a"]] == [24]


def test_a_capped_domains_surplus_is_handed_on_rounding_up() -> None:
    # weights 1:6 on one pCPU, a capped at 10% (peak 30): a's share ceil(300 / 7) = 43;
    # the surplus 13 goes back scaled by weight_total / weight_left, ceil(13 * 7 / 6) =
    # ceil(15.17) = 16, so credit_total is 316 and b gets ceil(316 * 6 / 7) = 271.
    sched, units = _accounting(1, [("a", 1, 10), ("b", 6, 0)])
    sched._acct()
    assert [s.credit for s in units["a"]] == [30] and [s.credit for s in units["b"]] == [271]


def test_the_sort_after_a_pass_moves_a_queued_unit_back_in_credit_ahead_of_over_ones() -> None:
    # One pCPU: r runs, a, b, c are queued OVER in that order.  The pass (75 credits
    # each: four units of equal weight share 300) brings b back to UNDER (-10 + 75) and
    # r, which runs and is in no queue, down to OVER (-100 + 75).  csched_runq_sort then
    # moves b ahead of a and c: r's new priority concerns no queue.
    host = Host(pcpus=1, seed=1, dom0_vcpus=1)
    doms = {n: host.create(n, workload="cpu") for n in "rabc"}
    host.run(ms=1)
    pcpu, sched = host.hv.pcpus[0], credit_of(host)
    r, a, b, c = (doms[n].vcpus[0].sched_priv for n in "rabc")
    assert pcpu.curr is r.vcpu and pcpu.sched_priv.runq.vcpus == [a, b, c]
    for svc in (a, b, c):
        sched._runq_remove(svc)
        svc.pri = PRI_TS_OVER
        sched._runq_insert(svc)
    for sdom in list(sched.active_sdom):
        for svc in list(sdom.active_units):
            sched._acct_stop(svc)
    for svc, credit in ((r, -100), (a, -250), (b, -10), (c, -250)):
        svc.credit = credit
        sched._acct_start(svc)
    r.pri = PRI_TS_UNDER
    sched.credit_balance = 0
    sched._acct()
    assert (r.credit, a.credit, b.credit, c.credit) == (-25, -175, 65, -175)
    assert r.pri == PRI_TS_OVER and b.pri == PRI_TS_UNDER
    sched._runq_sort(pcpu)
    assert pcpu.sched_priv.runq.vcpus == [b, a, c]


def test_a_unit_at_exactly_a_slice_of_credit_stays_active_and_one_above_leaves_with_half() -> None:
    # Two units of one domain on 2 pCPUs get 300 each.  "if ( credit > credits_per_tslice )":
    # 0 + 300 = 300 is not above, so u0 stays active; 100 + 300 = 400 is, so u1 leaves the
    # active list (its weight with it) with 400 / 2 = 200.  A starting unit goes to the
    # head of its domain's list (list_add), so u1, started last, is first, and the pass
    # is traced with the weight_total (256 for each active unit) and credit_total it shared.
    host = Host(pcpus=2, seed=1, dom0_vcpus=1, trace=True)
    d = host.create("a", workload="cpu", vcpus=2, paused=True)
    sched = credit_of(host)
    for sdom in list(sched.active_sdom):
        for svc in list(sdom.active_units):
            sched._acct_stop(svc)
    u0, u1 = (v.sched_priv for v in d.vcpus)
    for svc in (u0, u1):
        sched._acct_start(svc)
    assert d.sched_priv.active_units == [u1, u0] and sched.weight == 512
    u0.credit, u1.credit = 0, 100
    sched.credit_balance = 0
    sched._acct()
    assert (u0.credit, u1.credit) == (300, 200)
    assert u0.active and not u1.active and d.sched_priv.active_units == [u0]
    assert sched.weight == 256
    rec = host.hv.trace.records[-1]
    assert rec.event == "credit_acct" and rec.data == (512, 600)


def test_credit_is_burnt_from_nanoseconds_carrying_the_remainder() -> None:
    # burn_credits: 10 credits a millisecond, the remainder carried in residual; a
    # single nanosecond that completes a credit burns it.
    host = Host(pcpus=1, seed=1, dom0_vcpus=1)
    svc: CschedUnit = host.create("a", workload="cpu", paused=True).vcpus[0].sched_priv
    sched = credit_of(host)
    svc.credit, svc.residual, svc.start_time = 0, 999_990, host.now - 1
    sched._burn_credits(svc, host.now)
    assert (svc.credit, svc.residual) == (-1, 0)

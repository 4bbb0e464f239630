"""Timers: re-armable, cancellable, and queued exactly where a SimPy Timeout would be."""

from __future__ import annotations

import simpy

from xensim.hypervisor.timer import Timer, queue_expiry


def test_expiries_keep_fifo_order_with_timeouts_at_the_same_time():
    """A timer's expiry takes a Timeout's place: same instant, creation order."""
    env = simpy.Environment()
    log: list[str] = []
    t = Timer(env, lambda: log.append("timer"))
    env.timeout(10).callbacks.append(lambda _e: log.append("timeout-before"))
    t.set(10)
    env.timeout(10).callbacks.append(lambda _e: log.append("timeout-after"))
    queue_expiry(env, 10, (lambda e: log.append(f"expiry {e._value}"),), "x")
    env.run()
    assert log == ["timeout-before", "timer", "timeout-after", "expiry x"]
    assert env.now == 10


def test_rearm_later_stop_and_rearm_earlier():
    env = simpy.Environment()
    fired: list[int] = []
    t = Timer(env, lambda: fired.append(env.now))
    t.set(5)
    t.set(8)  # later: the queued event re-queues itself
    env.run(until=20)
    t.set(30)
    t.stop()
    t.set(25)  # earlier than a stale event: a new one
    env.run(until=40)
    assert fired == [8, 25]


def test_a_past_expiry_fires_now():
    env = simpy.Environment()
    env.run(until=7)
    fired: list[int] = []
    Timer(env, lambda: fired.append(env.now)).set(3)
    env.run(until=9)
    assert fired == [7]

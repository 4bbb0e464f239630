"""io/ring.h semantics: batching of notifications and no loss across wrap-around."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xensim.domains.pvio.ring import BackRing, FrontRing, SharedRing, idx


def make(size=32, start=0):
    s = SharedRing(size, start)
    return s, FrontRing(s), BackRing(s)


def test_init_and_sizes():
    s, f, _b = make(32)
    assert (s.req_prod, s.req_event, s.rsp_prod, s.rsp_event) == (0, 1, 0, 1)
    assert f.free_requests() == 32 and not f.full()
    with pytest.raises(ValueError):
        SharedRing(48)


def test_full_and_overflow_guard():
    s, f, b = make(4)
    for i in range(4):
        f.put_request(i)
    assert f.full() and f.free_requests() == 0
    with pytest.raises(OverflowError):
        f.put_request(99)
    f.push_requests_and_check_notify()
    assert b.unconsumed_requests() == 4
    assert b.request_cons_overflow(b.req_cons + 4)
    assert b.request_prod_overflow(s.req_prod + 1)


def test_burst_one_at_a_time_while_consumer_busy_notifies_once():
    _s, f, b = make(64)
    notes = 0
    for i in range(50):  # backend is busy: it never reaches its final check
        f.put_request(i)
        notes += f.push_requests_and_check_notify()
    assert notes == 1
    got = [b.get_request() for _ in range(b.unconsumed_requests())]
    assert got == list(range(50))
    assert not b.final_check_for_requests()  # now asleep: req_event = 51
    f.put_request(50)
    assert f.push_requests_and_check_notify()  # the next one wakes it


def test_final_check_catches_request_racing_with_sleep():
    s, f, b = make(8)
    assert not b.final_check_for_requests()
    f.put_request("x")
    # producer published before the consumer's re-check: the re-check sees it
    s.req_prod = f.req_prod_pvt
    assert b.final_check_for_requests()


def test_response_side_mirrors_request_side():
    s, f, b = make(8)
    f.put_request("a")
    f.push_requests_and_check_notify()
    b.get_request()
    b.put_response("A")
    assert b.push_responses_and_check_notify()  # rsp_event starts at 1
    assert f.unconsumed_responses() == 1 and f.get_response() == "A"
    assert not f.final_check_for_responses()
    assert s.rsp_event == 2


def test_wrap_around_arithmetic():
    start = 0xFFFFFFFE
    s = SharedRing(8, start)
    f, b = FrontRing(s), BackRing(s)
    for i in range(5):
        f.put_request(i)
    assert f.push_requests_and_check_notify()
    assert s.req_prod == 3  # wrapped past 2**32
    assert b.unconsumed_requests() == 5
    assert [b.get_request() for _ in range(5)] == list(range(5))
    assert idx(s.req_prod - b.req_cons) == 0


@settings(max_examples=300, deadline=None)
@given(
    start=st.integers(0, 2**32 - 1) | st.integers(2**32 - 64, 2**32 - 1),
    size_log=st.integers(0, 5),
    steps=st.lists(st.tuples(st.sampled_from("PFB"), st.integers(1, 40)), max_size=80),
)
def test_no_request_lost_and_no_lost_wakeup(start, size_log, steps):
    """Random interleaving of a frontend and a backend that sleeps properly.

    P k: frontend queues up to k requests one by one, pushing each and sending
    an event when told to.  B k: an awake backend handles up to k requests,
    answering each; with nothing left it does its final check and sleeps.
    F k: frontend collects responses.  Invariants: requests arrive in order,
    each exactly once; a sleeping backend never has work without a pending
    event (no lost wake-up).
    """
    s = SharedRing(1 << size_log, start)
    f, b = FrontRing(s), BackRing(s)
    sent = received = answered = 0
    awake, event = False, False
    notifies = 0
    for kind, k in steps + [("B", 10**6), ("F", 10**6)]:
        if kind == "P":
            for _ in range(k):
                if f.full():
                    break
                f.put_request(sent)
                sent += 1
                if f.push_requests_and_check_notify():
                    event, notifies = True, notifies + 1
        elif kind == "B":
            if event:
                awake, event = True, False
            if not awake:
                continue
            for _ in range(k):
                if not b.unconsumed_requests():
                    if not b.final_check_for_requests():
                        awake = False
                        break
                    continue
                req = b.get_request()
                assert req == received
                received += 1
                b.put_response(req)
                b.push_responses_and_check_notify()
        else:
            for _ in range(k):
                if not f.unconsumed_responses():
                    break
                assert f.get_response() == answered
                answered += 1
        if not awake and not event:
            assert b.unconsumed_requests() == 0, "lost wake-up"
    assert received == sent and answered == sent
    assert notifies <= max(sent, 0) or sent == 0

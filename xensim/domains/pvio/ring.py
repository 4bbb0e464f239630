"""Xen's shared I/O ring: one page of slots, two producer/consumer index pairs.

Mirrors: xen/include/public/io/ring.h (SHARED_RING_INIT, FRONT/BACK_RING_ATTACH,
RING_FREE_REQUESTS, RING_FULL, RING_HAS_UNCONSUMED_*, RING_PUSH_*_AND_CHECK_NOTIFY,
RING_FINAL_CHECK_FOR_*, RING_REQUEST_CONS_OVERFLOW); simplified: no memory
barriers (single-threaded), slots hold Python objects.

Every index is a free-running unsigned 32-bit ``RING_IDX``; a slot is
``idx & (size - 1)``.  All index arithmetic goes through :func:`idx` so it
wraps at 2**32 exactly like C, which is what makes the notification test
``(new - event) < (new - old)`` correct across wrap-around.  The test asks:
"did the producer just move past the index the consumer asked to be woken
at?"  A consumer that is busy leaves ``*_event`` behind, so the producer
stays quiet; before sleeping it sets ``*_event = cons + 1`` and re-checks.
"""

from __future__ import annotations

from typing import Any

RING_IDX_MASK = 0xFFFFFFFF


def idx(x: int) -> int:
    """Reduce to an unsigned 32-bit RING_IDX."""
    return x & RING_IDX_MASK


class SharedRing:
    """The shared page: four indices and ``size`` slots (SHARED_RING_INIT)."""

    def __init__(self, size: int, start: int = 0) -> None:
        if size <= 0 or size & (size - 1):
            raise ValueError(f"ring size must be a power of two, got {size}")
        self.size = size
        self.req_prod = self.rsp_prod = idx(start)
        self.req_event = self.rsp_event = idx(start + 1)
        self.ring: list[Any] = [None] * size

    def slot(self, i: int) -> int:
        return i & (self.size - 1)


class FrontRing:
    """The frontend's private view: queues requests, consumes responses."""

    def __init__(self, sring: SharedRing, start: int | None = None) -> None:
        i = sring.req_prod if start is None else idx(start)
        self.sring = sring
        self.req_prod_pvt = i
        self.rsp_cons = i
        self.nr_ents = sring.size

    def free_requests(self) -> int:
        """RING_FREE_REQUESTS: slots not holding an un-answered request."""
        return self.nr_ents - idx(self.req_prod_pvt - self.rsp_cons)

    def full(self) -> bool:
        return self.free_requests() == 0

    def put_request(self, req: Any) -> None:
        """Write at req_prod_pvt (private until pushed)."""
        if self.full():
            raise OverflowError("RING_FULL: frontend would overwrite an unanswered slot")
        self.sring.ring[self.sring.slot(self.req_prod_pvt)] = req
        self.req_prod_pvt = idx(self.req_prod_pvt + 1)

    def push_requests_and_check_notify(self) -> bool:
        """Publish queued requests; True when the backend asked to be woken."""
        s = self.sring
        old, new = s.req_prod, self.req_prod_pvt
        s.req_prod = new
        return idx(new - s.req_event) < idx(new - old)

    def unconsumed_responses(self) -> int:
        return idx(self.sring.rsp_prod - self.rsp_cons)

    def get_response(self) -> Any:
        rsp = self.sring.ring[self.sring.slot(self.rsp_cons)]
        self.rsp_cons = idx(self.rsp_cons + 1)
        return rsp

    def final_check_for_responses(self) -> bool:
        """Before sleeping: ask for a wake-up at the next response, then re-check."""
        if self.unconsumed_responses():
            return True
        self.sring.rsp_event = idx(self.rsp_cons + 1)
        return bool(self.unconsumed_responses())


class BackRing:
    """The backend's private view: consumes requests, queues responses."""

    def __init__(self, sring: SharedRing, start: int | None = None) -> None:
        i = sring.rsp_prod if start is None else idx(start)
        self.sring = sring
        self.rsp_prod_pvt = i
        self.req_cons = i
        self.nr_ents = sring.size

    def unconsumed_requests(self) -> int:
        """Published requests not yet taken, capped by free response space."""
        req = idx(self.sring.req_prod - self.req_cons)
        rsp = self.nr_ents - idx(self.req_cons - self.rsp_prod_pvt)
        return min(req, rsp)

    def request_cons_overflow(self, cons: int) -> bool:
        """RING_REQUEST_CONS_OVERFLOW: would taking *cons* overrun the responses?"""
        return idx(cons - self.rsp_prod_pvt) >= self.nr_ents

    def request_prod_overflow(self, prod: int) -> bool:
        """RING_REQUEST_PROD_OVERFLOW: is the frontend's req_prod impossible?"""
        return idx(prod - self.rsp_prod_pvt) > self.nr_ents

    def get_request(self) -> Any:
        req = self.sring.ring[self.sring.slot(self.req_cons)]
        self.req_cons = idx(self.req_cons + 1)
        return req

    def put_response(self, rsp: Any) -> None:
        self.sring.ring[self.sring.slot(self.rsp_prod_pvt)] = rsp
        self.rsp_prod_pvt = idx(self.rsp_prod_pvt + 1)

    def push_responses_and_check_notify(self) -> bool:
        s = self.sring
        old, new = s.rsp_prod, self.rsp_prod_pvt
        s.rsp_prod = new
        return idx(new - s.rsp_event) < idx(new - old)

    def final_check_for_requests(self) -> bool:
        if self.unconsumed_requests():
            return True
        self.sring.req_event = idx(self.req_cons + 1)
        return bool(self.unconsumed_requests())

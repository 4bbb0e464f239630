"""Frames of a running host for the web page, built in the simulation's thread.

The timeline needs every context switch, which the host only reports through its trace
hook (:class:`~xensim.hypervisor.trace.TraceBuffer`): the recorder turns the trace on and
replaces its ``emit`` with one that keeps only ``switch``, ``wake``, ``boost_start`` and
``boost_end`` (the credit scheduler's BOOST), so a guest's hypercalls cost one call and a
test each.  Each frame then carries only what happened since the previous one; the page
keeps the history.  A slice is marked BOOST when its vCPU was boosted as it started.

Wake-up latency is measured from the same events, as the scheduler core measures it
(from a wake out of BLOCKED to the switch that runs the vCPU), rather than read from the
vCPUs' sample lists, which a long-lived daemon trims; likewise new ``xl dmesg`` lines are
found by the identity of the last line seen, since the console is a ring.

Mirrors: nothing in Xen (xentop and xentrace's ``xenalyze`` are the closest relatives).
"""

from __future__ import annotations

import json
from collections import deque
from typing import TYPE_CHECKING, Any

from xensim.hypervisor.time import SECONDS, SimTime
from xensim.metrics import percentile
from xensim.toolstack.domtable import domain_rows

if TYPE_CHECKING:
    from xensim.host import Host

KEPT_EVENTS = frozenset({"switch", "boost_start", "boost_end"})
"""Trace events the recorder keeps as they come (``wake`` is filtered further)."""
TOP_WINDOW_NS = SECONDS(1)
"""``xl top``'s CPU(%) is averaged over this much simulated time (its default delay)."""
LATENCY_WINDOW_NS = SECONDS(2)
"""Wake-up latencies are summarised over this much recent simulated time."""
MAX_DMESG_PER_FRAME = 200


class FrameRecorder:
    """Collects what the page needs from *host*, one frame at a time."""

    def __init__(self, host: Host) -> None:
        self.host = host
        hv = host.hv
        self.idle_domid = hv.idle_domain.domid
        self.events: list[tuple[Any, ...]] = []
        trace = hv.trace
        trace.enabled = True
        trace.emit = self._emit  # type: ignore[method-assign]
        now = host.env.now
        self.boosted: set[tuple[int, int]] = set()
        self.open: dict[int, tuple[SimTime, int, int, bool]] = {}
        """pCPU -> (start, domid, vcpu, boosted) of what runs there now."""
        for p in hv.pcpus:
            if not p.curr.is_idle:
                self.open[p.cpu_id] = (now, p.curr.domain.domid, p.curr.vcpu_id, False)
        self.seq = 0
        self.cpu_history: deque[tuple[SimTime, dict[int, int]]] = deque()
        self.waking: dict[tuple[int, int], SimTime] = {}
        """vCPUs woken from BLOCKED and not yet run: when they woke."""
        self.latencies: dict[int, tuple[deque[SimTime], deque[int]]] = {}
        """domid -> (when it ran, how long it had waited) of recent wake-ups, as two
        columns so that the waits sort in C."""
        self.last_dmesg = hv.dmesg[-1] if hv.dmesg else None

    def _emit(self, t: SimTime, cpu: int, event: str, domid: int = -1, vcpu: int = -1,
              *data: Any) -> None:
        if event in KEPT_EVENTS:
            self.events.append((t, cpu, event, domid, vcpu))
        elif event == "wake":
            # only a wake out of BLOCKED starts a latency: the core has just stamped it
            d = self.host.hv.domains.get(domid)
            if d is not None and d.vcpus[vcpu].wake_time == t:
                self.events.append((t, cpu, event, domid, vcpu))

    # --- the pieces of a frame ---------------------------------------------------------
    def _slices(self, now: SimTime) -> list[list[int]]:
        """Slices that ended since the last frame, then the open ones cut at *now*
        (the last column says which: 0 closed, 1 still running); wake-up latencies on
        the way."""
        out: list[list[int]] = []
        events, self.events = self.events, []
        for t, cpu, event, domid, vcpu in events:
            if event == "boost_start":
                self.boosted.add((domid, vcpu))
            elif event == "boost_end":
                self.boosted.discard((domid, vcpu))
            elif event == "wake":
                self.waking[(domid, vcpu)] = t
            else:  # a switch on *cpu* to (domid, vcpu)
                woke = self.waking.pop((domid, vcpu), None)
                if woke is not None:
                    when, waited = self.latencies.setdefault(domid, (deque(), deque()))
                    when.append(t)
                    waited.append(t - woke)
                prev = self.open.pop(cpu, None)
                if prev is not None and t > prev[0]:
                    out.append([cpu, prev[0], t, prev[1], prev[2], int(prev[3]), 0])
                if domid != self.idle_domid:
                    self.open[cpu] = (t, domid, vcpu, (domid, vcpu) in self.boosted)
        for cpu, (start, domid, vcpu, boost) in sorted(self.open.items()):
            out.append([cpu, start, now, domid, vcpu, int(boost), 1])
        return out

    def _cpu_percent(self, now: SimTime, cpu: dict[int, int]) -> dict[int, float]:
        """``xl top``'s CPU(%) of each domain over the last simulated second, in percent of
        one pCPU (a second, not a frame: a 30 ms slice would make a frame's figure jump)."""
        self.cpu_history.append((now, cpu))
        while len(self.cpu_history) > 1 and self.cpu_history[1][0] <= now - TOP_WINDOW_NS:
            self.cpu_history.popleft()
        then, before = self.cpu_history[0]
        if now <= then:
            return dict.fromkeys(cpu, 0.0)
        return {d: round((ns - before.get(d, ns)) * 100 / (now - then), 1)
                for d, ns in cpu.items()}

    def _wake_latency(self, now: SimTime) -> dict[int, dict[str, float]]:
        """p50/p99/max (µs) of each domain's wake-ups over the last
        :data:`LATENCY_WINDOW_NS` (call after :meth:`_slices`, which gathers them)."""
        out = {}
        for domid, (when, waited) in list(self.latencies.items()):
            while when and when[0] < now - LATENCY_WINDOW_NS:
                when.popleft()
                waited.popleft()
            if not when:
                del self.latencies[domid]
                continue
            s = sorted(waited)
            out[domid] = {"n": len(s), "p50": percentile(s, 50) / 1000,
                          "p99": percentile(s, 99) / 1000, "max": s[-1] / 1000}
        return out

    def _dmesg(self) -> list[list[Any]]:
        """Console lines logged since the last frame (at most :data:`MAX_DMESG_PER_FRAME`)."""
        new = []
        for line in reversed(self.host.hv.dmesg):
            if line is self.last_dmesg or len(new) == MAX_DMESG_PER_FRAME:
                break
            new.append([line[0], line[1]])
        if new:
            self.last_dmesg = self.host.hv.dmesg[-1]
        return new[::-1]

    def frame(self) -> dict[str, Any]:
        """Everything that changed since the previous frame."""
        host, hv = self.host, self.host.hv
        now = host.env.now
        rows = domain_rows(host)
        pct = self._cpu_percent(now, {r["domid"]: r["cpu_ns"] for r in rows})
        for r in rows:
            r["cpu_pct"] = pct[r["domid"]]
        self.seq += 1
        slices = self._slices(now)  # first: it gathers the wake-ups too
        return {
            "seq": self.seq, "t_ns": now, "pcpus": len(hv.pcpus),
            "scheduler": hv.pools[0].sched.name, "kind": hv.kind.name,
            "domains": rows, "slices": slices,
            "wake_us": self._wake_latency(now), "dmesg": self._dmesg(),
        }

    def frame_json(self) -> bytes:
        return json.dumps(self.frame(), separators=(",", ":")).encode()

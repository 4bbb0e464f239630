"""A network link between two hosts' NICs: the path a migration stream takes.

Models (not mirrors): a full-duplex point-to-point Ethernet link with a line
rate and a one-way latency.  Each direction serialises what is sent on it at
the line rate (one SimPy timeout per delivery, nothing polls); what arrives
is handed to the receiver after the latency.  A link can be cut
(:meth:`Link.cut`): everything still on the wire is lost and the senders see
it down, which is how a migration's failure path is exercised.

Simplified: no TCP (no slow start, no window: the sender keeps the wire full
while it has data, as a long-lived stream on a clean LAN does), no loss but
a cut, and the link is the hosts' migration network, separate from the NIC
their guests' traffic uses.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from xensim.hypervisor.time import MICROSECS, SimTime

if TYPE_CHECKING:
    from simpy import Environment


class Link:
    """Two hosts joined by *bandwidth_mbit* with *latency_us* one way."""

    def __init__(self, env: Environment, a: str, b: str, bandwidth_mbit: float,
                 latency_us: float) -> None:
        if bandwidth_mbit <= 0:
            raise ValueError("a link's bandwidth_mbit must be > 0")
        self.env = env
        self.ends = (a, b)
        self.bandwidth_mbit = bandwidth_mbit
        self.latency_ns: SimTime = MICROSECS(latency_us)
        self.ps_per_byte = round(8_000_000 / bandwidth_mbit)
        """Serialisation time of one byte in picoseconds (integer, exact enough at 100 Gbit/s)."""
        self.up = True
        self._generation = 0
        self._free: dict[str, SimTime] = {a: 0, b: 0}
        """Per sending end: when its direction of the wire is free again."""
        self.bytes_sent = 0

    def other(self, end: str) -> str:
        return self.ends[1] if end == self.ends[0] else self.ends[0]

    def transmit(self, sender: str, nbytes: int, delivered: Callable[[], None]) -> SimTime:
        """Queue *nbytes* from *sender*'s end; *delivered* runs at the other end once
        they have crossed, unless the link is cut first.  Returns when the wire is
        free again for *sender* (the sender paces itself on it)."""
        now = self.env.now
        start = max(now, self._free[sender])
        end = start + nbytes * self.ps_per_byte // 1000
        self._free[sender] = end
        if not self.up:
            return end
        self.bytes_sent += nbytes
        gen = self._generation

        def arrive(_ev: object) -> None:
            if self.up and gen == self._generation:
                delivered()

        ev = self.env.timeout(end + self.latency_ns - now)
        ev.callbacks.append(arrive)  # type: ignore[union-attr]
        return end

    def cut(self) -> None:
        """Unplug the cable: what is on the wire is lost, later sends go nowhere."""
        self.up = False
        self._generation += 1

    def restore(self) -> None:
        self.up = True

    def describe(self) -> dict[str, object]:
        return {"between": list(self.ends), "bandwidth_mbit": self.bandwidth_mbit,
                "latency_us": self.latency_ns / 1000, "bytes": self.bytes_sent,
                "up": self.up}

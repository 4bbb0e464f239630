"""xenconsoled's part in ``xl console``: each console as a stream a client can follow.

Mirrors: tools/console/daemon/io.c (xenconsoled reads every guest's console
and passes it on to the pty that xenconsole reads; when the domain dies the
pty goes, after whatever was already read).  The hypervisor keeps each
console's newest characters and counts those it dropped, so a position in
the stream is ``dropped + kept``; a client that remembers the position it
last read gets exactly what was written since (or, if it fell so far
behind that the cap dropped some, what is left).

When a domain is destroyed its last output is kept here for a while (the
newest :data:`DEPARTED_KEPT` domains), so a client following it still
reads the final lines, such as ``reboot: Power down``, before it learns
that the domain is gone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from xensim.hypervisor.domain import Domain
    from xensim.hypervisor.hypervisor import Hypervisor

DEPARTED_KEPT = 16


class Consoled:
    """The consoles of one host, read as streams."""

    def __init__(self, hyp: Hypervisor) -> None:
        self.hyp = hyp
        self.departed: dict[int, tuple[int, str]] = {}
        """domid -> (end position, text kept) of destroyed domains, oldest first."""
        hyp.teardown_hooks.append(self._departing)
        hyp.create_hooks.append(lambda d: self.departed.pop(d.domid, None))

    def _kept(self, domid: int) -> tuple[int, str]:
        text = "".join(self.hyp.consoles.get(domid, []))
        return self.hyp.console_dropped.get(domid, 0) + len(text), text

    def position(self, domid: int) -> int:
        """Where the stream of a live domain's console ends now."""
        return self._kept(domid)[0]

    def read(self, domid: int, since: int) -> tuple[str, int, bool]:
        """What was written after position *since*, the new position, and whether the
        domain still lives (False: this was the last of it)."""
        d = self.hyp.domains.get(domid)
        if d is not None and not d.is_dying:
            (end, text), alive = self._kept(domid), True
        elif domid in self.departed:
            (end, text), alive = self.departed[domid], False
        else:
            return "", since, False
        start = end - len(text)
        return text[max(since - start, 0):], end, alive

    def _departing(self, d: Domain) -> None:
        self.departed[d.domid] = self._kept(d.domid)
        while len(self.departed) > DEPARTED_KEPT:
            del self.departed[next(iter(self.departed))]

"""Watches: (path, token) pairs per domain, fired on changes at or below the path.

Mirrors: tools/xenstored/watch.c (is_child, fire_watches, do_watch,
do_unwatch, watch_permitted); simplified: events are delivered at once
through a callback instead of being queued on the connection, and identical
pending events are not merged.

A watch fires once when registered, then for every event path that is the
watched path or below it ("exact" events, used for nodes removed as part of
a subtree, fire only on an exact match).  A relative watch reports relative
paths.  A domain only hears about nodes it could read (or whose parent it
could read), as in watch_permitted; special ``@`` events only reach domains
allowed to read the special node (dom0 by default).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

DeliverFn = Callable[[int, str, str], None]
"""``deliver(domid, path, token)``: the WATCH_EVENT sent to *domid*."""

DEFAULT_WATCH_QUOTA = 128


def is_child(child: str, parent: str) -> bool:
    if parent == "/":
        return True
    if not child.startswith(parent):
        return False
    return len(child) == len(parent) or child[len(parent)] == "/"


@dataclass(frozen=True, slots=True)
class Watch:
    domid: int
    path: str  # canonical (absolute or @special)
    token: str
    prefix_len: int  # chars to strip for a relative watch

    def event_path(self, name: str) -> str:
        return name[self.prefix_len :]


class WatchTable:
    def __init__(self, deliver: DeliverFn, quota: int = DEFAULT_WATCH_QUOTA) -> None:
        self.deliver = deliver
        self.quota = quota
        self.watches: list[Watch] = []

    def count(self, domid: int) -> int:
        return sum(1 for w in self.watches if w.domid == domid)

    def find(self, domid: int, path: str, token: str) -> Watch | None:
        for w in self.watches:
            if (w.domid, w.path, w.token) == (domid, path, token):
                return w
        return None

    def add(self, w: Watch, fire: bool = True) -> None:
        self.watches.append(w)
        if fire:
            self.deliver(w.domid, w.event_path(w.path), w.token)

    def remove(self, w: Watch) -> None:
        self.watches.remove(w)

    def drop_domain(self, domid: int) -> None:
        self.watches = [w for w in self.watches if w.domid != domid]

    def fire(self, name: str, exact: bool, permitted: Callable[[int], bool]) -> int:
        """Deliver *name* to every matching watch whose domain may see it."""
        verdict: dict[int, bool] = {}
        sent = 0
        for w in list(self.watches):
            hit = name == w.path if exact else is_child(name, w.path)
            if not hit:
                continue
            if w.domid not in verdict:
                verdict[w.domid] = permitted(w.domid)
            if verdict[w.domid]:
                self.deliver(w.domid, w.event_path(name), w.token)
                sent += 1
        return sent

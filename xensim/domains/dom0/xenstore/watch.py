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


def watched_prefixes(name: str) -> list[str]:
    """Every watch path that *name* is a child of (xenstored's ``is_child``):
    itself, each ancestor ending before a ``/``, and ``/``, which sees every
    change.  A lookup per prefix replaces a scan of every watch."""
    out = [name]
    cut = name.rfind("/")
    while cut > 0:
        out.append(name[:cut])
        cut = name.rfind("/", 0, cut)
    if name != "/":
        out.append("/")
    return out


@dataclass(frozen=True, slots=True)
class Watch:
    domid: int
    path: str  # canonical (absolute or @special)
    token: str
    prefix_len: int  # chars to strip for a relative watch

    def event_path(self, name: str) -> str:
        return name[self.prefix_len :]


class WatchTable:
    """The watches of every connection, indexed by watched path.

    xenstored walks its whole watch list on every change; with thousands of
    domains that makes each write cost as much as all the watches.  Here a
    change looks up only the paths it is a child of (a few dict hits), so a
    write costs the same with 10 or 10,000 watches (NOTE: indexed for speed,
    see benchmarks/).  Each watch keeps the sequence number of its
    registration, and matches are delivered in that order: the order of
    xenstored's list, so runs are unchanged.
    """

    def __init__(self, deliver: DeliverFn, quota: int = DEFAULT_WATCH_QUOTA) -> None:
        self.deliver = deliver
        self.quota = quota
        self._by_path: dict[str, list[tuple[int, Watch]]] = {}
        self._per_domain: dict[int, dict[str, int]] = {}
        """domid -> watched path -> how many of its watches are on that path."""
        self._seq = 0

    @property
    def watches(self) -> list[Watch]:
        """Every watch, in registration order (for dumps and leak checks)."""
        entries = [e for lst in self._by_path.values() for e in lst]
        return [w for _, w in sorted(entries, key=lambda e: e[0])]

    def count(self, domid: int) -> int:
        return sum(self._per_domain.get(domid, {}).values())

    def find(self, domid: int, path: str, token: str) -> Watch | None:
        for _, w in self._by_path.get(path, ()):
            if w.domid == domid and w.token == token:
                return w
        return None

    def add(self, w: Watch, fire: bool = True) -> None:
        self._seq += 1
        self._by_path.setdefault(w.path, []).append((self._seq, w))
        paths = self._per_domain.setdefault(w.domid, {})
        paths[w.path] = paths.get(w.path, 0) + 1
        if fire:
            self.deliver(w.domid, w.event_path(w.path), w.token)

    def remove(self, w: Watch) -> None:
        lst = self._by_path.get(w.path, [])
        for i, (_, x) in enumerate(lst):
            if x == w:
                del lst[i]
                break
        else:
            raise ValueError(f"{w} is not registered")
        if not lst:
            del self._by_path[w.path]
        paths = self._per_domain[w.domid]
        paths[w.path] -= 1
        if not paths[w.path]:
            del paths[w.path]
            if not paths:
                del self._per_domain[w.domid]

    def drop_domain(self, domid: int) -> None:
        for path in self._per_domain.pop(domid, {}):
            kept = [e for e in self._by_path[path] if e[1].domid != domid]
            if kept:
                self._by_path[path] = kept
            else:
                del self._by_path[path]

    def fire(self, name: str, exact: bool, permitted: Callable[[int], bool]) -> int:
        """Deliver *name* to every matching watch whose domain may see it."""
        by_path = self._by_path
        if exact:
            hits = list(by_path.get(name, ()))
        else:
            hits = [e for p in watched_prefixes(name) for e in by_path.get(p, ())]
            hits.sort(key=lambda e: e[0])
        verdict: dict[int, bool] = {}
        sent = 0
        for _, w in hits:
            if w.domid not in verdict:
                verdict[w.domid] = permitted(w.domid)
            if verdict[w.domid]:
                self.deliver(w.domid, w.event_path(name), w.token)
                sent += 1
        return sent

"""Tables whose entries exist only once touched: grant entries and event-channel ports.

Xen allocates a domain's grant frames and event-channel buckets as pages of
zeroed entries.  A guest uses a handful of each, so making every entry an
object at domain creation cost a thousand objects per guest and most of the
time it took to create one (NOTE: lazy for speed and memory, see
benchmarks/README.md).  A :class:`LazyEntries` has the length of the real
table and makes an entry, in its all-zero state, the first time it is
indexed; indexing behaves as a list's (negative indices, IndexError past the
end, iteration by index), and :meth:`LazyEntries.touched` lists only the
entries made so far, which is all that a walk over the table needs (the
others are still in their initial state).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

E = TypeVar("E")


class LazyEntries(Generic[E]):
    """*length* entries, entry *i* made by ``factory(i)`` when first touched."""

    __slots__ = ("factory", "made", "length")

    def __init__(self, factory: Callable[[int], E]) -> None:
        self.factory = factory
        self.made: dict[int, E] = {}
        self.length = 0

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, i: int) -> E:
        if i < 0:
            i += self.length
        if not 0 <= i < self.length:
            raise IndexError("table index out of range")
        e = self.made.get(i)
        if e is None:
            e = self.made[i] = self.factory(i)
        return e

    def touched(self) -> list[E]:
        """The entries made so far, in index order."""
        return [e for _, e in sorted(self.made.items(), key=lambda kv: kv[0])]

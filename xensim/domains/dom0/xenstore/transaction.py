"""Transactions: a private overlay plus the generations of every node touched.

Mirrors: tools/xenstored/transaction.c (access_node, finalize_transaction,
do_transaction_start/end); simplified: the overlay is a dict, not
generation-prefixed nodes in the main database.

Conflict rule (transaction.c's long comment): on first access a node's
current generation (or NO_GENERATION if it does not exist) is recorded; at
commit every recorded generation must still match the committed tree, else
the commit fails with EAGAIN and the transaction is gone.  Writes always
read the node first (and the parents a create walks up through), so a node
written in the transaction is checked as well as one read; a directory
listing records the parent, whose generation changes when a child is added
or removed.  Watches for changes made in a transaction fire only at commit.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from xensim.domains.dom0.xenstore.nodes import NO_GENERATION, Node, NodeDB


@dataclass
class Transaction:
    tx_id: int
    domid: int
    db: NodeDB
    overlay: dict[str, Node | None] = field(default_factory=dict)
    accessed: dict[str, int] = field(default_factory=dict)  # path -> generation seen
    owned_delta: Counter[int] = field(default_factory=Counter)
    watch_events: dict[str, bool] = field(default_factory=dict)  # path -> exact

    # -- View protocol -------------------------------------------------------
    def _touch(self, path: str) -> None:
        if path not in self.accessed:
            node = self.db.nodes.get(path)
            self.accessed[path] = node.generation if node is not None else NO_GENERATION

    def get(self, path: str) -> Node | None:
        self._touch(path)
        if path in self.overlay:
            return self.overlay[path]
        return self.db.nodes.get(path)

    def put(self, node: Node) -> None:
        old = self.get(node.path)
        if old is not None:
            self.owned_delta[old.owner] -= 1
        self.owned_delta[node.owner] += 1
        self.overlay[node.path] = node

    def delete(self, path: str) -> None:
        old = self.get(path)
        if old is not None:
            self.owned_delta[old.owner] -= 1
        self.overlay[path] = None

    def owned(self, domid: int) -> int:
        return self.db.owned[domid] + self.owned_delta[domid]

    # -- commit ---------------------------------------------------------------
    def queue_watch(self, path: str, exact: bool) -> None:
        """A non-exact event replaces an exact one, never the other way round."""
        self.watch_events[path] = self.watch_events.get(path, True) and exact

    def conflicts(self) -> bool:
        for path, gen in self.accessed.items():
            node = self.db.nodes.get(path)
            if (node.generation if node is not None else NO_GENERATION) != gen:
                return True
        return False

    def apply(self) -> list[tuple[str, bool, Node | None]]:
        """Write the overlay into the tree; return (path, exact, old node) to fire."""
        fired = []
        for path, node in self.overlay.items():
            old = self.db.nodes.get(path)
            if node is None:
                self.db.remove(path)
            else:
                self.db.store(node)
            if path in self.watch_events:
                fired.append((path, self.watch_events[path], old))
        return fired

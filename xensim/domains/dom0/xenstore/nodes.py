"""The node database and the two views every xenstore operation works through.

Mirrors: tools/xenstored/core.c (struct node, db_write/db_delete, the global
``generation`` counter) and transaction.c (access_node); simplified: nodes
are immutable values in a dict keyed by absolute path.

Operations never mutate a :class:`Node`; they read one through a *view*,
build a replacement with :func:`dataclasses.replace`, and ``put`` it back.
:class:`GlobalView` writes straight into :class:`NodeDB`, stamping a fresh
generation; a transaction's view (transaction.py) writes into an overlay
and records the generation of everything it touched, which is all that
commit-time conflict detection needs.  Node counts per owner (the quota) are
kept by the view, so a transaction sees its own creations.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Protocol

from xensim.domains.dom0.xenstore.perms import Perm, Perms

NO_GENERATION = -1


@dataclass(frozen=True, slots=True)
class Node:
    path: str
    value: str = ""
    perms: Perms = (Perm(0, 0),)
    children: tuple[str, ...] = ()
    generation: int = NO_GENERATION

    @property
    def owner(self) -> int:
        return self.perms[0].domid


def parent_of(path: str) -> str:
    cut = path.rfind("/")
    return "/" if cut <= 0 else path[:cut]


def basename(path: str) -> str:
    return path[path.rfind("/") + 1 :]


def child_path(parent: str, name: str) -> str:
    return f"/{name}" if parent == "/" else f"{parent}/{name}"


class NodeDB:
    """The committed tree: nodes, the global generation count, per-owner counts."""

    def __init__(self) -> None:
        self.nodes: dict[str, Node] = {}
        self.generation = 0
        self.owned: Counter[int] = Counter()

    def next_generation(self) -> int:
        self.generation += 1
        return self.generation

    def store(self, node: Node) -> Node:
        """Write *node* with a new generation, keeping owner counts right."""
        old = self.nodes.get(node.path)
        if old is not None:
            self.owned[old.owner] -= 1
        stamped = Node(node.path, node.value, node.perms, node.children, self.next_generation())
        self.nodes[node.path] = stamped
        self.owned[stamped.owner] += 1
        return stamped

    def remove(self, path: str) -> None:
        old = self.nodes.pop(path, None)
        if old is not None:
            self.owned[old.owner] -= 1
            if self.owned[old.owner] == 0:
                del self.owned[old.owner]


class View(Protocol):
    def get(self, path: str) -> Node | None: ...
    def put(self, node: Node) -> None: ...
    def delete(self, path: str) -> None: ...
    def owned(self, domid: int) -> int: ...


class GlobalView:
    """Outside any transaction: read and write the committed tree."""

    def __init__(self, db: NodeDB) -> None:
        self.db = db

    def get(self, path: str) -> Node | None:
        return self.db.nodes.get(path)

    def put(self, node: Node) -> None:
        self.db.store(node)

    def delete(self, path: str) -> None:
        self.db.remove(path)

    def owned(self, domid: int) -> int:
        return self.db.owned[domid]

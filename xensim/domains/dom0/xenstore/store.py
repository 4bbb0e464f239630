"""The xenstore tree as xenstored keeps it: read, write, mkdir, rm, perms, watches, transactions.

Mirrors: tools/xenstored/core.c (canonicalize, get_node_chk_perm,
errno_from_parents, construct_node, create_node, do_write, do_mkdir, do_rm,
rm_node, send_directory, do_get_perms, do_set_perms), watch.c and
transaction.c (through watch.py and transaction.py); docs/misc/xenstore.txt.
Simplified: no connections or wire framing (see wire.py), no memory quota,
no SET_TARGET, no RESTRICT, no live update.

Pure Python with no SimPy: the xenstored *task* that charges dom0 CPU time
for each request is built on top.  Every public method takes the calling
``domid`` (the connection) and optionally a ``tx`` id, returns a value or
``None``, and raises :class:`XsError` carrying the wire error string, so the
caller can answer XS_ERROR exactly as xenstored would.

Xen's quirks kept on purpose: a node you may not read looks the same as a
missing one whose nearest existing ancestor you may not read (EACCES, not
ENOENT, so existence does not leak); unprivileged creators own what they
create while perms are otherwise inherited from the parent; rm of a missing
node succeeds if its parent exists; quotas count nodes per *owner*.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from xensim.domains.dom0.xenstore.errors import XsError
from xensim.domains.dom0.xenstore.nodes import (
    GlobalView,
    Node,
    NodeDB,
    View,
    basename,
    child_path,
    parent_of,
)
from xensim.domains.dom0.xenstore.perms import (
    XS_PERM_OWNER,
    XS_PERM_READ,
    XS_PERM_WRITE,
    Perm,
    Perms,
    format_perms,
    parse_perms,
    perm_for,
)
from xensim.domains.dom0.xenstore.transaction import Transaction
from xensim.domains.dom0.xenstore.watch import DEFAULT_WATCH_QUOTA, DeliverFn, Watch, WatchTable
from xensim.hypervisor.domctx import DomainCounters

XENSTORE_PAYLOAD_MAX = 4096
XENSTORE_ABS_PATH_MAX = 3072
XENSTORE_REL_PATH_MAX = 2048
DEFAULT_NODE_QUOTA = 1000  # quota-nodes: entries per domain
DEFAULT_TRANSACTION_QUOTA = 10
DEFAULT_MAX_ENTRY_SIZE = 2048
SPECIAL_PATHS = ("@introduceDomain", "@releaseDomain")
_VALID = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-/_@")

F = TypeVar("F", bound=Callable[..., Any])


def _counted(fn: F) -> F:
    """Count each request per domain, and the ones that failed as 'denied'."""

    @wraps(fn)
    def wrapper(self: XenStore, domid: int, *args: Any, **kw: Any) -> Any:
        self.counters.bump(domid, f"op.{fn.__name__}")
        try:
            return fn(self, domid, *args, **kw)
        except XsError as err:
            self.counters.bump(domid, "denied")
            self.counters.bump(domid, f"error.{err.name}")
            raise

    return wrapper  # type: ignore[return-value]


def home_path(domid: int) -> str:
    return f"/local/domain/{domid}"


class XenStore:
    def __init__(
        self,
        deliver: DeliverFn | None = None,
        is_privileged: Callable[[int], bool] | None = None,
        node_quota: int = DEFAULT_NODE_QUOTA,
        watch_quota: int = DEFAULT_WATCH_QUOTA,
        transaction_quota: int = DEFAULT_TRANSACTION_QUOTA,
        max_entry_size: int = DEFAULT_MAX_ENTRY_SIZE,
    ) -> None:
        self.db = NodeDB()
        self.watches = WatchTable(deliver or (lambda d, p, t: None), watch_quota)
        self.is_privileged = is_privileged or (lambda domid: domid == 0)
        self.node_quota = node_quota
        self.transaction_quota = transaction_quota
        self.max_entry_size = max_entry_size
        self.transactions: dict[tuple[int, int], Transaction] = {}
        self.introduced: set[int] = set()
        self.counters = DomainCounters()
        self._next_tx: Counter[int] = Counter()
        # setup_structure(): "/" -> "tool" -> "xenstored", owned by dom0, no access.
        none0 = (Perm(0, 0),)
        self.db.store(Node("/", perms=none0, children=("tool",)))
        self.db.store(Node("/tool", perms=none0, children=("xenstored",)))
        self.db.store(Node("/tool/xenstored", perms=none0))
        for special in SPECIAL_PATHS:
            self.db.store(Node(special, perms=none0))

    # ---- helpers ---------------------------------------------------------------
    def canonical(self, domid: int, path: str, allow_special: bool = False) -> str:
        """``canonicalize``: validate, make absolute; EINVAL otherwise."""
        if not path or not set(path) <= _VALID or (path[0] == "@" and not allow_special):
            raise XsError("EINVAL")
        name = path if path[0] in "/@" else f"{home_path(domid)}/{path}"
        if (name.endswith("/") and name != "/") or "//" in name:
            raise XsError("EINVAL")
        local = (
            name[len(home_path(domid)) + 1 :] if name.startswith(home_path(domid) + "/") else name
        )
        if len(name) > XENSTORE_ABS_PATH_MAX or (
            not self.is_privileged(domid) and len(local) > XENSTORE_REL_PATH_MAX
        ):
            raise XsError("EINVAL")
        return name

    def view(self, domid: int, tx: int) -> View:
        if tx == 0:
            return GlobalView(self.db)
        t = self.transactions.get((domid, tx))
        if t is None:
            raise XsError("ENOENT")
        return t

    def perm(self, domid: int, node: Node) -> int:
        return perm_for(domid, self.is_privileged(domid), node.perms)

    def _get(self, v: View, domid: int, path: str, need: int) -> Node:
        """``get_node`` + ``get_node_chk_perm`` + ``errno_from_parents``."""
        node = v.get(path)
        if node is not None and self.perm(domid, node) & need == need:
            return node
        err = "EACCES" if node is not None else "ENOENT"
        anc = parent_of(path) if path[0] == "/" else "/"
        while (up := v.get(anc)) is None and anc != "/":
            anc = parent_of(anc)
        if up is not None and self.perm(domid, up) & need:
            raise XsError(err)
        raise XsError("EACCES")

    def _create(self, v: View, domid: int, path: str, value: str) -> Node:
        """``construct_node`` + ``create_node``: make *path* and missing parents."""
        missing = [path]
        while v.get(parent_of(missing[-1])) is None:
            missing.append(parent_of(missing[-1]))
        unpriv = not self.is_privileged(domid)
        if unpriv and v.owned(domid) + len(missing) > self.node_quota:
            raise XsError("ENOSPC")
        node = None
        for p in reversed(missing):
            parent = v.get(parent_of(p))
            assert parent is not None
            v.put(Node(parent.path, parent.value, parent.perms, parent.children + (basename(p),)))
            perms = parent.perms
            if unpriv:
                perms = (Perm(domid, perms[0].perms),) + perms[1:]
            node = Node(p, value if p == path else "", perms)
            v.put(node)
        assert node is not None
        return node

    def _fire(self, v: View, path: str, exact: bool, seen: tuple[Perms, ...] = ()) -> None:
        if isinstance(v, Transaction):
            v.queue_watch(path, exact)
        else:
            self.fire_now(path, exact, seen)

    def fire_now(self, name: str, exact: bool, seen: tuple[Perms, ...] = ()) -> int:
        """Deliver a committed change to watchers allowed to see it (watch_permitted)."""
        cands = list(seen)
        node = self.db.nodes.get(name)
        if node is not None:
            cands.append(node.perms)
            parent = self.db.nodes.get(parent_of(name))
            if parent is not None and name[0] == "/":
                cands.append(parent.perms)

        def permitted(d: int) -> bool:
            priv = self.is_privileged(d)
            return priv or any(perm_for(d, False, p) & XS_PERM_READ for p in cands)

        return self.watches.fire(name, exact, permitted)

    # ---- the operations ------------------------------------------------------------
    @_counted
    def read(self, domid: int, path: str, tx: int = 0) -> str:
        v = self.view(domid, tx)
        return self._get(v, domid, self.canonical(domid, path), XS_PERM_READ).value

    @_counted
    def directory(self, domid: int, path: str, tx: int = 0) -> list[str]:
        v = self.view(domid, tx)
        node = self._get(v, domid, self.canonical(domid, path), XS_PERM_READ)
        if sum(len(c) + 1 for c in node.children) > XENSTORE_PAYLOAD_MAX:
            raise XsError("E2BIG")
        return list(node.children)

    @_counted
    def write(self, domid: int, path: str, value: str, tx: int = 0) -> None:
        v = self.view(domid, tx)
        name = self.canonical(domid, path)
        if len(name) + 1 + len(value) > XENSTORE_PAYLOAD_MAX:
            raise XsError("E2BIG")
        if not self.is_privileged(domid) and len(value) > self.max_entry_size:
            raise XsError("ENOSPC")
        try:
            node = self._get(v, domid, name, XS_PERM_WRITE)
        except XsError as err:
            if err.name != "ENOENT":
                raise
            self._create(v, domid, name, value)
            self._fire(v, name, exact=False)
            return
        v.put(Node(name, value, node.perms, node.children))
        self._fire(v, name, exact=False)

    @_counted
    def mkdir(self, domid: int, path: str, tx: int = 0) -> None:
        v = self.view(domid, tx)
        name = self.canonical(domid, path)
        try:
            self._get(v, domid, name, XS_PERM_WRITE)
        except XsError as err:
            if err.name != "ENOENT":
                raise
            self._create(v, domid, name, "")
            self._fire(v, name, exact=False)

    @_counted
    def rm(self, domid: int, path: str, tx: int = 0) -> None:
        v = self.view(domid, tx)
        name = self.canonical(domid, path)
        try:
            node = self._get(v, domid, name, XS_PERM_WRITE)
        except XsError as err:
            if err.name == "ENOENT" and v.get(parent_of(name)) is not None:
                return
            raise
        if name == "/":
            raise XsError("EINVAL")
        self.remove_subtree(v, node)

    def remove_subtree(self, v: View, top: Node) -> None:
        """``rm_node``: delete depth-first, firing exact events below the top."""
        order: list[Node] = []

        def walk(n: Node) -> None:
            for c in n.children:
                child = v.get(child_path(n.path, c))
                if child is not None:
                    walk(child)
            order.append(n)

        walk(top)
        parent = v.get(parent_of(top.path))
        assert parent is not None
        for n in order:
            v.delete(n.path)
            up = parent if n is top else v.get(parent_of(n.path))
            seen = (n.perms,) + ((up.perms,) if up is not None else ())
            self._fire(v, n.path, exact=n is not top, seen=seen)
        kids = tuple(c for c in parent.children if c != basename(top.path))
        v.put(Node(parent.path, parent.value, parent.perms, kids))

    @_counted
    def get_perms(self, domid: int, path: str, tx: int = 0) -> list[str]:
        v = self.view(domid, tx)
        name = self.canonical(domid, path, allow_special=True)
        return format_perms(self._get(v, domid, name, XS_PERM_READ).perms)

    @_counted
    def set_perms(self, domid: int, path: str, perms: list[str], tx: int = 0) -> None:
        v = self.view(domid, tx)
        new = parse_perms(perms)
        name = self.canonical(domid, path, allow_special=True)
        node = self._get(v, domid, name, XS_PERM_WRITE | XS_PERM_OWNER)
        if not self.is_privileged(domid) and new[0].domid != node.owner:
            raise XsError("EPERM")
        v.put(Node(name, node.value, new, node.children))
        self._fire(v, name, exact=False, seen=(node.perms,))

    # ---- watches ---------------------------------------------------------------------
    @_counted
    def watch(self, domid: int, path: str, token: str, fire: bool = True) -> None:
        """XS_WATCH.  *fire* False skips the first firing: for a watch a kernel sets
        while it boots, whose first event the (unsimulated) boot handles itself."""
        relative = path[:1] not in ("/", "@")
        name = self.canonical(domid, path, allow_special=True)
        if self.watches.find(domid, name, token) is not None:
            raise XsError("EEXIST")
        if self.watches.count(domid) > self.watches.quota:
            raise XsError("E2BIG")
        prefix = len(home_path(domid)) + 1 if relative else 0
        self.watches.add(Watch(domid, name, token, prefix), fire)

    @_counted
    def unwatch(self, domid: int, path: str, token: str) -> None:
        w = self.watches.find(domid, self.canonical(domid, path, allow_special=True), token)
        if w is None:
            raise XsError("ENOENT")
        self.watches.remove(w)

    # ---- transactions -------------------------------------------------------------------
    @_counted
    def transaction_start(self, domid: int, tx: int = 0) -> int:
        if tx:
            self.view(domid, tx)  # unknown id: ENOENT, as process_message
            raise XsError("EBUSY")  # no nested transactions
        if sum(1 for d, _ in self.transactions if d == domid) > self.transaction_quota:
            raise XsError("ENOSPC")
        tx_id = self._next_tx[domid] or 1
        while (domid, tx_id) in self.transactions or tx_id == 0:
            tx_id = (tx_id + 1) & 0xFFFFFFFF
        self._next_tx[domid] = (tx_id + 1) & 0xFFFFFFFF
        self.transactions[(domid, tx_id)] = Transaction(tx_id, domid, self.db)
        return tx_id

    @_counted
    def transaction_end(self, domid: int, tx: int, commit: bool = True) -> None:
        t = self.transactions.pop((domid, tx), None) if tx else None
        if t is None:
            raise XsError("ENOENT")
        if not commit:
            return
        if t.conflicts():
            raise XsError("EAGAIN")
        for path, exact, old in t.apply():
            self.fire_now(path, exact, (old.perms,) if old is not None else ())

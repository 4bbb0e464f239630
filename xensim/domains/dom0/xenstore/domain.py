"""Introducing and releasing domains: the home path and its permissions.

Mirrors: tools/xenstored/domain.c (do_introduce, do_release,
do_get_domain_path, do_is_domain_introduced, domain_adjust_node_perms, the
@introduceDomain/@releaseDomain events) together with what libxl does around
them (libxl__domain_make creates ~ and its writable subdirectories,
libxl__destroy_domid removes ~); docs/misc/xenstore-paths.pandoc.

The home path /local/domain/<id> is owned by dom0 and readable by the
domain (``n0 r<id>``, "not usually writable by the domain"); the [w] paths
(~/data, ~/drivers, ~/feature, ~/attr, ~/error, ~/control/shutdown,
~/control/feature-*, ~/device/suspend/event-channel) are owned by the
domain (``n<id>``).  On release every node the domain still owns elsewhere
(a backend directory it wrote, say) is handed to dom0 and permission entries
naming it are dropped, as xenstored does for a vanished owner, so nothing
of the domain is left in the tree.
"""

from __future__ import annotations

from xensim.domains.dom0.xenstore.errors import XsError
from xensim.domains.dom0.xenstore.nodes import Node, NodeDB
from xensim.domains.dom0.xenstore.perms import Perm
from xensim.domains.dom0.xenstore.store import XenStore, home_path

RW_PATHS = (
    "control/shutdown",
    "control/feature-poweroff",
    "control/feature-reboot",
    "control/feature-suspend",
    "device/suspend/event-channel",
    "data",
    "drivers",
    "feature",
    "attr",
    "error",
)
RO_PATHS = ("device", "control")


def introduce_domain(store: XenStore, caller: int, domid: int, name: str | None = None) -> None:
    """INTRODUCE plus libxl's home-path creation; fires @introduceDomain."""
    store.counters.bump(caller, "op.introduce")
    if not store.is_privileged(caller):
        raise XsError("EACCES")
    if domid in store.introduced:
        raise XsError("EEXIST")
    home = home_path(domid)
    ro = [str(Perm(0, 0)), f"r{domid}"]
    try:
        store.rm(caller, home)  # libxl starts from a clean home
    except XsError:
        pass  # /local/domain not there yet
    try:  # libxl__domain_make writes all of this in one transaction: all or nothing
        store.mkdir(caller, home)
        store.set_perms(caller, home, ro)
        for sub in RO_PATHS:
            store.mkdir(caller, f"{home}/{sub}")
        for sub in RW_PATHS:
            store.mkdir(caller, f"{home}/{sub}")
            store.set_perms(caller, f"{home}/{sub}", [f"n{domid}"])
        store.write(caller, f"{home}/domid", str(domid))
        if name is not None:
            store.write(caller, f"{home}/name", name)  # E2BIG past XENSTORE_PAYLOAD_MAX
    except XsError:
        store.rm(caller, home)
        raise
    store.introduced.add(domid)
    store.fire_now("@introduceDomain", exact=False)


def release_domain(store: XenStore, caller: int, domid: int) -> None:
    """RELEASE plus libxl's cleanup: ~ removed, ownership reclaimed, watches gone."""
    store.counters.bump(caller, "op.release")
    if not store.is_privileged(caller):
        raise XsError("EACCES")
    if domid not in store.introduced:
        raise XsError("ENOENT")
    # The connection goes first (its watches and transactions with it), so
    # the dead domain is not sent events about its own removal.
    store.watches.drop_domain(domid)
    for key in [k for k in store.transactions if k[0] == domid]:
        del store.transactions[key]
    store.rm(caller, home_path(domid))
    _forget_owner(store.db, domid)
    store.introduced.discard(domid)
    store.fire_now("@releaseDomain", exact=False)


def _forget_owner(db: NodeDB, domid: int) -> None:
    """``domain_adjust_node_perms``: dom0 inherits, entries naming *domid* go."""
    for path, node in list(db.nodes.items()):
        if all(p.domid != domid for p in node.perms):
            continue
        head = node.perms[0]
        if head.domid == domid:
            head = Perm(0, head.perms)
        rest = tuple(p for p in node.perms[1:] if p.domid != domid)
        db.store(Node(path, node.value, (head,) + rest, node.children))


def get_domain_path(domid: int) -> str:
    return home_path(domid)


def is_domain_introduced(store: XenStore, domid: int) -> bool:
    return domid in store.introduced


def nodes_owned_by(store: XenStore, domid: int) -> list[str]:
    """Every path whose owner, or any permission entry, names *domid*."""
    return sorted(p for p, n in store.db.nodes.items() if any(x.domid == domid for x in n.perms))

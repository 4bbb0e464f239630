"""The watch table's path index finds exactly what xenstored's scan finds, in its order."""

from __future__ import annotations

import random

from xensim.domains.dom0.xenstore.watch import Watch, WatchTable, watched_prefixes


def scan_is_child(child: str, parent: str) -> bool:
    """xenstored's is_child(), the definition the index must agree with."""
    if parent == "/":
        return True
    if not child.startswith(parent):
        return False
    return len(child) == len(parent) or child[len(parent)] == "/"


def test_watched_prefixes_are_the_paths_is_child_accepts():
    paths = ["/", "/a", "/a/b", "/a/bc", "/ab", "/a/b/c", "@introduceDomain", "@intro", "/@x"]
    for name in paths:
        want = {p for p in paths if scan_is_child(name, p)}
        assert set(watched_prefixes(name)) & set(paths) == want, name


def test_fire_delivers_what_a_scan_delivers_in_registration_order():
    rng = random.Random(7)
    tree = ["/", "/local", "/local/domain", "/local/domain/1", "/local/domain/1/device",
            "/local/domain/1/device/vif", "/local/domain/10", "/local/domain/1x",
            "@releaseDomain", "@introduceDomain"]
    got: list[tuple[int, str, str]] = []
    table = WatchTable(lambda d, p, t: got.append((d, p, t)))
    registered: list[Watch] = []
    for i in range(300):
        w = Watch(rng.randrange(4), rng.choice(tree), f"t{i}", 0)
        table.add(w, fire=False)
        registered.append(w)
        if rng.random() < 0.2:  # removals keep the others' order
            gone = registered.pop(rng.randrange(len(registered)))
            table.remove(gone)
    table.drop_domain(3)
    registered = [w for w in registered if w.domid != 3]
    assert table.watches == registered
    allowed = {0: True, 1: True, 2: False}
    for name in tree + ["/local/domain/1/device/vif/0/state"]:
        for exact in (False, True):
            got.clear()
            sent = table.fire(name, exact, lambda d: allowed[d])
            want = [(w.domid, name, w.token) for w in registered
                    if (name == w.path if exact else scan_is_child(name, w.path))
                    and allowed[w.domid]]
            assert got == want and sent == len(want), (name, exact)
    assert table.count(1) == sum(1 for w in registered if w.domid == 1)
    assert table.count(3) == 0


def test_a_write_costs_the_same_with_many_watches_elsewhere():
    calls: list[str] = []

    class CountingDict(dict):  # type: ignore[type-arg]
        def get(self, key, default=None):  # type: ignore[no-untyped-def]
            calls.append(key)
            return super().get(key, default)

    table = WatchTable(lambda d, p, t: None)
    table._by_path = CountingDict()
    for domid in range(2000):
        table.add(Watch(domid, f"/local/domain/{domid}/control/shutdown", "ctl", 0), fire=False)
    table.fire("/local/domain/5/data", False, lambda d: True)
    assert len(calls) == 5  # one lookup per prefix, none per watch

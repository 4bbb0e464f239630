"""xenstore tree semantics and error strings, checked against xenstored's rules."""

from __future__ import annotations

import pytest

from xensim.domains.dom0.xenstore import (
    XenStore,
    XsError,
    XsType,
    do_xs_request,
    introduce_domain,
    release_domain,
    xenstore_ls,
)
from xensim.domains.dom0.xenstore.domain import nodes_owned_by


@pytest.fixture
def events():
    return []


@pytest.fixture
def xs(events):
    s = XenStore(deliver=lambda d, p, t: events.append((d, p, t)))
    introduce_domain(s, 0, 0, "Domain-0")
    introduce_domain(s, 0, 1, "guest1")
    introduce_domain(s, 0, 2, "guest2")
    events.clear()
    return s


def err(fn, *a, **kw):
    with pytest.raises(XsError) as e:
        fn(*a, **kw)
    return e.value.name


def test_write_read_directory_and_parent_creation(xs):
    xs.write(0, "/a/b/c", "v")
    assert xs.read(0, "/a/b/c") == "v"
    assert xs.read(0, "/a/b") == ""  # parents created with empty values
    assert xs.directory(0, "/a") == ["b"]
    xs.write(0, "/a/b/d", "w")
    assert xs.directory(0, "/a/b") == ["c", "d"]  # insertion order


def test_relative_paths_are_under_home(xs):
    xs.write(1, "data/x", "1")
    assert xs.read(0, "/local/domain/1/data/x") == "1"
    assert xs.read(1, "data/x") == "1"


def test_guest_perms_on_home(xs):
    assert xs.read(1, "name") == "guest1"  # r1 on ~
    assert err(xs.write, 1, "name", "evil") == "EACCES"
    assert err(xs.read, 1, "/local/domain/2/name") == "EACCES"
    assert err(xs.read, 1, "/local/domain/2/nonexistent") == "EACCES"  # no leak
    assert err(xs.read, 1, "data/nonexistent") == "ENOENT"
    assert err(xs.read, 0, "/nope") == "ENOENT"


def test_unprivileged_creator_owns_inherits_rest(xs):
    xs.set_perms(0, "/local/domain/1/data", ["n1", "r2"])
    xs.write(1, "data/sub/leaf", "x")
    assert xs.get_perms(1, "data/sub") == ["n1", "r2"]
    assert xs.get_perms(0, "/local/domain/1/data/sub/leaf") == ["n1", "r2"]
    assert xs.read(2, "/local/domain/1/data/sub/leaf") == "x"
    xs.write(0, "/local/domain/1/data/bydom0", "y")  # privileged: inherit owner too
    assert xs.get_perms(0, "/local/domain/1/data/bydom0") == ["n1", "r2"]


def test_set_perms_rules(xs):
    assert err(xs.set_perms, 1, "name", ["n1"]) == "EACCES"  # not owner
    xs.write(1, "data/mine", "")
    xs.set_perms(1, "data/mine", ["n1", "b2"])
    assert err(xs.set_perms, 1, "data/mine", ["n2"]) == "EPERM"  # can't give away
    assert err(xs.set_perms, 1, "data/mine", []) == "EINVAL"
    assert err(xs.set_perms, 1, "data/mine", ["x1"]) == "EINVAL"
    xs.write(2, "/local/domain/1/data/mine", "from2")  # b2 lets dom2 write
    xs.set_perms(0, "/local/domain/1/data/mine", ["n2"])  # dom0 may change owner
    assert xs.get_perms(2, "/local/domain/1/data/mine") == ["n2"]


def test_invalid_paths(xs):
    for bad in ("", "/a/", "/a//b", "/a b", "@x", "/ä"):
        assert err(xs.read, 0, bad) == "EINVAL", bad
    assert xs.get_perms(0, "@introduceDomain") == ["n0"]
    assert err(xs.write, 1, "data/" + "x" * 2100, "") == "EINVAL"  # relative path too long


def test_mkdir_and_rm(xs, events):
    xs.mkdir(0, "/t/u")
    xs.mkdir(0, "/t/u")  # exists: fine
    xs.write(0, "/t/u/v", "1")
    xs.watch(0, "/t/u/v", "leaf")
    xs.watch(0, "/t", "top")
    events.clear()
    xs.rm(0, "/t/u")
    assert (0, "/t/u/v", "leaf") in events  # exact event for the removed child
    assert (0, "/t/u", "top") in events
    assert err(xs.read, 0, "/t/u") == "ENOENT"
    assert xs.directory(0, "/t") == []
    xs.rm(0, "/t/u")  # already gone, parent exists: OK
    assert err(xs.rm, 0, "/t/x/y") == "ENOENT"  # parent missing too
    assert err(xs.rm, 0, "/") == "EINVAL"
    assert err(xs.rm, 1, "/local/domain/1/name") == "EACCES"


def test_watch_fires_at_registration_and_below(xs, events):
    xs.watch(1, "data", "tok")
    assert events == [(1, "data", "tok")]  # relative watch, relative event
    xs.write(1, "data/a/b", "x")
    assert events[-1] == (1, "data/a/b", "tok")
    n = len(events)
    xs.write(0, "/local/domain/1/name", "renamed")  # not under the watch
    assert len(events) == n
    assert err(xs.watch, 1, "data", "tok") == "EEXIST"
    xs.unwatch(1, "data", "tok")
    assert err(xs.unwatch, 1, "data", "tok") == "ENOENT"
    xs.write(1, "data/a/b", "y")
    assert len(events) == n


def test_watch_events_respect_read_permission(xs, events):
    xs.watch(2, "/local/domain/1", "spy")
    events.clear()
    xs.write(0, "/local/domain/1/data/secret", "s")  # owned n1: dom2 can't read it
    assert events == []
    xs.watch(0, "/local/domain/1", "dom0")
    xs.write(0, "/local/domain/1/data/secret", "t")
    assert (0, "/local/domain/1/data/secret", "dom0") in events
    assert all(d != 2 for d, _, _ in events)


def test_watch_quota_e2big(events):
    s = XenStore(deliver=lambda *a: None, watch_quota=2)
    for i in range(3):  # xenstored's check is count > quota
        s.watch(1, f"/w{i}", "t")
    assert err(s.watch, 1, "/w9", "t") == "E2BIG"


def test_value_limits(xs):
    assert err(xs.write, 1, "data/big", "x" * 2049) == "ENOSPC"
    xs.write(0, "/big", "x" * 3000)  # privileged: only the payload limit
    assert err(xs.write, 0, "/big", "x" * 4100) == "E2BIG"


def test_directory_e2big(xs):
    for i in range(300):
        xs.write(0, f"/many/child-with-a-long-name-{i:04d}", "")
    assert err(xs.directory, 0, "/many") == "E2BIG"


def test_node_quota_enospc():
    s = XenStore(node_quota=15)
    introduce_domain(s, 0, 1)
    assert s.db.owned[1] == 10  # the [w] nodes libxl creates count against the guest
    for i in range(5):
        s.write(1, f"data/n{i}", "")
    assert err(s.write, 1, "data/n5", "") == "ENOSPC"
    assert err(s.write, 1, "data/deep/er", "") == "ENOSPC"
    s.rm(1, "data/n0")
    s.write(1, "data/n5", "")
    s.write(0, "/local/domain/1/data/dom0made", "")  # privileged: no quota


def test_transaction_commit_fires_at_commit(xs, events):
    xs.watch(0, "/tx", "w")
    events.clear()
    t = xs.transaction_start(1)
    xs.write(0, "/tx", "")  # setup by dom0 outside
    xs.set_perms(0, "/tx", ["b1"])
    events.clear()
    xs.write(1, "/tx/a", "1", tx=t)
    assert events == []  # queued
    assert err(xs.read, 1, "/tx/a") == "ENOENT"  # not visible outside yet
    assert xs.read(1, "/tx/a", tx=t) == "1"
    xs.transaction_end(1, t, commit=True)
    assert xs.read(1, "/tx/a") == "1"
    assert (0, "/tx/a", "w") in events


def test_transaction_abort_discards(xs):
    t = xs.transaction_start(1)
    xs.write(1, "data/gone", "x", tx=t)
    xs.transaction_end(1, t, commit=False)
    assert err(xs.read, 1, "data/gone") == "ENOENT"


def test_transaction_conflict_eagain_and_tx_is_gone(xs):
    xs.write(1, "data/a", "0")
    t = xs.transaction_start(1)
    assert xs.read(1, "data/a", tx=t) == "0"
    xs.write(1, "data/b", "1", tx=t)
    xs.write(0, "/local/domain/1/data/a", "changed")  # someone else writes what we read
    assert err(xs.transaction_end, 1, t, True) == "EAGAIN"
    assert err(xs.transaction_end, 1, t, True) == "ENOENT"  # it is gone
    assert err(xs.read, 1, "data/b") == "ENOENT"


def test_transaction_conflict_on_written_node_and_on_listing(xs):
    xs.write(1, "data/a", "0")
    t = xs.transaction_start(1)
    xs.write(1, "data/a", "mine", tx=t)
    xs.write(1, "data/a", "theirs")
    assert err(xs.transaction_end, 1, t, True) == "EAGAIN"
    t = xs.transaction_start(1)
    xs.directory(1, "data", tx=t)
    xs.write(1, "data/new", "")  # adds a child: the listed parent changed
    assert err(xs.transaction_end, 1, t, True) == "EAGAIN"


def test_transaction_unrelated_change_commits(xs):
    xs.write(1, "data/a", "0")
    t = xs.transaction_start(1)
    xs.read(1, "data/a", tx=t)
    xs.write(1, "data/a2", "x", tx=t)
    xs.write(0, "/local/domain/2/data/z", "unrelated")
    xs.transaction_end(1, t)
    assert xs.read(1, "data/a2") == "x"


def test_transaction_errors(xs):
    assert err(xs.read, 1, "data", tx=99) == "ENOENT"
    assert err(xs.transaction_end, 1, 0) == "ENOENT"
    t = xs.transaction_start(1)
    assert err(xs.transaction_start, 1, t) == "EBUSY"
    assert err(xs.transaction_start, 1, 1234) == "ENOENT"
    assert err(xs.read, 2, "/local/domain/2/name", tx=t) == "ENOENT"  # another domain's tx
    for _ in range(10):
        xs.transaction_start(1)
    assert err(xs.transaction_start, 1) == "ENOSPC"  # 11 open: count > quota


def test_introduce_release_teardown(xs, events):
    xs.watch(0, "@releaseDomain", "rel")
    xs.write(1, "data/x", "1")
    xs.mkdir(0, "/local/domain/0/backend/vif/1/0")
    xs.set_perms(0, "/local/domain/0/backend/vif/1/0", ["n0", "r1"])
    xs.watch(1, "data", "w")
    assert xs.counters[0]["op.introduce"] == 3
    events.clear()
    release_domain(xs, 0, 1)
    assert (0, "@releaseDomain", "rel") in events
    assert err(xs.read, 0, "/local/domain/1") == "ENOENT"
    assert nodes_owned_by(xs, 1) == []
    assert xs.db.owned[1] == 0
    assert xs.watches.count(1) == 0
    assert xs.get_perms(0, "/local/domain/0/backend/vif/1/0") == ["n0"]
    assert err(release_domain, xs, 0, 1) == "ENOENT"
    assert err(introduce_domain, xs, 2, 5) == "EACCES"
    assert err(introduce_domain, xs, 0, 2) == "EEXIST"


def test_wire_dispatch(xs):
    assert do_xs_request(xs, 1, XsType.WRITE, 0, ["data/k", "v"]) == (XsType.WRITE, "OK")
    assert do_xs_request(xs, 1, XsType.READ, 0, ["data/k"]) == (XsType.READ, "v")
    assert do_xs_request(xs, 1, XsType.READ, 0, ["data/none"]) == (XsType.ERROR, "ENOENT")
    assert do_xs_request(xs, 1, XsType.INTRODUCE, 0, ["7"]) == (XsType.ERROR, "EACCES")
    assert do_xs_request(xs, 1, 99, 0, []) == (XsType.ERROR, "ENOSYS")
    assert do_xs_request(xs, 1, XsType.READ, 0, []) == (XsType.ERROR, "EINVAL")
    rt, tx = do_xs_request(xs, 1, XsType.TRANSACTION_START, 0, [])
    assert rt == XsType.TRANSACTION_START and int(tx) >= 1
    assert do_xs_request(xs, 1, XsType.TRANSACTION_END, int(tx), ["X"]) == (XsType.ERROR, "EINVAL")
    assert do_xs_request(xs, 1, XsType.TRANSACTION_END, int(tx), ["T"]) == (
        XsType.TRANSACTION_END,
        "OK",
    )
    xs.write(1, "data/own", "")
    assert do_xs_request(xs, 1, XsType.SET_PERMS, 0, ["data/own", "n2"]) == (
        XsType.ERROR,
        "EINVAL",  # EPERM is not in xsd_errors: xenstored sends EINVAL
    )
    assert do_xs_request(xs, 0, XsType.GET_DOMAIN_PATH, 0, ["3"]) == (
        XsType.GET_DOMAIN_PATH,
        "/local/domain/3",
    )


def test_counters(xs):
    xs.read(1, "name")
    err(xs.read, 1, "/local/domain/2/name")
    assert xs.counters[1]["op.read"] == 2
    assert xs.counters[1]["denied"] == 1 and xs.counters[1]["error.EACCES"] == 1


def test_xenstore_ls(xs):
    text = xenstore_ls(xs, "/local/domain/1", show_perms=True)
    assert ' name = "guest1" (n0,r1)' not in text  # depth 0 under the given path
    assert 'name = "guest1" (n0,r1)' in text
    assert ' shutdown = "" (n1)' in text

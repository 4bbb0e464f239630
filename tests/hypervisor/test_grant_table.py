"""ABI conformance of xensim.hypervisor.grant.grant_table against grant_table.c."""

from __future__ import annotations

import pytest

from xensim.hypervisor.domctx import DOMID_SELF
from xensim.hypervisor.errno import EINVAL, ENOSPC, ENOSYS
from xensim.hypervisor.grant import lifecycle as life
from xensim.hypervisor.grant.grant_table import (
    GNTCOPY,
    GNTMAP,
    GNTST,
    GNTTABOP,
    GTF,
    GnttabCopy,
    GnttabCopyPtr,
    GnttabMapGrantRef,
    GnttabQuerySize,
    GnttabSetupTable,
    GnttabUnmapGrantRef,
    GrantTables,
    do_grant_table_op,
)
from xensim.hypervisor.grant.guest import (
    gnttab_end_foreign_access_ref,
    gnttab_grant_foreign_access,
    gnttab_grant_foreign_access_ref,
    gnttab_query_foreign_access,
)

HOST = GNTMAP.host_map
RO = GNTMAP.host_map | GNTMAP.readonly


@pytest.fixture
def ctx(registry):
    return GrantTables(registry)


def dom(registry, i):
    return registry.get_domain(i)


def map1(ctx, mapper, granter, ref, flags=HOST, addr=0x1000):
    op = GnttabMapGrantRef(addr, flags, ref, granter)
    assert do_grant_table_op(ctx, mapper, GNTTABOP.map_grant_ref, [op]) == 0
    return op


def unmap1(ctx, mapper, handle, addr=0x1000, dev=0):
    op = GnttabUnmapGrantRef(addr, dev, handle)
    assert do_grant_table_op(ctx, mapper, GNTTABOP.unmap_grant_ref, [op]) == 0
    return op


def test_constants_match_xen():
    assert GNTST.no_space == -13 and GNTST.bad_copy_arg == -10
    assert (GTF.permit_access, GTF.readonly, GTF.reading, GTF.writing) == (1, 4, 8, 16)
    assert GNTTABOP.copy == 5 and GNTTABOP.query_size == 6


def test_map_sets_reading_writing_and_unmap_clears(ctx, registry):
    d1, d0 = dom(registry, 1), dom(registry, 0)
    ref = gnttab_grant_foreign_access(ctx, d1, 0, frame=0x42)
    assert ref == 8  # refs 0..7 reserved for the toolstack
    m = map1(ctx, d0, 1, ref)
    assert m.status == GNTST.okay and m.handle == 0
    assert m.dev_bus_addr == 0x42 << 12
    sha = ctx.table(1).shared[ref]
    assert sha.flags == GTF.permit_access | GTF.reading | GTF.writing
    assert gnttab_query_foreign_access(ctx, d1, ref)
    assert not gnttab_end_foreign_access_ref(ctx, d1, ref)  # busy while mapped
    u = unmap1(ctx, d0, m.handle)
    assert u.status == GNTST.okay
    assert sha.flags == GTF.permit_access
    assert gnttab_end_foreign_access_ref(ctx, d1, ref)
    assert sha.flags == 0
    assert ctx.counters[0]["maps"] == 1 and ctx.counters[0]["unmaps"] == 1


def test_readonly_map_sets_only_reading(ctx, registry):
    d1, d0 = dom(registry, 1), dom(registry, 0)
    ref = gnttab_grant_foreign_access(ctx, d1, 0, 7, readonly=True)
    assert map1(ctx, d0, 1, ref, RO).status == GNTST.okay
    assert ctx.table(1).shared[ref].flags == GTF.permit_access | GTF.readonly | GTF.reading


def test_map_error_statuses(ctx, registry):
    d1, d0, d2 = dom(registry, 1), dom(registry, 0), dom(registry, 2)
    ref = gnttab_grant_foreign_access(ctx, d1, 0, 5)
    ro = gnttab_grant_foreign_access(ctx, d1, 0, 6, readonly=True)
    assert map1(ctx, d0, 1, ref, flags=GNTMAP.readonly).status == GNTST.bad_gntref
    assert map1(ctx, d0, 77, ref).status == GNTST.bad_domain
    assert map1(ctx, d0, DOMID_SELF, ref).status == GNTST.bad_domain  # by_id, not any_id
    assert map1(ctx, d0, 1, 512).status == GNTST.bad_gntref  # one frame = 512 entries
    assert map1(ctx, d0, 1, 100).status == GNTST.general_error  # entry not granted
    assert map1(ctx, d2, 1, ref).status == GNTST.general_error  # granted to dom0, not d2
    assert map1(ctx, d0, 1, ro).status == GNTST.general_error  # write map of r/o grant
    assert map1(ctx, d0, 1, ro, RO).status == GNTST.okay
    assert ctx.counters[0]["denied"] == 6
    assert ctx.counters[0]["status.general_error"] == 2


def test_pinned_entry_refuses_other_domain(ctx, registry):
    d1, d0, d2 = dom(registry, 1), dom(registry, 0), dom(registry, 2)
    ref = gnttab_grant_foreign_access(ctx, d1, 0, 5)
    map1(ctx, d0, 1, ref)
    # the granter rewrites the entry while it is mapped: Xen keeps the pin's domid
    gnttab_grant_foreign_access_ref(ctx, d1, ref, 2, 5, False)
    assert map1(ctx, d2, 1, ref).status == GNTST.general_error
    assert map1(ctx, d0, 1, ref).status == GNTST.okay  # second map by the pin holder


def test_maptrack_exhaustion_no_device_space(registry):
    ctx = GrantTables(registry, max_maptrack_frames=1)
    d1, d0 = dom(registry, 1), dom(registry, 0)
    refs = [gnttab_grant_foreign_access(ctx, d1, 0, f) for f in range(257)]
    ops = [GnttabMapGrantRef(0x1000, HOST, ref, 1) for ref in refs]
    assert do_grant_table_op(ctx, d0, GNTTABOP.map_grant_ref, ops) == 0
    assert [o.status for o in ops[:256]] == [GNTST.okay] * 256
    assert ops[256].status == GNTST.no_device_space
    assert sorted(o.handle for o in ops[:256]) == list(range(256))


def test_pin_count_overflow_guard(ctx, registry):
    d1, d0 = dom(registry, 1), dom(registry, 0)
    ref = gnttab_grant_foreign_access(ctx, d1, 0, 5)
    ops = [GnttabMapGrantRef(0x1000, HOST, ref, 1) for _ in range(129)]
    do_grant_table_op(ctx, d0, GNTTABOP.map_grant_ref, ops)
    assert ops[127].status == GNTST.okay  # pin byte 0x80 reached
    assert ops[128].status == GNTST.general_error  # "risk of counter overflow"


def test_unmap_errors_and_partial(ctx, registry):
    d1, d0 = dom(registry, 1), dom(registry, 0)
    ref = gnttab_grant_foreign_access(ctx, d1, 0, 9)
    assert unmap1(ctx, d0, 0).status == GNTST.bad_handle  # nothing mapped yet
    assert unmap1(ctx, d0, 10**6).status == GNTST.bad_handle
    m = map1(ctx, d0, 1, ref, HOST | GNTMAP.device_map, addr=0x5000)
    assert unmap1(ctx, d0, m.handle, addr=0x6000).status == GNTST.general_error
    assert unmap1(ctx, d0, m.handle, addr=0, dev=0x1234).status == GNTST.general_error
    # device part only: host mapping (and handle) stay
    assert unmap1(ctx, d0, m.handle, addr=0, dev=9 << 12).status == GNTST.okay
    assert ctx.table(1).active[ref].pin == 1  # one host-write pin left
    assert unmap1(ctx, d0, m.handle, addr=0x5000).status == GNTST.okay
    assert ctx.table(1).active[ref].pin == 0
    assert unmap1(ctx, d0, m.handle, addr=0x5000).status == GNTST.bad_handle


def test_freed_handle_goes_to_tail(ctx, registry):
    d1, d0 = dom(registry, 1), dom(registry, 0)
    ref = gnttab_grant_foreign_access(ctx, d1, 0, 9)
    a = map1(ctx, d0, 1, ref)
    unmap1(ctx, d0, a.handle)
    assert map1(ctx, d0, 1, ref).handle == 1


def test_setup_table_and_query_size(ctx, registry):
    d1, d2 = dom(registry, 1), dom(registry, 2)
    q = GnttabQuerySize(DOMID_SELF)
    assert do_grant_table_op(ctx, d1, GNTTABOP.query_size, [q]) == 0
    assert (q.status, q.nr_frames, q.max_nr_frames) == (0, 1, 64)
    s = GnttabSetupTable(DOMID_SELF, 4)
    assert do_grant_table_op(ctx, d1, GNTTABOP.setup_table, [s]) == 0
    assert s.status == GNTST.okay and s.frame_list == [0, 1, 2, 3]
    assert ctx.table(1).nr_entries == 4 * 512
    s = GnttabSetupTable(DOMID_SELF, 65)
    do_grant_table_op(ctx, d1, GNTTABOP.setup_table, [s])
    assert s.status == GNTST.general_error
    s = GnttabSetupTable(2, 2)
    do_grant_table_op(ctx, d1, GNTTABOP.setup_table, [s])
    assert s.status == GNTST.permission_denied
    q = GnttabQuerySize(2)
    do_grant_table_op(ctx, d1, GNTTABOP.query_size, [q])
    assert q.status == GNTST.permission_denied
    q = GnttabQuerySize(99)
    do_grant_table_op(ctx, dom(registry, 0), GNTTABOP.query_size, [q])
    assert q.status == GNTST.bad_domain
    s = GnttabSetupTable(1, 2)
    do_grant_table_op(ctx, dom(registry, 0), GNTTABOP.setup_table, [s])  # privileged
    assert s.status == GNTST.okay
    two = [GnttabQuerySize(DOMID_SELF), GnttabQuerySize(DOMID_SELF)]
    assert do_grant_table_op(ctx, d2, GNTTABOP.query_size, two) == EINVAL


def test_dispatcher_bad_calls(ctx, registry):
    d1 = dom(registry, 1)
    assert do_grant_table_op(ctx, d1, GNTTABOP.map_grant_ref, [], count=-1) == EINVAL
    assert do_grant_table_op(ctx, d1, GNTTABOP.transfer, []) == ENOSYS
    assert do_grant_table_op(ctx, d1, 42, []) == ENOSYS
    assert do_grant_table_op(ctx, d1, GNTTABOP.map_grant_ref, []) == 0


def test_grant_table_grows_until_max(registry):
    ctx = GrantTables(registry, max_grant_frames=2)
    d1 = dom(registry, 1)
    refs = [gnttab_grant_foreign_access(ctx, d1, 0, f) for f in range(1024 - 8)]
    assert refs[-1] == 1023 and ctx.table(1).nr_grant_frames == 2
    assert gnttab_grant_foreign_access(ctx, d1, 0, 1) == ENOSPC


def copy_op(src, dst, length=64, flags=GNTCOPY.source_gref | GNTCOPY.dest_gref):
    return GnttabCopy(src, dst, length, flags)


def test_copy_between_grants_counts_bytes(ctx, registry):
    d1, d2, d0 = dom(registry, 1), dom(registry, 2), dom(registry, 0)
    src = gnttab_grant_foreign_access(ctx, d1, 0, 3, readonly=True)
    dst = gnttab_grant_foreign_access(ctx, d2, 0, 4)
    op = copy_op(GnttabCopyPtr(1, 0, src), GnttabCopyPtr(2, 100, dst), 1500)
    assert do_grant_table_op(ctx, d0, GNTTABOP.copy, [op]) == 0
    assert op.status == GNTST.okay
    assert ctx.counters[0]["copy_bytes"] == 1500 and ctx.counters[0]["copies"] == 1
    assert ctx.table(1).shared[src].flags == GTF.permit_access | GTF.readonly  # no pin left


def test_copy_local_frame_and_errors(ctx, registry):
    d1, d2, d0 = dom(registry, 1), dom(registry, 2), dom(registry, 0)
    src = gnttab_grant_foreign_access(ctx, d1, 0, 3)
    ro = gnttab_grant_foreign_access(ctx, d2, 0, 4, readonly=True)
    local = GnttabCopyPtr(DOMID_SELF, 0, gmfn=77)
    g = GNTCOPY.source_gref

    def run(op):
        do_grant_table_op(ctx, d0, GNTTABOP.copy, [op])
        return op.status

    assert run(copy_op(GnttabCopyPtr(1, 0, src), local, 4096, g)) == GNTST.okay
    assert run(copy_op(GnttabCopyPtr(1, 0, src), GnttabCopyPtr(2, gmfn=5), 8, g)) == (
        GNTST.permission_denied
    )  # only DOMID_SELF may name a frame
    assert run(copy_op(GnttabCopyPtr(88, 0, src), local, 8, g)) == GNTST.bad_domain
    assert run(copy_op(GnttabCopyPtr(1, 0, 9999), local, 8, g)) == GNTST.bad_gntref
    assert run(copy_op(GnttabCopyPtr(1, 0, 300), local, 8, g)) == GNTST.general_error
    assert run(copy_op(GnttabCopyPtr(1, 0, src), GnttabCopyPtr(2, 0, ro), 8)) == (
        GNTST.general_error
    )  # write into a read-only grant
    assert run(copy_op(GnttabCopyPtr(1, 4000, src), local, 200, g)) == GNTST.bad_copy_arg
    assert run(copy_op(GnttabCopyPtr(1, 0, src), local, 4097, g)) == GNTST.bad_copy_arg
    # the ref is checked before the length, as in gnttab_copy_one
    assert run(copy_op(GnttabCopyPtr(1, 0, 9999), local, 5000, g)) == GNTST.bad_gntref
    assert run(copy_op(GnttabCopyPtr(2, 0, ro), local, 8, g)) == GNTST.okay  # reading r/o is fine
    other = gnttab_grant_foreign_access(ctx, d2, 1, 4)
    assert run(copy_op(GnttabCopyPtr(2, 0, other), local, 8, g)) == GNTST.general_error
    assert ctx.counters[0]["copy_bytes"] == 4096 + 8


def test_mapper_death_releases_its_mappings(ctx, registry):
    d1, d2 = dom(registry, 1), dom(registry, 2)
    ref = gnttab_grant_foreign_access(ctx, d1, 2, 5)
    map1(ctx, d2, 1, ref)
    map1(ctx, d2, 1, ref)
    d2.is_dying = True
    assert life.gnttab_domain_destroy(ctx, d2)
    assert ctx.table(1).active[ref].pin == 0
    assert ctx.table(1).shared[ref].flags == GTF.permit_access
    assert gnttab_end_foreign_access_ref(ctx, d1, ref)
    assert 2 not in ctx.tables and ctx.counters[2]["released"] == 2


def test_granter_death_zombie_until_last_unmap(ctx, registry):
    d1, d0 = dom(registry, 1), dom(registry, 0)
    ref = gnttab_grant_foreign_access(ctx, d1, 0, 5)
    m = map1(ctx, d0, 1, ref)
    d1.is_dying = True
    assert not life.gnttab_domain_destroy(ctx, d1)
    assert life.mapped_grants_of_dead_domains(ctx) == [(1, ref, 0)]
    registry.remove(1)  # the core may drop it from its list; the zombie table stays
    assert map1(ctx, d0, 1, ref).status == GNTST.general_error  # can't pin a dying page
    assert unmap1(ctx, d0, m.handle).status == GNTST.okay
    assert life.mapped_grants_of_dead_domains(ctx) == []
    assert 1 not in ctx.tables and not ctx.zombies


def test_copy_from_dying_granter_bad_domain(ctx, registry):
    d1, d0 = dom(registry, 1), dom(registry, 0)
    ref = gnttab_grant_foreign_access(ctx, d1, 0, 5)
    d1.is_dying = True
    op = copy_op(GnttabCopyPtr(1, 0, ref), GnttabCopyPtr(DOMID_SELF, gmfn=1), 8, 1)
    do_grant_table_op(ctx, d0, GNTTABOP.copy, [op])
    assert op.status == GNTST.bad_domain


def test_dump(ctx, registry):
    d1, d0 = dom(registry, 1), dom(registry, 0)
    ref = gnttab_grant_foreign_access(ctx, d1, 0, 0x42)
    map1(ctx, d0, 1, ref)
    text = life.dump(ctx)
    assert "grant-table for remote d1 (v1)" in text
    assert "[0x008]      0 0x000042 0x00000001          0 0x000042 0x19" in text


def test_grant_entries_are_made_when_first_used(ctx, registry):
    gt = ctx.table(1)
    assert len(gt.shared) == gt.nr_entries == 512  # one frame, as Xen's initial size
    assert gt.shared.made == {} and gt.active.made == {}
    ref = gnttab_grant_foreign_access(ctx, registry.get_domain(1), 0, 0x1234)
    assert max(gt.shared.made) == ref and gt.shared[ref].frame == 0x1234
    assert gt.shared[-1] is gt.shared[511]  # indexes as a list does
    with pytest.raises(IndexError):
        gt.shared[512]

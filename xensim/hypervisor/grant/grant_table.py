"""Grant tables (v1): shared entries, active pins, maptrack, GNTTABOP verbs.

Mirrors: xen/common/grant_table.c (map_grant_ref, unmap_common(_complete),
gnttab_setup_table, gnttab_query_size, gnttab_copy_one and
acquire_grant_for_copy, gnttab_release_mappings, grant_table_destroy, the
'g' key); simplified: v1 only, no transfer/transitive/sub-page grants, no
IOMMU, no page reference counts, no preemption (batches always finish),
no data is moved (copies are validated and counted, not performed).

Three layers as in Xen: a worker per entry (``map_grant_ref``) that writes
its GNTST status into the op, a batch wrapper that loops over a list, and
``do_grant_table_op`` that dispatches on GNTTABOP and returns 0 or -errno
for the call itself.

Domain death.  Xen cannot free a domain's pages while another domain still
maps them, so a dead granter lingers as a zombie until the last foreign
mapping goes (the mapper unmaps, or dies and has its mappings released).
:func:`gnttab_domain_destroy` models exactly that: it first releases the
dying domain's own mappings (``gnttab_release_mappings``), then frees its
table at once if nothing of it is pinned, or keeps it as a zombie that the
final unpin frees.  :func:`mapped_grants_of_dead_domains` lists what keeps
zombies alive, so a test can assert the list drains.  New maps of a dying
granter's grants fail with GNTST_general_error (Xen's "could not pin": its
pages are being relinquished) and copies with GNTST_bad_domain.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from xensim.hypervisor.domctx import (
    DOMID_SELF,
    DomainCounters,
    DomainLike,
    DomainRegistry,
    lookup_any,
    xsm_target_ok,
)
from xensim.hypervisor.errno import EINVAL, ENOSYS
from xensim.hypervisor.grant.abi import (
    DEFAULT_MAX_GRANT_FRAMES,
    DEFAULT_MAX_MAPTRACK_FRAMES,
    GNTCOPY,
    GNTMAP,
    GNTST,
    GNTTABOP,
    GRANTS_PER_FRAME,
    GTF,
    INITIAL_NR_GRANT_FRAMES,
    MAPTRACK_PER_PAGE,
    PAGE_SHIFT,
    PAGE_SIZE,
    GnttabCopy,
    GnttabCopyPtr,
    GnttabMapGrantRef,
    GnttabQuerySize,
    GnttabSetupTable,
    GnttabUnmapGrantRef,
    GTF_type_mask,
)
from xensim.hypervisor.lazy import LazyEntries

# Active-entry pin counts, packed as in Xen: one byte per kind of mapping.
GNTPIN_hstw_inc = 1 << 0
GNTPIN_hstr_inc = 1 << 8
GNTPIN_devw_inc = 1 << 16
GNTPIN_devr_inc = 1 << 24
GNTPIN_hstw_mask = 0xFF << 0
GNTPIN_devw_mask = 0xFF << 16
_WRITE_PINS = GNTPIN_hstw_mask | GNTPIN_devw_mask
_PIN_OVERFLOW = 0x80808080


@dataclass(slots=True)
class GrantEntry:
    """``grant_entry_v1``: written by the granting guest, flags also by Xen."""

    flags: int = 0
    domid: int = 0
    frame: int = 0


@dataclass(slots=True)
class ActiveEntry:
    """Xen's private shadow of an entry while it is pinned (mapped or copied)."""

    pin: int = 0
    domid: int = 0
    frame: int = 0


@dataclass(slots=True)
class Mapping:
    """``struct grant_mapping``: one maptrack slot of the *mapping* domain."""

    ref: int = 0
    flags: int = 0
    domid: int = 0
    host_addr: int = 0


class GrantTable:
    """One domain's shared grant frames, active entries and maptrack."""

    def __init__(self, domid: int, max_grant_frames: int, max_maptrack_frames: int) -> None:
        self.domid = domid
        self.max_grant_frames = max_grant_frames
        self.max_maptrack_frames = max_maptrack_frames
        self.nr_grant_frames = 0
        self.shared: LazyEntries[GrantEntry] = LazyEntries(lambda _ref: GrantEntry())
        self.active: LazyEntries[ActiveEntry] = LazyEntries(lambda _ref: ActiveEntry())
        self.maptrack: list[Mapping] = []
        self.free_handles: deque[int] = deque()
        self.grow(INITIAL_NR_GRANT_FRAMES)

    @property
    def nr_entries(self) -> int:
        return self.nr_grant_frames * GRANTS_PER_FRAME

    def grow(self, nr_frames: int) -> None:
        while self.nr_grant_frames < nr_frames:
            self.shared.length += GRANTS_PER_FRAME
            self.active.length += GRANTS_PER_FRAME
            self.nr_grant_frames += 1

    def get_maptrack_handle(self) -> int | None:
        """Free-list head, adding a maptrack page when the list is empty."""
        if not self.free_handles:
            if len(self.maptrack) // MAPTRACK_PER_PAGE >= self.max_maptrack_frames:
                return None
            base = len(self.maptrack)
            self.maptrack.extend(Mapping() for _ in range(MAPTRACK_PER_PAGE))
            self.free_handles.extend(range(base, base + MAPTRACK_PER_PAGE))
        return self.free_handles.popleft()

    def put_maptrack_handle(self, handle: int) -> None:
        """Freed handles go to the tail, as Xen's, so they are not reused at once."""
        self.maptrack[handle] = Mapping()
        self.free_handles.append(handle)

    def live_mappings(self) -> list[tuple[int, Mapping]]:
        return [(h, m) for h, m in enumerate(self.maptrack) if m.flags]

    def pinned_refs(self) -> list[int]:
        return sorted(r for r, a in self.active.made.items() if a.pin)


class GrantTables:
    """Host-wide grant-table subsystem: the *ctx* of every verb."""

    def __init__(
        self,
        registry: DomainRegistry,
        max_grant_frames: int = DEFAULT_MAX_GRANT_FRAMES,
        max_maptrack_frames: int = DEFAULT_MAX_MAPTRACK_FRAMES,
    ) -> None:
        self.registry = registry
        self.max_grant_frames = max_grant_frames
        self.max_maptrack_frames = max_maptrack_frames
        self.counters = DomainCounters()
        self.tables: dict[int, GrantTable] = {}
        self.zombies: set[int] = set()

    def table(self, domid: int) -> GrantTable:
        """The domain's table, created on first use (Xen's grant_table_init)."""
        gt = self.tables.get(domid)
        if gt is None:
            gt = GrantTable(domid, self.max_grant_frames, self.max_maptrack_frames)
            self.tables[domid] = gt
        return gt


def _dying(ctx: GrantTables, domid: int) -> bool:
    d = ctx.registry.get_domain(domid)
    return domid in ctx.zombies or d is None or d.is_dying


def pin_inc(flags: int) -> int:
    inc = 0
    if flags & GNTMAP.device_map:
        inc += GNTPIN_devr_inc if flags & GNTMAP.readonly else GNTPIN_devw_inc
    if flags & GNTMAP.host_map:
        inc += GNTPIN_hstr_inc if flags & GNTMAP.readonly else GNTPIN_hstw_inc
    return inc


def _pin_for(act: ActiveEntry, sha: GrantEntry, ldomid: int, readonly: bool) -> int:
    """``_set_status_v1``: check the entry and set GTF_reading/writing."""
    if act.pin == 0 and ((sha.flags & GTF_type_mask) != GTF.permit_access or sha.domid != ldomid):
        return GNTST.general_error
    if not readonly and sha.flags & GTF.readonly:
        return GNTST.general_error
    sha.flags |= GTF.reading if readonly else GTF.reading | GTF.writing
    return GNTST.okay


def unpin(ctx: GrantTables, rgt: GrantTable, ref: int, dec: int, readonly: bool) -> None:
    """Drop pins; clear GTF_writing/reading as the counts reach zero."""
    act, sha = rgt.active[ref], rgt.shared[ref]
    act.pin -= dec
    if not readonly and not act.pin & _WRITE_PINS:
        sha.flags &= ~GTF.writing
    if act.pin == 0:
        sha.flags &= ~GTF.reading
    if rgt.domid in ctx.zombies and not rgt.pinned_refs():
        ctx.zombies.discard(rgt.domid)
        del ctx.tables[rgt.domid]


# ---- workers -------------------------------------------------------------------


def map_grant_ref(ctx: GrantTables, caller: DomainLike, op: GnttabMapGrantRef) -> None:
    if not op.flags & (GNTMAP.device_map | GNTMAP.host_map):
        op.status = GNTST.bad_gntref  # Xen's choice for "bad flags"
        return
    if ctx.registry.get_domain(op.dom) is None and op.dom not in ctx.zombies:
        op.status = GNTST.bad_domain
        return
    lgt, rgt = ctx.table(caller.domid), ctx.table(op.dom)
    handle = lgt.get_maptrack_handle()
    if handle is None:
        op.status = GNTST.no_device_space
        return
    op.status = _map_pin(ctx, caller.domid, rgt, op)
    if op.status != GNTST.okay:
        lgt.free_handles.appendleft(handle)
        return
    lgt.maptrack[handle] = Mapping(op.ref, op.flags, op.dom, op.host_addr)
    op.handle = handle
    op.dev_bus_addr = rgt.active[op.ref].frame << PAGE_SHIFT
    ctx.counters.bump(caller.domid, "maps")


def _map_pin(ctx: GrantTables, ldomid: int, rgt: GrantTable, op: GnttabMapGrantRef) -> int:
    if not 0 <= op.ref < rgt.nr_entries:
        return GNTST.bad_gntref
    act, sha = rgt.active[op.ref], rgt.shared[op.ref]
    if act.pin and (act.domid != ldomid or act.pin & _PIN_OVERFLOW):
        return GNTST.general_error
    readonly = bool(op.flags & GNTMAP.readonly)
    if _dying(ctx, rgt.domid):
        return GNTST.general_error
    if not act.pin or (not readonly and not act.pin & _WRITE_PINS):
        rc = _pin_for(act, sha, ldomid, readonly)
        if rc != GNTST.okay:
            return rc
        if not act.pin:
            act.domid, act.frame = ldomid, sha.frame
    act.pin += pin_inc(op.flags)
    return GNTST.okay


def unmap_grant_ref(ctx: GrantTables, caller: DomainLike, op: GnttabUnmapGrantRef) -> None:
    lgt = ctx.table(caller.domid)
    if not 0 <= op.handle < len(lgt.maptrack) or not lgt.maptrack[op.handle].flags:
        op.status = GNTST.bad_handle
        return
    m = lgt.maptrack[op.handle]
    rgt = ctx.tables.get(m.domid)
    if rgt is None:  # granter fully gone: nothing left to unpin
        lgt.put_maptrack_handle(op.handle)
        op.status = GNTST.okay
        return
    act = rgt.active[m.ref]
    if op.dev_bus_addr and op.dev_bus_addr != act.frame << PAGE_SHIFT:
        op.status = GNTST.general_error
        return
    done = 0
    if op.host_addr and m.flags & GNTMAP.host_map:
        if op.host_addr != m.host_addr:
            op.status = GNTST.general_error
            return
        m.flags &= ~GNTMAP.host_map
        done |= GNTMAP.host_map
    if op.dev_bus_addr and m.flags & GNTMAP.device_map:
        m.flags &= ~GNTMAP.device_map
        done |= GNTMAP.device_map
    readonly = bool(m.flags & GNTMAP.readonly)
    ref = m.ref
    if not m.flags & (GNTMAP.device_map | GNTMAP.host_map):
        lgt.put_maptrack_handle(op.handle)
    if done:
        ro = GNTMAP.readonly if readonly else 0
        unpin(ctx, rgt, ref, pin_inc(done | ro), readonly)
        ctx.counters.bump(caller.domid, "unmaps")
    op.status = GNTST.okay


def _acquire_for_copy(ctx: GrantTables, ldomid: int, p: GnttabCopyPtr, readonly: bool) -> int:
    rgt = ctx.table(p.domid)
    if not 0 <= p.ref < rgt.nr_entries:
        return GNTST.bad_gntref
    act, sha = rgt.active[p.ref], rgt.shared[p.ref]
    if act.pin and (act.domid != ldomid or act.pin & _PIN_OVERFLOW):
        return GNTST.general_error
    if act.pin == 0 or (not readonly and not act.pin & _WRITE_PINS):
        saved = sha.flags
        rc = _pin_for(act, sha, ldomid, readonly)
        sha.flags = saved  # the copy pin is released before the hypercall returns
        if rc != GNTST.okay:
            return rc
    if _dying(ctx, p.domid):
        return GNTST.bad_domain
    return GNTST.okay


def gnttab_copy_one(ctx: GrantTables, caller: DomainLike, op: GnttabCopy) -> None:
    op.status = _copy_status(ctx, caller, op)
    if op.status == GNTST.okay:
        ctx.counters.bump(caller.domid, "copies")
        ctx.counters.bump(caller.domid, "copy_bytes", op.len)


def _copy_status(ctx: GrantTables, caller: DomainLike, op: GnttabCopy) -> int:
    sides = ((op.source, GNTCOPY.source_gref), (op.dest, GNTCOPY.dest_gref))
    for p, flag in sides:  # gnttab_copy_lock_domain
        if p.domid != DOMID_SELF and not op.flags & flag:
            return GNTST.permission_denied
        d = lookup_any(ctx.registry, caller, p.domid)
        if d is None and p.domid not in ctx.zombies:
            return GNTST.bad_domain
    for p, flag in sides:  # gnttab_copy_claim_buf
        if op.flags & flag:
            ptr = GnttabCopyPtr(_resolve(caller, p.domid), p.offset, p.ref, p.gmfn)
            rc = _acquire_for_copy(ctx, caller.domid, ptr, flag == GNTCOPY.source_gref)
            if rc != GNTST.okay:
                return rc
    if op.source.offset + op.len > PAGE_SIZE or op.dest.offset + op.len > PAGE_SIZE:
        return GNTST.bad_copy_arg
    return GNTST.okay


def _resolve(caller: DomainLike, domid: int) -> int:
    return caller.domid if domid == DOMID_SELF else domid


def _target_table(ctx: GrantTables, caller: DomainLike,
                  op: GnttabSetupTable | GnttabQuerySize) -> GrantTable | None:
    """The table *op* names, or None with ``op.status`` set (bad domain, not permitted)."""
    d = lookup_any(ctx.registry, caller, op.dom)
    if d is None:
        op.status = GNTST.bad_domain
        return None
    if not xsm_target_ok(caller, d):
        op.status = GNTST.permission_denied
        return None
    return ctx.table(d.domid)


def gnttab_setup_table(ctx: GrantTables, caller: DomainLike, op: GnttabSetupTable) -> None:
    gt = _target_table(ctx, caller, op)
    if gt is None:
        return
    if op.nr_frames > gt.max_grant_frames:
        op.status = GNTST.general_error
        return
    gt.grow(op.nr_frames)
    op.frame_list = list(range(op.nr_frames))  # gmfns are not modelled: frame indices
    op.status = GNTST.okay


def gnttab_query_size(ctx: GrantTables, caller: DomainLike, op: GnttabQuerySize) -> None:
    gt = _target_table(ctx, caller, op)
    if gt is None:
        return
    op.nr_frames, op.max_nr_frames, op.status = gt.nr_grant_frames, gt.max_grant_frames, 0


# ---- batch wrappers and dispatcher ------------------------------------------------

Worker = Callable[[GrantTables, DomainLike, Any], None]

GNTTABOP_TABLE: dict[int, tuple[Worker, bool]] = {
    GNTTABOP.map_grant_ref: (map_grant_ref, False),
    GNTTABOP.unmap_grant_ref: (unmap_grant_ref, False),
    GNTTABOP.setup_table: (gnttab_setup_table, True),
    GNTTABOP.copy: (gnttab_copy_one, False),
    GNTTABOP.query_size: (gnttab_query_size, True),
}
"""worker, and whether the op insists on count == 1.  Others answer -ENOSYS."""


def do_grant_table_op(
    ctx: GrantTables, caller: DomainLike, cmd: int, uops: list[Any], count: int | None = None
) -> int:
    """HYPERVISOR_grant_table_op: run *count* ops of *uops*; each gets its status."""
    count = len(uops) if count is None else count
    name = GNTTABOP(cmd).name if cmd in GNTTABOP._value2member_map_ else str(cmd)
    ctx.counters.bump(caller.domid, f"op.{name}")
    entry = GNTTABOP_TABLE.get(cmd)
    if count < 0 or (entry is not None and entry[1] and count != 1):
        rc = EINVAL
    elif entry is None:
        rc = ENOSYS
    else:
        for op in uops[:count]:
            entry[0](ctx, caller, op)
            if op.status != GNTST.okay:
                ctx.counters.bump(caller.domid, "denied")
                ctx.counters.bump(caller.domid, f"status.{GNTST(op.status).name}")
        return 0
    ctx.counters.bump(caller.domid, "denied")
    return rc

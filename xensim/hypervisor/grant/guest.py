"""The granting guest's side of grant tables: write, revoke and inspect entries.

Mirrors: Linux drivers/xen/grant-table.c (gnttab_grant_foreign_access_ref,
gnttab_grant_foreign_access, gnttab_end_foreign_access_ref,
gnttab_query_foreign_access); simplified: the free list is a scan for an
empty entry, expansion calls setup_table directly.

A guest owns its shared grant frames and edits entries in place without a
hypercall; Xen only ever sets and clears GTF_reading/GTF_writing.  Revoking
an entry therefore only succeeds while neither bit is set: that is the
protocol (grant_table.h, "Invalidating an unused GTF_permit_access entry")
that stops a frontend from reusing a page a backend still maps.
"""

from __future__ import annotations

from xensim.hypervisor.domctx import DOMID_SELF, DomainLike
from xensim.hypervisor.errno import ENOSPC
from xensim.hypervisor.grant.abi import (
    GNTST,
    GNTTAB_NR_RESERVED_ENTRIES,
    GTF,
    GnttabSetupTable,
)
from xensim.hypervisor.grant.grant_table import GrantTables, gnttab_setup_table


def gnttab_grant_foreign_access_ref(
    ctx: GrantTables, granter: DomainLike, ref: int, domid: int, frame: int, readonly: bool
) -> None:
    """Fill entry *ref*: domid and frame first, then the flags (the valid bit)."""
    sha = ctx.table(granter.domid).shared[ref]
    sha.domid, sha.frame = domid, frame
    sha.flags = GTF.permit_access | (GTF.readonly if readonly else 0)
    ctx.counters.bump(granter.domid, "grants")


def gnttab_grant_foreign_access(
    ctx: GrantTables, granter: DomainLike, domid: int, frame: int, readonly: bool = False
) -> int:
    """Grant *frame* to *domid* in a free entry; return its ref, or -ENOSPC.

    Refs below GNTTAB_NR_RESERVED_ENTRIES are left to the toolstack, as
    Linux does.  A full table grows by one frame up to max_grant_frames.
    """
    gt = ctx.table(granter.domid)
    while True:
        for ref in range(GNTTAB_NR_RESERVED_ENTRIES, gt.nr_entries):
            if gt.shared[ref].flags == 0 and gt.active[ref].pin == 0:
                gnttab_grant_foreign_access_ref(ctx, granter, ref, domid, frame, readonly)
                return ref
        op = GnttabSetupTable(DOMID_SELF, gt.nr_grant_frames + 1)
        gnttab_setup_table(ctx, granter, op)
        if op.status != GNTST.okay:
            return ENOSPC


def gnttab_end_foreign_access_ref(ctx: GrantTables, granter: DomainLike, ref: int) -> bool:
    """Revoke *ref*; False (busy) while the grantee has it mapped."""
    sha = ctx.table(granter.domid).shared[ref]
    if sha.flags & (GTF.reading | GTF.writing):
        ctx.counters.bump(granter.domid, "revoke_busy")
        return False
    sha.flags = 0
    return True


def gnttab_query_foreign_access(ctx: GrantTables, granter: DomainLike, ref: int) -> bool:
    """True while Xen reports the entry in use (GTF_reading or GTF_writing)."""
    return bool(ctx.table(granter.domid).shared[ref].flags & (GTF.reading | GTF.writing))

"""Grant tables across a domain's death, and the 'g' debug key.

Mirrors: xen/common/grant_table.c (gnttab_release_mappings,
grant_table_warn_active_grants, grant_table_destroy, gnttab_usage_print);
xen/common/domain.c (domain_kill -> relinquish, complete_domain_destroy only
once the last page reference is gone).

Order of teardown, as Xen: the dying domain first drops every mapping it
holds of others' grants, which may let *their* zombie tables go; then its
own table is freed if no other domain pins any of its grants, and is
otherwise kept as a zombie until the last foreign unmap.
"""

from __future__ import annotations

from xensim.hypervisor.domctx import DomainLike
from xensim.hypervisor.grant.abi import GNTMAP
from xensim.hypervisor.grant.grant_table import GrantTables, pin_inc, unpin


def gnttab_release_mappings(ctx: GrantTables, d: DomainLike) -> int:
    """Drop every mapping *d* holds; return how many were released."""
    lgt = ctx.tables.get(d.domid)
    if lgt is None:
        return 0
    released = 0
    for handle, m in lgt.live_mappings():
        rgt = ctx.tables.get(m.domid)
        if rgt is not None:
            unpin(ctx, rgt, m.ref, pin_inc(m.flags), bool(m.flags & GNTMAP.readonly))
        lgt.put_maptrack_handle(handle)
        released += 1
    ctx.counters.bump(d.domid, "released", released)
    return released


def gnttab_domain_destroy(ctx: GrantTables, d: DomainLike) -> bool:
    """Tear down *d*'s grant state; True when its table is gone, False if a zombie."""
    gnttab_release_mappings(ctx, d)
    gt = ctx.tables.get(d.domid)
    if gt is None:
        return True
    if gt.pinned_refs():
        ctx.zombies.add(d.domid)
        return False
    del ctx.tables[d.domid]
    return True


def mapped_grants_of_dead_domains(ctx: GrantTables) -> list[tuple[int, int, int]]:
    """(granter domid, ref, mapper domid) for every grant keeping a zombie alive."""
    out: list[tuple[int, int, int]] = []
    for domid in sorted(ctx.zombies):
        gt = ctx.tables[domid]
        out.extend((domid, ref, gt.active[ref].domid) for ref in gt.pinned_refs())
    return out


def maptrack_in_use(ctx: GrantTables, domid: int) -> int:
    gt = ctx.tables.get(domid)
    return len(gt.live_mappings()) if gt is not None else 0


def dump(ctx: GrantTables) -> str:
    """The 'g' key: per domain, the pinned entries (active and shared views)."""
    out = ["gnttab_usage_print_all [ key 'g' pressed"]
    for domid, gt in sorted(ctx.tables.items()):
        out.append("      -------- active --------       -------- shared --------")
        out.append("[ref] localdom mfn      pin          localdom gmfn     flags")
        nr_mt = len(gt.maptrack) // 256
        zombie = " (zombie)" if domid in ctx.zombies else ""
        out.append(f"grant-table for remote d{domid} (v1){zombie}")
        out.append(
            f"  {gt.nr_grant_frames} frames ({gt.max_grant_frames} max), "
            f"{nr_mt} maptrack frames ({gt.max_maptrack_frames} max)"
        )
        refs = gt.pinned_refs()
        for ref in refs:
            act, sha = gt.active[ref], gt.shared[ref]
            out.append(
                f"[0x{ref:03x}]  {act.domid:5d} 0x{act.frame:06x} 0x{act.pin:08x}"
                f"      {sha.domid:5d} 0x{sha.frame:06x} 0x{int(sha.flags):02x}"
            )
        if not refs:
            out.append("no active grant table entries")
    out.append("gnttab_usage_print_all ] done")
    return "\n".join(out) + "\n"

"""Log-dirty mode: Xen tracking which pages of a domain were written (for migration).

Mirrors: xen/arch/x86/mm/paging.c (paging_log_dirty_enable/_op, the bitmap that
XEN_DOMCTL_SHADOW_OP_CLEAN copies out and clears, SHADOW_OP_PEEK, SHADOW_OP_OFF)
with shadow log-dirty for PV guests (xen/arch/x86/mm/shadow/: every page is
write-protected, the first write to it after each CLEAN faults into Xen,
which marks it dirty and lets the write through) and HAP dirty tracking for
HVM guests (the p2m entries turn read-only, the first write is an EPT/NPT
violation exit; an HVM guest on shadow paging, ``hap = 0``, is tracked by the
shadow code like a PV guest).  The price of that first write is ``logdirty_fault_pv`` or
``logdirty_fault_hap``; dom0 pays ``logdirty_clean_page`` per dirty page
when it cleans the bitmap (Xen re-protects each one).

Simplified: the bitmap is kept as a *count* of dirty pages in the guest's
writable working set, not a bit per page.  The guest model reports its writes
(:meth:`LogDirty.record_writes`: *n* writes spread uniformly over a working
set of *wss* pages), and the count of distinct pages they hit follows from
that: of the ``wss - dirty`` still-clean pages, a fraction ``exp(-n/wss)``
escapes *n* uniform writes.  Each newly dirtied page is one fault.  The
fault time is taken from the guest's vCPU 0 while it runs (stolen as Xen
work); if it is not running when the writes are reported, the debt waits
for the next report.  No Intel PML (which logs writes without an exit per
page): HAP tracking is priced as on hardware without it.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from xensim.hypervisor.domain import Domain
    from xensim.hypervisor.hypervisor import Hypervisor


class LogDirty:
    """One domain's log-dirty state, from ENABLE_LOGDIRTY to OFF."""

    def __init__(self, hyp: Hypervisor, d: Domain) -> None:
        self.hyp = hyp
        self.d = d
        self.nr_pages = d.memory_kib // 4
        self.dirty = 0.0
        """Pages written since the last clean (a count, see the module note)."""
        self.faults = 0
        shadow = d.guest_type == "pv" or getattr(d.hvm, "paging", "hap") == "shadow"
        self.fault_ns = hyp.costs["logdirty_fault_pv" if shadow else "logdirty_fault_hap"]
        """Shadow log-dirty (PV, or HVM with ``hap = 0``) or HAP dirty tracking."""
        self._debt_ns = 0

    def record_writes(self, writes: float, wss_pages: int) -> None:
        """The guest wrote *writes* times to pages of its working set since its last report."""
        if writes <= 0 or wss_pages <= 0:
            return
        wss = min(wss_pages, self.nr_pages)
        before = min(self.dirty, wss)
        after = wss - (wss - before) * math.exp(-writes / wss)
        new = int(after) - int(before)
        self.dirty = after
        if new > 0:
            self.faults += new
            self._debt_ns += new * self.fault_ns
            self._charge()

    def _charge(self) -> None:
        """Steal the faults' time from vCPU 0 as Xen work, once it has work of its own."""
        core, v = self.hyp.core, self.d.vcpus[0]
        if v.work_done is None or self.d.is_dying:
            return
        ns, self._debt_ns = self._debt_ns, 0
        left, cont, kind = core.interrupt_work(v)
        core.set_work(v, ns, lambda: core.set_work(v, left, cont, kind),  # type: ignore[arg-type]
                      "hypervisor")

    def clean(self) -> int:
        """XEN_DOMCTL_SHADOW_OP_CLEAN: the dirty count, and the bitmap cleared."""
        n = int(self.dirty)
        self.dirty = 0.0
        return n

    def clean_cost_ns(self, dirty: int) -> int:
        return dirty * self.hyp.costs["logdirty_clean_page"]

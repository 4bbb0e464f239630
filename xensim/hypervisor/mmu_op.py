"""mmu_update and update_va_mapping: a PV guest edits its page tables through Xen.

Mirrors: xen/arch/x86/mm.c (do_mmu_update, do_update_va_mapping) and
public/xen.h (MMU_NORMAL_PT_UPDATE, UVMF_*).  Page tables are not modelled:
what matters for the simulator is that PV page-table churn is a hypercall
whose price is one fixed part per batch plus one part per entry (cost table:
``mmu_update_batch``, ``mmu_update_entry``), which is why batching pays.
Each request is still checked the way Xen reads it (command in the low bits
of ``ptr``, an integer ``val``), a bad one stops the batch with its error,
and the number done is reported through ``pdone`` as Xen does.  HVM and PVH
guests have no such hypercall (``-ENOSYS``).
"""

from __future__ import annotations

from enum import IntEnum
from typing import TYPE_CHECKING, Any

from xensim.hypervisor.domain import DOMID_SELF
from xensim.hypervisor.errno import EFAULT, EINVAL, ENOSYS, EPERM, ESRCH
from xensim.hypervisor.hc_util import is_int
from xensim.hypervisor.hypercall import HC, register_hypercall

if TYPE_CHECKING:
    from xensim.hypervisor.hypervisor import Hypervisor
    from xensim.hypervisor.vcpu import VCPU

GUEST_VA_LIMIT = 1 << 47  # canonical lower half; Xen owns the rest on x86-64 PV


class MMU(IntEnum):
    NORMAL_PT_UPDATE = 0
    MACHPHYS_UPDATE = 1
    PT_UPDATE_PRESERVE_AD = 2


def hc_mmu_update(hyp: Hypervisor, v: VCPU, reqs: Any = None, count: Any = None,
                  pdone: Any = None, foreigndom: Any = DOMID_SELF) -> int:
    d = v.domain
    if d.guest_type != "pv":
        return ENOSYS
    if type(reqs) is not list or not is_int(count) or not 0 <= count <= len(reqs) \
            or not is_int(foreigndom):
        return EFAULT
    if foreigndom not in (DOMID_SELF, d.domid):
        if not d.is_privileged:
            d.denied += 1
            return EPERM
        if foreigndom not in hyp.domains:
            return ESRCH
    costs = hyp.costs
    done, rc = 0, 0
    for req in reqs[:count]:
        if type(req) is not tuple or len(req) != 2 or not is_int(req[0]) \
                or not is_int(req[1]):
            rc = EFAULT
            break
        if req[0] & 3 not in MMU._value2member_map_:
            rc = ENOSYS
            break
        done += 1
    hyp.charge(costs["mmu_update_batch"] + done * costs["mmu_update_entry"])
    if type(pdone) is list:
        pdone.append(done)
    return rc


def hc_update_va_mapping(hyp: Hypervisor, v: VCPU, va: Any = None, val: Any = None,
                         flags: Any = 0) -> int:
    if v.domain.guest_type != "pv":
        return ENOSYS
    if not (is_int(va) and is_int(val) and is_int(flags)):
        return EFAULT
    if not 0 <= va < GUEST_VA_LIMIT or flags & 3 == 3:
        return EINVAL
    hyp.charge(hyp.costs["mmu_update_batch"] + hyp.costs["mmu_update_entry"])
    return 0


register_hypercall(HC.mmu_update, hc_mmu_update)
register_hypercall(HC.update_va_mapping, hc_update_va_mapping)

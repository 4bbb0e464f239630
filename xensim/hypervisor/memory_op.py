"""memory_op: a guest grows or shrinks its reservation (ballooning).

Mirrors: xen/common/memory.c (do_memory_op: increase_reservation,
decrease_reservation, populate_physmap, current/maximum_reservation) and
public/memory.h.  Simplified: pages are counted, not tracked one by one, so
a decrease always finds the extents it names.  As in Xen the call returns
the number of extents done (which may be fewer than asked when the domain
hits its ``maxmem`` or the host runs out of free memory), or ``-errno``.
Acting on another domain needs privilege (XSM_TARGET).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import TYPE_CHECKING, Any

from xensim.hypervisor.domain import DOMID_SELF
from xensim.hypervisor.errno import EFAULT, EINVAL, ENOSYS, EPERM, ESRCH
from xensim.hypervisor.hc_util import c_struct_ok, is_int
from xensim.hypervisor.hypercall import HC, register_hypercall

if TYPE_CHECKING:
    from xensim.hypervisor.domain import Domain
    from xensim.hypervisor.hypervisor import Hypervisor
    from xensim.hypervisor.vcpu import VCPU

PAGE_KIB = 4
MAX_ORDER_DOMU = 9  # Xen's default memop max order for an unprivileged guest (2 MiB)


class XENMEM(IntEnum):
    increase_reservation = 0
    decrease_reservation = 1
    maximum_ram_page = 2
    current_reservation = 3
    maximum_reservation = 4
    populate_physmap = 6


@dataclass(slots=True)
class XenMemoryReservation:
    """struct xen_memory_reservation (extent_start is not modelled)."""

    nr_extents: int
    extent_order: int = 0
    mem_flags: int = 0
    domid: int = DOMID_SELF


def _target(hyp: Hypervisor, caller: Domain, domid: int) -> Domain | int:
    if domid == DOMID_SELF or domid == caller.domid:
        return caller
    if not caller.is_privileged:
        caller.denied += 1
        return EPERM
    d = hyp.domains.get(domid)
    return ESRCH if d is None else d


def hc_memory_op(hyp: Hypervisor, v: VCPU, cmd: int, arg: Any = None) -> int:
    caller = v.domain
    if cmd in (XENMEM.current_reservation, XENMEM.maximum_reservation):
        if not is_int(arg):
            return EFAULT
        d = _target(hyp, caller, arg)
        if isinstance(d, int):
            return d
        kib = d.memory_kib if cmd == XENMEM.current_reservation else d.max_memory_kib
        return kib // PAGE_KIB
    if cmd == XENMEM.maximum_ram_page:
        return hyp.total_memory_kib // PAGE_KIB
    if cmd not in (XENMEM.increase_reservation, XENMEM.decrease_reservation,
                   XENMEM.populate_physmap):
        return ENOSYS if is_int(cmd) else EFAULT
    if not c_struct_ok(arg, (XenMemoryReservation,)):
        return EFAULT
    if arg.nr_extents < 0 or not 0 <= arg.extent_order < 64:
        return EINVAL
    d = _target(hyp, caller, arg.domid)
    if isinstance(d, int):
        return d
    max_order = 18 if caller.is_privileged else MAX_ORDER_DOMU
    if arg.extent_order > max_order:
        return 0  # Xen: no extent done
    extent_kib = PAGE_KIB << arg.extent_order
    if cmd == XENMEM.decrease_reservation:
        done = min(arg.nr_extents, d.memory_kib // extent_kib)
        d.memory_kib -= done * extent_kib
        return done
    room = min(d.max_memory_kib - d.memory_kib, hyp.free_memory_kib)
    done = min(arg.nr_extents, max(room, 0) // extent_kib)
    d.memory_kib += done * extent_kib
    return done


register_hypercall(HC.memory_op, hc_memory_op)

"""sched_op and set_timer_op: how a guest yields, blocks, sleeps and shuts down.

Mirrors: xen/common/sched/core.c (do_sched_op, do_set_timer_op,
vcpu_singleshot_timer_fn) and public/sched.h.  ``SCHEDOP_block`` marks the
vCPU blocked unless an event is already pending; the singleshot timer
raises VIRQ_TIMER, which wakes a blocked vCPU through the scheduler (so
credit's boost applies to a sleeper that wakes).
"""

from __future__ import annotations

from enum import IntEnum
from typing import TYPE_CHECKING, Any, SupportsInt

from xensim.hypervisor.domain import DOMID_SELF, ShutdownReason
from xensim.hypervisor.errno import EINVAL, ENOSYS, EPERM, ESRCH
from xensim.hypervisor.hypercall import HC, register_hypercall

if TYPE_CHECKING:
    from xensim.hypervisor.hypervisor import Hypervisor
    from xensim.hypervisor.vcpu import VCPU


class SCHEDOP(IntEnum):
    yield_ = 0
    block = 1
    shutdown = 2
    poll = 3
    remote_shutdown = 4
    shutdown_code = 5
    watchdog = 6
    pin_override = 7


def do_sched_op(hyp: Hypervisor, v: VCPU, cmd: int, arg: object = None) -> int:
    if cmd == SCHEDOP.yield_:
        hyp.core.vcpu_yield(v)
        return 0
    if cmd == SCHEDOP.block:
        hyp.core.vcpu_block(v)
        return 0
    if cmd == SCHEDOP.shutdown:
        reason = int(arg)  # type: ignore[call-overload]
        if reason not in ShutdownReason.__members__.values():
            return EINVAL
        hyp.domain_shutdown(v.domain, ShutdownReason(reason))
        return 0
    if cmd == SCHEDOP.remote_shutdown:
        domid: Any  # whatever the guest passed (mypyc checks nothing of an Any)
        code: Any
        domid, code = arg  # type: ignore[misc]
        if not v.domain.is_privileged:
            v.domain.denied += 1
            return EPERM
        target = hyp.domains.get(v.domain.domid if domid == DOMID_SELF else domid)
        if target is None:
            return ESRCH
        if int(code) not in ShutdownReason.__members__.values():
            return EINVAL
        hyp.domain_shutdown(target, ShutdownReason(int(code)))
        return 0
    if cmd in (SCHEDOP.poll, SCHEDOP.shutdown_code, SCHEDOP.watchdog, SCHEDOP.pin_override):
        return ENOSYS
    return EINVAL


def do_set_timer_op(hyp: Hypervisor, v: VCPU, timeout: SupportsInt) -> int:
    """Arm (``timeout`` > 0, absolute ns) or stop (0) the vCPU's singleshot timer.
    *timeout* is whatever the guest passed that ``int()`` takes (compiled, an ``int``
    annotation would refuse a float that pure Python truncates)."""
    t = int(timeout)
    timer = v.singleshot
    assert timer is not None
    if t == 0:
        timer.stop()
    elif t <= hyp.env.now:
        timer.stop()
        hyp.send_timer_event(v)
    else:
        timer.set(t)
    return 0


register_hypercall(HC.sched_op, do_sched_op)
register_hypercall(HC.set_timer_op, do_set_timer_op)

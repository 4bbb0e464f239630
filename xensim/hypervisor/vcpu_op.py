"""vcpu_op: bring a guest's own vCPUs up and down, read their runstate.

Mirrors: xen/common/domain.c (do_vcpu_op: VCPUOP_up, down, is_up,
get_runstate_info) and public/vcpu.h.  Simplified: VCPUOP_initialise is
implied (every vCPU has a context from creation); the vCPU timer ops are
left to set_timer_op.  A vCPU id outside the domain is ``-ENOENT``; any
other command is ``-ENOSYS``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import TYPE_CHECKING, Any

from xensim.hypervisor.errno import EFAULT, ENOENT, ENOSYS
from xensim.hypervisor.hc_util import is_int
from xensim.hypervisor.hypercall import HC, register_hypercall
from xensim.hypervisor.vcpu import PauseFlag

if TYPE_CHECKING:
    from xensim.hypervisor.hypervisor import Hypervisor
    from xensim.hypervisor.vcpu import VCPU


class VCPUOP(IntEnum):
    initialise = 0
    up = 1
    down = 2
    is_up = 3
    get_runstate_info = 4


@dataclass(slots=True)
class VcpuRunstateInfo:
    """struct vcpu_runstate_info: OUT fields filled by Xen."""

    state: int = 0
    state_entry_time: int = 0
    time: list[int] = field(default_factory=lambda: [0, 0, 0, 0])


def hc_vcpu_op(hyp: Hypervisor, v: VCPU, cmd: int, vcpuid: Any = None, arg: Any = None) -> int:
    d = v.domain
    if not is_int(cmd) or not is_int(vcpuid):
        return EFAULT
    if not 0 <= vcpuid < len(d.vcpus):
        return ENOENT
    t = d.vcpus[vcpuid]
    if cmd == VCPUOP.up:
        if t.pause_flags & PauseFlag.DOWN:
            t.pause_flags &= ~PauseFlag.DOWN
            hyp.core.vcpu_wake(t)
        return 0
    if cmd == VCPUOP.down:
        if not t.pause_flags & PauseFlag.DOWN:
            t.pause_flags |= PauseFlag.DOWN
            hyp.core.vcpu_sleep(t)
            if t.is_running:
                hyp.core.raise_softirq(t.processor)
        return 0
    if cmd == VCPUOP.is_up:
        return 0 if t.pause_flags & PauseFlag.DOWN else 1
    if cmd == VCPUOP.get_runstate_info:
        if type(arg) is not VcpuRunstateInfo:
            return EFAULT
        arg.state = int(t.runstate)
        arg.state_entry_time = t.state_entry_time
        arg.time = t.runstate_snapshot(hyp.env.now)
        return 0
    return ENOSYS


register_hypercall(HC.vcpu_op, hc_vcpu_op)

"""The hypercall ABI: Xen's numbers, one dispatch table, per-domain counts.

Mirrors: xen/include/public/xen.h (``__HYPERVISOR_*``) and the hypercall
table of xen/arch/x86/hypercall.c.  A handler takes ``(hyp, vcpu, *args)``
and returns ``0`` or a negative errno; it never raises into the host.  An
unknown number, or arguments of the wrong shape, get ``-ENOSYS`` /
``-EINVAL`` like a real guest passing garbage.  Subsystems register their
handlers with :func:`register_hypercall`.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import IntEnum
from typing import TYPE_CHECKING, Any

from xensim.hypervisor.errno import EINVAL, ENOSYS, EPERM

if TYPE_CHECKING:
    from xensim.hypervisor.hypervisor import Hypervisor
    from xensim.hypervisor.vcpu import VCPU


class HC(IntEnum):
    """``__HYPERVISOR_*`` numbers."""

    set_trap_table = 0
    mmu_update = 1
    set_gdt = 2
    stack_switch = 3
    set_callbacks = 4
    fpu_taskswitch = 5
    platform_op = 7
    set_debugreg = 8
    get_debugreg = 9
    update_descriptor = 10
    memory_op = 12
    multicall = 13
    update_va_mapping = 14
    set_timer_op = 15
    event_channel_op_compat = 16
    xen_version = 17
    console_io = 18
    physdev_op_compat = 19
    grant_table_op = 20
    vm_assist = 21
    update_va_mapping_otherdomain = 22
    iret = 23
    vcpu_op = 24
    set_segment_base = 25
    mmuext_op = 26
    xsm_op = 27
    nmi_op = 28
    sched_op = 29
    callback_op = 30
    xenoprof_op = 31
    event_channel_op = 32
    physdev_op = 33
    hvm_op = 34
    sysctl = 35
    domctl = 36
    kexec_op = 37
    tmem_op = 38
    argo_op = 39
    xenpmu_op = 40
    dm_op = 41
    hypfs_op = 42


Handler = Callable[..., int]

_TABLE: dict[int, tuple[Handler, bool]] = {}
_NAMES: dict[int, str] = {int(h): h.name for h in HC}


def register_hypercall(nr: HC, handler: Handler, *, privileged: bool = False) -> None:
    """Install *handler* for hypercall *nr*; a privileged one refuses domUs with -EPERM."""
    _TABLE[int(nr)] = (handler, privileged)


def do_hypercall(hyp: Hypervisor, v: VCPU, nr: int, args: tuple[Any, ...]) -> int:
    """Dispatch one hypercall from *v*; always returns an int, never raises."""
    d = v.domain
    try:
        name = _NAMES[nr]  # NOTE: for speed (see benchmarks/): HC(nr).name, no enum call
    except (KeyError, TypeError):
        name = f"#{nr}"
    counts = d.hypercall_counts
    counts[name] = counts.get(name, 0) + 1
    entry = _TABLE.get(nr)
    if entry is None:
        return ENOSYS
    handler, privileged = entry
    if privileged and not d.is_privileged:
        d.denied += 1
        return EPERM
    try:
        rc = handler(hyp, v, *args)
    except (TypeError, ValueError, KeyError, IndexError, AttributeError, OverflowError):
        # A guest passed arguments of the wrong shape: Xen would fail the
        # copy_from_guest or the range check.  The host keeps running.
        return EINVAL
    return int(rc)

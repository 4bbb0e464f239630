"""Importing this module registers the PV hypercall ABI beyond sched_op.

One small module per hypercall family, as Xen keeps one file per
subsystem: :mod:`hc_evtchn` (event_channel_op, grant_table_op),
:mod:`memory_op`, :mod:`vcpu_op`, :mod:`console_io` (console_io,
xen_version), :mod:`domctl` (domctl, sysctl), :mod:`mmu_op` (mmu_update,
update_va_mapping).
"""

from xensim.hypervisor import console_io, domctl, hc_evtchn, memory_op, mmu_op, vcpu_op

__all__ = ["console_io", "domctl", "hc_evtchn", "memory_op", "mmu_op", "vcpu_op"]

"""Scheduling: a generic core and policies behind one small ops interface.

Mirrors: xen/common/sched/core.c (generic) and private.h (``struct
sched_ops``).  Importing this package registers Xen's policies by name.
"""

from xensim.hypervisor.sched import credit as _credit  # noqa: F401  (registers "credit")
from xensim.hypervisor.sched.ops import (
    Scheduler,
    get_scheduler_class,
    register_scheduler,
    scheduler_names,
)

__all__ = ["Scheduler", "get_scheduler_class", "register_scheduler", "scheduler_names"]

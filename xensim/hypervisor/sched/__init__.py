"""Scheduling: a generic core and policies behind one small ops interface.

Mirrors: xen/common/sched/core.c (generic) and private.h (``struct
sched_ops``).  Importing this package registers Xen's policies, and
Linux's CFS, by name.
"""

from xensim.hypervisor.sched import cfs as _cfs  # noqa: F401  (registers "cfs")
from xensim.hypervisor.sched import credit as _credit  # noqa: F401  (registers "credit")
from xensim.hypervisor.sched import credit2 as _credit2  # noqa: F401  (registers "credit2")
from xensim.hypervisor.sched import null as _null  # noqa: F401  (registers "null")
from xensim.hypervisor.sched import rt as _rt  # noqa: F401  (registers "rtds")
from xensim.hypervisor.sched.ops import (
    Scheduler,
    get_scheduler_class,
    register_scheduler,
    scheduler_names,
)

__all__ = ["Scheduler", "get_scheduler_class", "register_scheduler", "scheduler_names"]

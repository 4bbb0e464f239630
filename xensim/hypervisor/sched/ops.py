"""The scheduler ops interface and the registry of policies by name.

Mirrors: xen/common/sched/private.h (``struct sched_ops``, REGISTER_SCHEDULER).
A policy subclasses :class:`Scheduler`, overrides the hooks it needs and
registers itself with :func:`register_scheduler`.  The core calls only these
hooks, so a researcher's policy runs against the full host unchanged.

Required hooks (as ``scheduler_init()`` checks in Xen): :meth:`do_schedule`,
:meth:`pick_cpu`, :meth:`insert`, :meth:`remove`, :meth:`wake`, :meth:`sleep`.
The rest have harmless defaults.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, ClassVar

from xensim.compiled import mypyc_attr

if TYPE_CHECKING:
    from xensim.hypervisor.cpupool import Cpupool
    from xensim.hypervisor.domain import Domain
    from xensim.hypervisor.pcpu import PCPU
    from xensim.hypervisor.sched.core import SchedCore
    from xensim.hypervisor.time import SimTime
    from xensim.hypervisor.vcpu import VCPU


class SchedParamError(ValueError):
    """A scheduler parameter outside the range the policy accepts (xl gets -EINVAL)."""


@mypyc_attr(allow_interpreted_subclasses=True)  # policies in Python subclass it
class Scheduler:
    """Base class of every policy; one instance per cpupool."""

    name: ClassVar[str] = ""
    """Xen's ``opt_name`` (``sched=`` boot option, xl's scheduler names)."""
    long_name: ClassVar[str] = ""
    sched_id: ClassVar[int] = -1
    """XEN_SCHEDULER_* (credit 5, credit2 6, arinc653 7, rtds 8, null 9)."""

    def __init__(self, core: SchedCore, pool: Cpupool, **params: Any) -> None:
        self.core = core
        self.pool = pool
        if params:
            self.adjust_global(params)

    # --- life cycle of pCPUs, domains and vCPUs -------------------------------
    def init_pdata(self, pcpu: PCPU) -> None:
        """A pCPU joins this pool (boot or ``cpupool-cpu-add``)."""

    def deinit_pdata(self, pcpu: PCPU) -> None:
        """A pCPU leaves this pool; it runs only its idle vCPU by now."""

    def alloc_domdata(self, dom: Domain) -> Any:
        return None

    def free_domdata(self, dom: Domain) -> None:
        """The domain leaves this pool (destroyed or moved)."""

    def alloc_vdata(self, vcpu: VCPU) -> Any:
        return None

    # --- required hooks -------------------------------------------------------
    def insert(self, vcpu: VCPU) -> None:
        raise NotImplementedError

    def remove(self, vcpu: VCPU) -> None:
        raise NotImplementedError

    def sleep(self, vcpu: VCPU) -> None:
        """*vcpu* stopped being runnable; if it runs, its pCPU must reschedule."""
        raise NotImplementedError

    def wake(self, vcpu: VCPU) -> None:
        """*vcpu* became runnable: queue it and tickle a pCPU."""
        raise NotImplementedError

    def do_schedule(self, pcpu: PCPU, now: SimTime) -> tuple[VCPU, SimTime]:
        """Choose what *pcpu* runs next and for how long (``-1``: no limit).

        ``pcpu.curr`` is the vCPU that ran until now (possibly no longer runnable).
        """
        raise NotImplementedError

    def pick_cpu(self, vcpu: VCPU) -> PCPU:
        """Where should *vcpu* run (Xen's ``pick_resource``)?"""
        raise NotImplementedError

    # --- optional hooks -------------------------------------------------------
    def yield_(self, vcpu: VCPU) -> None:
        """SCHEDOP_yield: let others of equal priority run first."""

    def adjust(self, dom: Domain, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """Get (``params is None``) or set per-domain parameters; returns them."""
        return {}

    def adjust_vcpu(self, vcpu: VCPU, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """Per-vCPU parameters (RTDS); most policies have none."""
        raise SchedParamError(f"the {self.name} scheduler has no per-vCPU parameters")

    def adjust_global(self, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """Get or set the pool-wide parameters (``xl sched-* -s``)."""
        if params:
            raise SchedParamError(f"the {self.name} scheduler has no global parameters "
                                  f"(got {', '.join(params)})")
        return {}

    def adjust_affinity(self, vcpu: VCPU) -> None:
        """*vcpu*'s hard or soft affinity changed (already stored on it)."""

    def dump(self) -> str:
        """Text for ``xl debug-keys r`` (the run queues and policy state)."""
        return f"Scheduler: {self.long_name or self.name}\n"


_REGISTRY: dict[str, type[Scheduler]] = {}


def register_scheduler(cls: type[Scheduler]) -> type[Scheduler]:
    """Class decorator: make a policy available by its :attr:`~Scheduler.name`."""
    for hook in ("do_schedule", "pick_cpu", "insert", "remove", "wake", "sleep"):
        if getattr(cls, hook) is getattr(Scheduler, hook):
            raise TypeError(f"scheduler {cls.__name__} lacks the mandatory hook {hook}()")
    if not cls.name:
        raise TypeError(f"scheduler {cls.__name__} must set a name")
    _REGISTRY[cls.name] = cls
    return cls


def scheduler_names() -> list[str]:
    return sorted(_REGISTRY)


def _load_module(where: str) -> ModuleType:
    """An importable module name, or a ``.py`` file path (Mininet's ``--custom`` style)."""
    if where.endswith(".py"):
        path = Path(where)
        if not path.is_file():
            raise ImportError(f"no such file {where}")
        spec = importlib.util.spec_from_file_location(f"xensim_custom_{path.stem}", path)
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot import {where}")
        module = sys.modules.get(spec.name)
        if module is None or getattr(module, "__file__", None) != str(path):
            module = importlib.util.module_from_spec(spec)
            sys.modules[spec.name] = module
            spec.loader.exec_module(module)
        return module
    return importlib.import_module(where)


def get_scheduler_class(name: str) -> type[Scheduler]:
    """A registered name (``credit``), ``package.module:Class`` or ``path/file.py:Class``."""
    if name in _REGISTRY:
        return _REGISTRY[name]
    if ":" in name:
        mod_name, _, cls_name = name.rpartition(":")
        try:
            cls = getattr(_load_module(mod_name), cls_name)
        except (ImportError, AttributeError, SyntaxError) as exc:
            raise ValueError(f"cannot load scheduler {name!r}: {exc}") from None
        if not (isinstance(cls, type) and issubclass(cls, Scheduler)):
            raise ValueError(f"{name!r} is not a subclass of xensim Scheduler")
        if _REGISTRY.get(cls.name) is not cls:
            register_scheduler(cls)
        return cls
    raise ValueError(f"unknown scheduler {name!r}; known: {', '.join(scheduler_names())}, "
                     "or 'package.module:Class' or 'path/file.py:Class'")

"""Which modules ``make fast`` compiles with mypyc, and which of them run compiled here.

The package is pure Python; ``make fast`` builds a second environment
(``.venv-fast``) in which the modules below, the ones on every scheduling
decision's path and the guest vCPU's reaction to it (benchmarks/README.md has
the profile and what each module gave), are C extensions built by mypyc from
the same source.  Results are the same to the
nanosecond either way: CI runs the tests and ``benchmarks/same_results.py``
both ways.  ``setup.py`` reads :data:`MYPYC_MODULES` from this file, so it
imports nothing but the standard library (and ``mypy_extensions`` when present).
"""

from __future__ import annotations

import importlib

try:
    from mypy_extensions import mypyc_attr
except ImportError:  # the pure-Python package does without mypy_extensions
    def mypyc_attr(*_args: object, **_attrs: object):  # type: ignore[misc,no-untyped-def]
        """A no-op: mypyc reads the decorator when it compiles (``make fast``)."""
        return lambda cls: cls

MYPYC_MODULES = (
    "xensim.hypervisor.timer",
    "xensim.hypervisor.vcpu",
    "xensim.hypervisor.pcpu",
    "xensim.hypervisor.hypercall",
    "xensim.hypervisor.sched.affinity",
    "xensim.hypervisor.sched.ops",
    "xensim.hypervisor.sched.core",
    "xensim.hypervisor.sched.credit",
    "xensim.hypervisor.sched.credit_runq",
    "xensim.hypervisor.sched_op",
    "xensim.hypervisor.domain",
    "xensim.hypervisor.hypervisor",
    "xensim.domains.guest.guest_vcpu",
    "xensim.domains.guest.workloads",
)
"""Compiled together; a class here cannot be patched at run time (tests that spy on one
of its methods skip when compiled), and only :class:`~xensim.hypervisor.sched.ops.Scheduler`
may be subclassed by a policy written in Python.  Workloads written in Python (generators
of guest actions) run unchanged under the compiled vCPU driver."""


def compiled_modules() -> list[str]:
    """The modules of :data:`MYPYC_MODULES` that were imported from a C extension."""
    return [name for name in MYPYC_MODULES
            if not str(importlib.import_module(name).__file__).endswith(".py")]


def build_name() -> str:
    """``pure Python`` or ``compiled (mypyc): N of M modules``, for benchmark output."""
    done = compiled_modules()
    return f"compiled (mypyc): {len(done)} of {len(MYPYC_MODULES)} modules" if done \
        else "pure Python"

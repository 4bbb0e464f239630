"""One row per domain with the figures ``xl list`` and ``xl top`` print, plus its scheduler
parameters: what a notebook's domain table and the live web page both show.

Kept apart from the xl commands' own formatting so that the table a student sees in a
notebook, on the projector and in a terminal cannot drift apart: the state letters are
``xl list``'s (:func:`~xensim.toolstack.xl.xl_info.state_letters`) and the CPU time is the
vCPUs' time in RUNSTATE_running, as both commands count it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from xensim.toolstack.libxl import LibxlError
from xensim.toolstack.xl.xl_info import cpu_time_ns, online_vcpus, state_letters

if TYPE_CHECKING:
    from xensim.host import Host
    from xensim.hypervisor.domain import Domain


def sched_summary(host: Host, d: Domain) -> dict[str, Any]:
    """The domain's parameters under its pool's policy (``weight``/``cap`` for credit,
    ``period``/``budget`` for RTDS...), or ``{}`` for a domain the policy cannot report."""
    try:
        return dict(host.toolstack.sched_params(d))
    except LibxlError:
        return {}


def domain_row(host: Host, d: Domain) -> dict[str, Any]:
    now = host.env.now
    return {
        "domid": d.domid, "name": d.name, "mem_mib": d.memory_kib // 1024,
        "vcpus": online_vcpus(d), "state": state_letters(d),
        "cpu_ns": cpu_time_ns(d, now), "pool": d.pool.name if d.pool else "",
        "scheduler": d.pool.sched.name if d.pool else "",
        "sched": sched_summary(host, d), "workload": d.info.get("workload", ""),
    }


def domain_rows(host: Host) -> list[dict[str, Any]]:
    """Every live domain, in domid order as ``xl list`` prints them."""
    return [domain_row(host, d) for d in sorted(host.hv.domains.values(), key=lambda d: d.domid)]

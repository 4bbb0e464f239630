"""domctl and sysctl: the toolstack's privileged control hypercalls.

Mirrors: xen/common/domctl.c (do_domctl: getdomaininfo, pausedomain,
unpausedomain, max_mem, scheduler_op) and xen/common/sysctl.c (do_sysctl:
physinfo, sched_id, getdomaininfolist); public/domctl.h, public/sysctl.h.
Both are registered privileged, so a domU gets ``-EPERM`` before its op is
even read, and its ``denied`` count goes up.  Simplified: an op is a small
dataclass with ``cmd``, ``domain`` and a dict ``u`` standing for the union
(IN fields read from it, OUT fields written into it); other sub-ops are
``-ENOSYS``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import TYPE_CHECKING, Any

from xensim.hypervisor.console_io import dmesg_line
from xensim.hypervisor.errno import EFAULT, EINVAL, ENOSYS, ESRCH
from xensim.hypervisor.hc_util import is_int
from xensim.hypervisor.hypercall import HC, register_hypercall
from xensim.hypervisor.sched.ops import SchedParamError
from xensim.hypervisor.vcpu import PauseFlag, RunState

if TYPE_CHECKING:
    from xensim.hypervisor.domain import Domain
    from xensim.hypervisor.hypervisor import Hypervisor
    from xensim.hypervisor.vcpu import VCPU


class DOMCTL(IntEnum):
    createdomain = 1
    destroydomain = 2
    pausedomain = 3
    unpausedomain = 4
    getdomaininfo = 5
    max_mem = 11
    scheduler_op = 16


class SYSCTL(IntEnum):
    readconsole = 1
    physinfo = 3
    sched_id = 4
    getdomaininfolist = 6


@dataclass(slots=True)
class Domctl:
    cmd: int
    domain: int
    u: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class Sysctl:
    cmd: int
    u: dict[str, Any] = field(default_factory=dict)


# XEN_DOMINF_* flags
DOMINF_dying, DOMINF_shutdown, DOMINF_paused, DOMINF_blocked, DOMINF_running = 1, 2, 4, 8, 32


def domain_info(hyp: Hypervisor, d: Domain) -> dict[str, Any]:
    """``getdomaininfo``: what ``xl list`` is built from."""
    now = hyp.env.now
    flags = (DOMINF_dying if d.is_dying else 0) | (DOMINF_shutdown if d.is_shutdown else 0)
    flags |= DOMINF_paused if d.pause_count else 0
    if any(v.is_running for v in d.vcpus):
        flags |= DOMINF_running
    elif all(v.runstate == RunState.BLOCKED for v in d.vcpus if v.runstate != RunState.OFFLINE):
        flags |= DOMINF_blocked
    return {
        "domid": d.domid, "flags": flags, "tot_pages": d.memory_kib // 4,
        "max_pages": d.max_memory_kib // 4,
        "nr_online_vcpus": sum(1 for v in d.vcpus if not v.pause_flags & PauseFlag.DOWN),
        "max_vcpu_id": len(d.vcpus) - 1, "cpupool": d.pool.pool_id,
        "cpu_time": sum(v.runstate_snapshot(now)[RunState.RUNNING] for v in d.vcpus),
        "handle": d.handle,
    }


def hc_domctl(hyp: Hypervisor, v: VCPU, op: Any = None) -> int:
    if type(op) is not Domctl or not is_int(op.cmd) or not is_int(op.domain) \
            or type(op.u) is not dict:
        return EFAULT
    if op.cmd == DOMCTL.getdomaininfo:  # the first domain with id >= domain
        ids = sorted(i for i in hyp.domains if i >= op.domain)
        if not ids:
            return ESRCH
        op.u.update(domain_info(hyp, hyp.domains[ids[0]]))
        return 0
    d = hyp.domains.get(op.domain)
    if op.cmd not in DOMCTL._value2member_map_ or op.cmd in (DOMCTL.createdomain,
                                                             DOMCTL.destroydomain):
        return ENOSYS  # the toolstack builds and kills domains through libxl here
    if d is None:
        return ESRCH
    if op.cmd == DOMCTL.pausedomain:
        if d is v.domain:
            return EINVAL
        hyp.core.domain_pause(d)
        return 0
    if op.cmd == DOMCTL.unpausedomain:
        if d.pause_count == 0 or d.is_dying:
            return EINVAL
        hyp.core.domain_unpause(d)
        return 0
    if op.cmd == DOMCTL.max_mem:
        kib = op.u.get("max_memkb")
        if not is_int(kib) or kib < 0:
            return EINVAL
        d.max_memory_kib = kib
        return 0
    # scheduler_op: u = {"sched_id": id, "cmd": "getinfo"|"putinfo", "params": {...}}
    sched = d.pool.sched
    if op.u.get("sched_id", sched.sched_id) != sched.sched_id:
        return EINVAL
    params = op.u.get("params") if op.u.get("cmd") == "putinfo" else None
    if params is not None and type(params) is not dict:
        return EFAULT
    try:
        op.u["params"] = sched.adjust(d, params)
    except SchedParamError:
        return EINVAL
    return 0


def hc_sysctl(hyp: Hypervisor, v: VCPU, op: Any = None) -> int:
    if type(op) is not Sysctl or not is_int(op.cmd) or type(op.u) is not dict:
        return EFAULT
    if op.cmd == SYSCTL.physinfo:
        op.u.update(nr_cpus=len(hyp.pcpus), total_pages=hyp.total_memory_kib // 4,
                    free_pages=hyp.free_memory_kib // 4)
        return 0
    if op.cmd == SYSCTL.sched_id:
        op.u["sched_id"] = hyp.pools[0].sched.sched_id
        return 0
    if op.cmd == SYSCTL.getdomaininfolist:
        first = op.u.get("first_domain", 0)
        if not is_int(first):
            return EFAULT
        op.u["domains"] = [domain_info(hyp, hyp.domains[i])
                           for i in sorted(hyp.domains) if i >= first]
        return 0
    if op.cmd == SYSCTL.readconsole:
        op.u["text"] = "".join(dmesg_line(m) + "\n" for _, m in hyp.dmesg)
        return 0
    return ENOSYS


register_hypercall(HC.domctl, hc_domctl, privileged=True)
register_hypercall(HC.sysctl, hc_sysctl, privileged=True)

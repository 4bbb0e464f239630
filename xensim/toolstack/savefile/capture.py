"""A domain's state as plain data: what a save file, a migration or a checkpoint carries.

Mirrors what libxc's save stream and libxl's records hold for a guest
(tools/libs/guest/xg_sr_save*.c: vCPU contexts, memory, shared info;
libxl_stream_write.c: xenstore data, emulator context), in xensim's terms:
the vCPUs' runstate times (so CPU time survives), affinity and online
state; the scheduler's parameters; memory accounting; the event channels
and grants in use; the domain's xenstore home; its devices; the workload's
counters; its console so far.  Everything is JSON-able with sorted keys, so
the same state gives the same bytes.

Event channels and grants are recorded as they were (``xl save`` leaves a
record; a test can compare), not re-imposed: on restore the guest's kernel
binds its ports and its frontends reconnect and grant again, as Linux does
when it resumes (``xen_irq_resume``, xenbus ``resume`` on each frontend).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from xensim.domains.dom0.xenstore import XsError
from xensim.hypervisor.evtchn.event_channel import ECS
from xensim.hypervisor.sched.ops import SchedParamError
from xensim.hypervisor.vcpu import PauseFlag

if TYPE_CHECKING:
    from xensim.hypervisor.domain import Domain
    from xensim.toolstack.libxl import Libxl

STATE_VERSION = 1
"""Bumped when the meaning of a field changes; a reader refuses a newer one."""


def capture_domain(libxl: Libxl, d: Domain) -> dict[str, Any]:
    """*d*'s state now (the caller pauses it first, as libxl suspends it)."""
    hyp = libxl.hyp
    now = hyp.env.now
    return {
        "version": STATE_VERSION,
        "domid": d.domid,
        "name": d.name,
        "uuid": d.handle,
        "guest_type": d.guest_type,
        "saved_at_ns": now,
        "sched": _sched(libxl, d),
        "vcpus": [_vcpu(v, now) for v in d.vcpus],
        "memory": {
            "memory_kib": d.memory_kib,
            "max_memory_kib": d.max_memory_kib,
            "target_kib": libxl._memory_node(d, "target", d.memory_kib),
        },
        "event_channels": _event_channels(d),
        "grants": _grants(libxl, d),
        "xenstore": xenstore_home(libxl, d.domid),
        "devices": {kind: {str(devid): keys for devid, keys in
                           libxl.device_list(d, kind).items()} for kind in ("vif", "vbd")},
        "workload": {"spec": d.info.get("workload", "idle"),
                     "stats": [dict(s) for s in libxl.guest_stats.get(d.domid, [])]},
        "counters": {"hypercalls": dict(d.hypercall_counts),
                     "vmexits": dict(d.vmexit_counts), "denied": d.denied},
        "console": "".join(hyp.consoles.get(d.domid, [])),
    }


def _sched(libxl: Libxl, d: Domain) -> dict[str, Any]:
    sched = d.pool.sched
    out: dict[str, Any] = {"scheduler": sched.name, "pool": d.pool.name,
                           "params": _plain(sched.adjust(d, None))}
    try:
        out["vcpu_params"] = [_plain(sched.adjust_vcpu(v, None)) for v in d.vcpus]
    except SchedParamError:
        pass  # only RTDS has per-vCPU parameters
    return out


def _plain(params: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in params.items() if isinstance(v, (int, float, str, bool))}


def _vcpu(v: Any, now: int) -> dict[str, Any]:
    return {
        "vcpu_id": v.vcpu_id,
        "online": not v.pause_flags & PauseFlag.DOWN,
        "runstate_ns": v.runstate_snapshot(now),
        "hard_affinity": sorted(v.hard_affinity),
        "soft_affinity": None if v.soft_affinity is None else sorted(v.soft_affinity),
        "nr_switches": v.nr_switches,
        "nr_migrations": v.nr_migrations,
        "kind_ns": dict(v.kind_ns),
    }


def _event_channels(d: Domain) -> list[dict[str, Any]]:
    de = d.evtchn
    if de is None:
        return []
    return [{"port": c.port, "state": ECS(c.state).name, "vcpu": c.notify_vcpu_id,
             "remote_domid": c.remote_domid, "remote_port": c.remote_port, "virq": c.virq}
            for c in de.in_use()]


def _grants(libxl: Libxl, d: Domain) -> dict[str, Any]:
    ctx = libxl.hyp.gnttab
    if ctx is None:
        return {}
    gt = ctx.tables.get(d.domid)
    if gt is None:
        return {}
    in_use = [ref for ref, e in enumerate(gt.shared) if e.flags]
    return {"nr_grant_frames": gt.nr_grant_frames, "in_use": len(in_use),
            "mapped_by_others": len(gt.pinned_refs()), "maptrack_in_use": len(gt.live_mappings())}


def xenstore_home(libxl: Libxl, domid: int) -> dict[str, str]:
    """Every node under ``/local/domain/<domid>`` by relative path, as dom0 reads it."""
    if libxl.io.xsd is None:
        return {}
    store, top = libxl.io.store, f"/local/domain/{domid}"
    out: dict[str, str] = {}

    def walk(path: str, rel: str) -> None:
        try:
            value = store.read(0, path)
            children = store.directory(0, path)
        except XsError:
            return
        if rel:
            out[rel] = value
        for child in sorted(children):
            walk(f"{path}/{child}", f"{rel}/{child}" if rel else child)

    walk(top, "")
    return out

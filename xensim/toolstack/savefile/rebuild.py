"""Rebuild a domain from its saved state, on any host.

Mirrors: libxl_create.c (``libxl_domain_create_restore``: the domain is
built from the saved config, paused, its devices added again from the
config; then the saved state is loaded and it is unpaused unless ``-p``).
In xensim terms: :meth:`Libxl.domain_create` builds it paused from the
config, then the saved state is laid over it: uuid, vCPU runstate times
(so ``xl list`` shows the same CPU time), online vCPUs and affinity (cut to
the pCPUs this host has), scheduler parameters (when the pool runs the same
policy), memory target, the guest's own xenstore nodes, the workload's
counters, hypercall/VM-exit counts and the console so far.

Workload generators cannot be saved: the workload is re-created from the
config and starts its program from the beginning, with its counters
(jobs done, deadline misses, I/O bytes...) carried over, so totals keep
counting; a periodic task's phase restarts at the restore time.  The guest
kernel reconnects its event channels and frontends as Linux does on resume.

Nothing is half-built: the state is checked before anything is created,
and a failure while laying it over destroys the new domain again.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from xensim.domains.dom0.xenstore import XsError
from xensim.hypervisor.sched.ops import SchedParamError
from xensim.toolstack.libxl_error import LibxlError
from xensim.toolstack.savefile.capture import STATE_VERSION
from xensim.toolstack.savefile.header import SaveFileError

if TYPE_CHECKING:
    from xensim.hypervisor.domain import Domain
    from xensim.toolstack.domconfig import DomainConfig
    from xensim.toolstack.libxl import Libxl

TOOLSTACK_NODES = ("device", "memory", "console", "control", "name", "domid", "vm",
                   "cpu", "store", "image", "serial", "device-model")
"""Top-level nodes of a domain's home that the toolstack writes at create time; the rest
(``data/``, ``attr/``...) is the guest's own and comes back from the save file."""


def check_state(state: Any) -> None:
    """Refuse state this xensim cannot rebuild, before anything is created."""
    if not isinstance(state, dict) or not isinstance(state.get("vcpus"), list):
        raise SaveFileError("libxl: error: libxl_stream_read.c: xensim domain record "
                            "is malformed\nlibxl: error: libxl_create.c: cannot (re-)build "
                            "domain: -3")
    if state.get("version") != STATE_VERSION:
        raise SaveFileError("libxl: error: libxl_stream_read.c: xensim domain record "
                            f"version {state.get('version')!r}, this xensim reads "
                            f"{STATE_VERSION}\nlibxl: error: libxl_create.c: cannot "
                            "(re-)build domain: -3")


def rebuild_domain(libxl: Libxl, cfg: DomainConfig, state: dict[str, Any], *,
                   paused: bool = False) -> Domain:
    """Create the domain from *cfg* and lay *state* over it; unpause unless *paused*."""
    check_state(state)
    if state.get("uuid"):  # libxl's c_info.uuid: the domain keeps its identity
        cfg = replace(cfg, uuid=state["uuid"])
    d = libxl.domain_create(cfg, paused=True)
    try:
        _apply(libxl, d, state)
    except (LibxlError, KeyError, TypeError, ValueError) as exc:
        libxl.domain_destroy(d)
        if isinstance(exc, LibxlError):
            raise
        raise SaveFileError(f"libxl: error: libxl_stream_read.c: xensim domain record: "
                            f"{exc!r}\nlibxl: error: libxl_create.c: cannot (re-)build "
                            "domain: -3") from None
    libxl.hyp.log(f"Domain {d.domid} ({d.name}) restored from a save of domain "
                  f"{state['domid']}")
    if not paused:
        libxl.hyp.core.domain_unpause(d)
    return d


def _apply(libxl: Libxl, d: Domain, state: dict[str, Any]) -> None:
    hyp = libxl.hyp
    now = hyp.env.now
    if state.get("uuid"):
        d.handle = state["uuid"]
    vcpus = state["vcpus"]
    online = sum(1 for v in vcpus if v["online"])
    if 1 <= online <= d.max_vcpus:
        libxl.set_vcpuonline(d, online)
    pool_cpus = d.pool.cpu_ids
    for v, saved in zip(d.vcpus, vcpus, strict=False):  # maxvcpus may differ (CONFIG)
        v.runstate_time = [int(x) for x in saved["runstate_ns"]]
        v.state_entry_time = now
        v.nr_switches = int(saved["nr_switches"])
        v.nr_migrations = int(saved["nr_migrations"])
        v.kind_ns = {str(k): int(n) for k, n in saved["kind_ns"].items()}
        hard = frozenset(saved["hard_affinity"]) & pool_cpus
        soft = saved["soft_affinity"]
        hyp.core.set_affinity(v, hard or None,
                              None if soft is None else frozenset(soft) & pool_cpus)
    _apply_sched(d, state["sched"])
    mem = state["memory"]
    target = int(mem["target_kib"])
    if target <= libxl._memory_node(d, "static-max", d.max_memory_kib):
        if target != d.memory_kib:
            libxl.set_memory_target(d, target)
        d.max_memory_kib = int(mem["max_memory_kib"])
    # else: a config given to xl restore allows less memory; the config decides
    _apply_xenstore(libxl, d, state.get("xenstore", {}))
    stats = libxl.guest_stats.get(d.domid, [])
    for live, saved in zip(stats, state["workload"]["stats"], strict=False):
        live.update(saved)
    counters = state.get("counters", {})
    for key, n in counters.get("hypercalls", {}).items():
        d.hypercall_counts[key] = d.hypercall_counts.get(key, 0) + int(n)
    for key, n in counters.get("vmexits", {}).items():
        d.vmexit_counts[key] = d.vmexit_counts.get(key, 0) + int(n)
    d.denied += int(counters.get("denied", 0))
    if state.get("console"):
        hyp.consoles[d.domid] = [state["console"]] + hyp.consoles.get(d.domid, [])


def _apply_sched(d: Domain, saved: dict[str, Any]) -> None:
    """The saved parameters, when this pool runs the policy they belong to (a restore
    into a pool with another scheduler keeps that pool's defaults, as Xen does)."""
    sched = d.pool.sched
    if saved.get("scheduler") != sched.name:
        return
    try:
        if saved.get("params"):
            sched.adjust(d, dict(saved["params"]))
        for v, params in zip(d.vcpus, saved.get("vcpu_params", []), strict=False):
            sched.adjust_vcpu(v, dict(params))
    except SchedParamError as exc:
        raise LibxlError(f"{d.name}: saved scheduler parameters: {exc}") from None


def _apply_xenstore(libxl: Libxl, d: Domain, nodes: dict[str, str]) -> None:
    if libxl.io.xsd is None:
        return
    store, top = libxl.io.store, f"/local/domain/{d.domid}"
    for rel, value in sorted(nodes.items()):
        if rel.split("/", 1)[0] in TOOLSTACK_NODES:
            continue
        path = f"{top}/{rel}"
        try:
            store.read(0, path)
            continue  # the rebuild wrote it already
        except XsError:
            pass
        try:
            store.write(d.domid, path, value)  # the guest's node: the guest owns it
        except XsError:
            store.write(0, path, value)
    libxl.io.xsd.flush()

"""Run one mode and reduce it to throughput, latency, the CPU-time breakdown and counts.

The guest under study runs with its workload on a host of *pcpus*
(dom0 has one vCPU per pCPU, as at boot), optionally beside CPU hogs and
with dom0's weight changed, so the same command shows what a starved dom0
does to each mode.  A warm-up (a fifth of the run, at least 50 ms: device
negotiation, unplug) is dropped before measuring.

The breakdown adds up every vCPU's time by kind (see ``VCPU.kind_ns``):

- ``guest``: the studied guest's own code and kernel (kinds guest, kernel);
- ``hypervisor``: Xen's time on behalf of the guest, dom0 and a stub
  domain: hypercalls, VM exits and their emulation, context switches;
- ``dom0``: dom0's kernel and backends (netback, blkback, xenstored, the
  physical drivers);
- ``device_model``: qemu, in dom0 or in the stub domain.

On the kvm and qemu-tcg kinds the same columns hold KVM (or TCG's
helpers), the host's tasks other than QEMU, and QEMU: see
:mod:`xensim.compare.kinds`.

Counts are over the measured window: hypercalls (by every domain
involved), VM exits (the guest's), event-channel sends (hypercall sends
plus Xen's ioreq notifications and qemu's answers) and grant operations
(maps, unmaps and copies).
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from xensim.compare.kinds import KINDS
from xensim.compare.modes import HOST_DEVICES, MODES
from xensim.host import Host, xl_value
from xensim.toolstack.domconfig import DomainConfig

if TYPE_CHECKING:
    from xensim.hypervisor.domain import Domain

GUEST = "student"
HYPERVISOR_KINDS = ("hypervisor", "vmexit", "context_switch")
GUEST_KINDS = ("guest", "kernel")


@dataclass
class Setup:
    """Everything about a comparison run except the mode."""

    workload: str
    seconds: float = 0.5
    pcpus: int = 2
    seed: int = 0
    hogs: int = 0
    dom0_weight: int | None = None
    guest_keys: dict[str, Any] = field(default_factory=dict)
    """Further xl.cfg keys for the studied guest (memory, vcpus, vif...)."""
    config_file: str | None = None
    """An xl.cfg file the guest is built from (the keys above and the mode override it)."""
    costs: dict[str, int] | None = None


def _involved(host: Host, guest: Domain) -> list[Domain]:
    doms = [guest, host.dom0]
    stub = guest.info.get("stubdom")
    if stub is not None:
        doms.append(stub)
    return doms


def _counts(host: Host, doms: list[Domain]) -> dict[str, int]:
    hv = host.hv
    guest = doms[0]
    dm = guest.info.get("device_model")
    ev, gt = hv.evtchn.counters, hv.gnttab.counters
    return {
        "hypercalls": sum(sum(d.hypercall_counts.values()) for d in doms),
        "vmexits": sum(guest.vmexit_counts.values()),
        "evtchn_sends": sum(ev[d.domid]["sends"] for d in doms)
                        + (dm.notifications if dm is not None else 0),
        "grant_ops": sum(gt[d.domid][k] for d in doms for k in ("maps", "unmaps", "copies")),
    }


def _exits_by_reason(guest: Domain) -> dict[str, int]:
    return dict(guest.vmexit_counts)


def _delta(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    return {k: v - before.get(k, 0) for k, v in after.items()}


def _breakdown(doms: list[Domain]) -> dict[str, int]:
    guest, dom0, *stub = doms
    out = dict.fromkeys(("guest", "hypervisor", "dom0", "device_model"), 0)
    for d in doms:
        for v in d.vcpus:
            for kind, ns in v.kind_ns.items():
                if kind == "qemu":
                    out["device_model"] += ns
                elif kind in HYPERVISOR_KINDS:
                    out["hypervisor"] += ns
                elif d is guest and kind in GUEST_KINDS:
                    out["guest"] += ns
                elif d is dom0:
                    out["dom0"] += ns
                elif d in stub:
                    out["device_model"] += ns
    return out


def build(setup: Setup, mode: str, hypervisor: str = "xen",
          mode_keys: dict[str, Any] | None = None) -> tuple[Host, Domain]:
    """The host and the studied guest: *mode* of :data:`MODES`, or a kind's
    *hypervisor* and *mode_keys* (:data:`~xensim.compare.kinds.KINDS`)."""
    host = Host(pcpus=setup.pcpus, seed=setup.seed, costs=setup.costs, hypervisor=hypervisor,
                **HOST_DEVICES.get(mode, {}))
    if setup.dom0_weight is not None:
        host.toolstack.sched_params(host.dom0, {"weight": setup.dom0_weight})
    mode_keys = MODES[mode] if mode_keys is None else mode_keys
    keys = {**setup.guest_keys, **mode_keys, "workload": setup.workload}
    if setup.config_file is not None:
        overrides = [f"{k}={xl_value(v)}" for k, v in {**keys, "name": GUEST}.items()]
        guest = host.create_from_config(DomainConfig.from_file(setup.config_file, overrides))
    else:
        guest = host.create(GUEST, **keys)
    hog_type = "hvm" if host.hv.kind.hosted else "pv"
    for i in range(setup.hogs):
        host.create(f"hog{i}", workload="cpu", type=hog_type)
    return host, guest


def measure(setup: Setup, mode: str) -> dict[str, Any]:
    """Run *setup* under *mode*; the JSON shape of ``modes.<mode>``."""
    return _measure(setup, *build(setup, mode))


def measure_kind(setup: Setup, kind: str) -> dict[str, Any]:
    """Run *setup* on host kind *kind*; the same shape, under ``kinds.<kind>``."""
    k = KINDS[kind]
    return _measure(setup, *build(setup, kind, k.hypervisor, k.keys))


def _measure(setup: Setup, host: Host, guest: Domain) -> dict[str, Any]:
    total_ms = setup.seconds * 1000
    warm_ms = max(50.0, total_ms / 5)
    host.run(ms=warm_ms)
    host.reset_metrics()
    doms = _involved(host, guest)
    stats = host.toolstack.guest_stats[guest.domid][0]
    ops0, lat0 = stats.get("io_ops", 0), len(stats.get("io_latency_ns", []))
    counts0, exits0 = _counts(host, doms), _exits_by_reason(guest)
    host.run(ms=total_ms)
    ops = stats.get("io_ops", 0) - ops0
    lat = sorted(stats.get("io_latency_ns", [])[lat0:])
    return {
        "throughput": ops / setup.seconds,
        "latency_us": {"p50": _pct(lat, 0.50) / 1000, "p99": _pct(lat, 0.99) / 1000},
        "cpu_ns": _breakdown(doms),
        "counts": _delta(_counts(host, doms), counts0),
        "vmexits_by_reason": dict(sorted(_delta(_exits_by_reason(guest), exits0).items())),
        "ops": ops,
        "seconds": setup.seconds,
    }


def _pct(sorted_values: list[int], q: float) -> float:
    if not sorted_values:
        return 0.0
    if len(sorted_values) == 1:
        return float(sorted_values[0])
    return float(statistics.quantiles(sorted_values, n=100, method="inclusive")[
        min(98, max(0, round(q * 100) - 1))])


def compare(setup: Setup, modes: list[str], key: str = "modes") -> dict[str, Any]:
    """Every mode of *modes* (or host kind, with *key* ``kinds``), same workload and
    seed; the ``xensim compare`` JSON."""
    run = measure_kind if key == "kinds" else measure
    return {
        "workload": setup.workload,
        "seconds": setup.seconds,
        "pcpus": setup.pcpus,
        "seed": setup.seed,
        "hogs": setup.hogs,
        "dom0_weight": setup.dom0_weight,
        key: {m: run(setup, m) for m in modes},
    }

"""One live migration as an experiment: two hosts, a link, a guest, and what it measured.

:func:`migrate_once` builds a two-host :class:`~xensim.site.Site` (``h1`` and
``h2`` joined by one link), starts the guest on ``h1`` (optionally beside CPU
hogs, with dom0 capped), lets it run, types ``xl migrate GUEST h2`` on h1's
dom0 and runs until the migration is over and a little after.  It returns
the migration's report plus what the guest's neighbours saw: the hogs' share
of h1 before and while the stream was being sent.  :func:`sweep` repeats it
with one knob varied (link speed, dirtying rate, ...), same seed each time.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from xensim.hypervisor.time import SECONDS
from xensim.hypervisor.vcpu import RunState
from xensim.site import Site

GIVE_UP_NS = SECONDS(600)
"""Simulated time after which an experiment stops waiting for its migration."""


class ExperimentError(ValueError):
    """A set-up the experiment cannot run (one line, ``xensim: error: ...``)."""


@dataclass(frozen=True)
class Setup:
    """What :func:`migrate_once` builds; every field can be swept."""

    workload: str = "web:rate=200"
    memory: int = 512
    """The guest's MiB."""
    guest_type: str = "pv"
    bandwidth_mbit: float = 1000
    latency_us: float = 50
    pcpus: int = 2
    hogs: int = 0
    """CPU-hog guests on the source beside the migrating guest."""
    dom0_cap: int = 0
    """The source dom0's credit cap (%, 0 = none): a starved dom0 sends more slowly."""
    before_ms: float = 1000
    after_ms: float = 1000
    seed: int = 0
    extra: dict[str, Any] = field(default_factory=dict)
    """More xl.cfg keys for the guest."""


def _cpu_ns(domains: list[Any], now: int) -> int:
    return sum(v.runstate_snapshot(now)[RunState.RUNNING] for d in domains for v in d.vcpus)


def migrate_once(setup: Setup) -> dict[str, Any]:
    """Run one migration; its report plus ``hogs_share_before``/``_during`` and the
    client's latency over time (``client_latency``: [ms since start, ms])."""
    from xensim.toolstack.migration import start_migration

    site = Site("experiment")
    h1 = site.add_host("h1", pcpus=setup.pcpus, seed=setup.seed)
    site.add_host("h2", pcpus=setup.pcpus, seed=setup.seed + 1)
    site.add_link("h1", "h2", bandwidth_mbit=setup.bandwidth_mbit,
                  latency_us=setup.latency_us)
    guest = h1.create("guest", memory=setup.memory, workload=setup.workload,
                      type=setup.guest_type, **setup.extra)
    hogs = [h1.create(f"hog{i}", workload="cpu") for i in range(setup.hogs)]
    if setup.dom0_cap:
        h1.dom0.pool.sched.adjust(h1.dom0, {"cap": setup.dom0_cap})
    site.run(ms=setup.before_ms / 2)
    t0, c0 = site.now, _cpu_ns(hogs, site.now)
    site.run(ms=setup.before_ms / 2)
    t1, c1 = site.now, _cpu_ns(hogs, site.now)
    mig = start_migration(h1, guest, "h2")
    while not mig.done and site.now - t1 < GIVE_UP_NS:
        site.run(ms=10)
    if not mig.done:
        raise ExperimentError(f"the migration had not finished after {GIVE_UP_NS / 1e9:g} "
                              "simulated s")
    last = mig.rounds[-1].start_ns if mig.rounds else site.now
    t2, c2 = last, _cpu_ns(hogs, last) if hogs else 0
    site.run(ms=setup.after_ms)
    out = mig.report()
    during = (c2 - c1) / (t2 - t1) if hogs and t2 > t1 else None
    out["hogs_share_before"] = (c1 - c0) / (t1 - t0) if hogs else None
    out["hogs_share_during"] = during
    out["client_latency"] = [[(t - mig.start_ns) / 1e6, lat / 1e6]
                             for c in mig.clients() for t, lat in c.replies
                             if t >= t0]
    return out


def sweep(base: Setup, field_name: str, values: list[Any]) -> list[dict[str, Any]]:
    """:func:`migrate_once` for each value of one :class:`Setup` field."""
    if field_name not in {f.name for f in dataclasses.fields(Setup)}:
        raise ExperimentError(f"cannot sweep {field_name!r}")
    results = []
    for v in values:
        r = migrate_once(dataclasses.replace(base, **{field_name: v}))
        r["value"] = v
        results.append(r)
    return results


"""Guests that dirty memory, and Xen's log-dirty mode counting it."""

from __future__ import annotations

import pytest

from xensim.domains.guest.dirty import PROFILES, GuestMemory, profile_for
from xensim.domains.guest.workloads import WORKLOADS, WorkloadError
from xensim.host import Host
from xensim.hypervisor.logdirty import LogDirty


def test_every_built_in_workload_the_issue_names_has_a_profile() -> None:
    for name in ("web", "kernel-build", "idle"):
        assert name in PROFILES and PROFILES[name].why
    assert profile_for("memwrite:rate_mb_s=300,wss_mb=16").mb_per_cpu_s == 300
    assert profile_for("memwrite:rate_mb_s=300,wss_mb=16").wss_mb == 16
    assert "memwrite" in WORKLOADS
    with pytest.raises(WorkloadError, match="rate_mb_s must be >= 0"):
        profile_for("memwrite:rate_mb_s=-1")


def test_log_dirty_counts_distinct_pages_of_the_working_set() -> None:
    host = Host(pcpus=1)
    d = host.create("g", memory=64, workload="idle")
    ld = LogDirty(host.hv, d)
    ld.record_writes(10, 1000)  # ten writes over 1000 pages: (almost) ten pages
    assert ld.clean() == 9  # 1000 * (1 - e^-0.01) = 9.95, whole pages
    ld.record_writes(1e6, 1000)  # far more writes than pages: the whole working set
    assert ld.clean() == 1000 and ld.clean() == 0
    assert ld.faults == 9 + 1000  # one fault per newly dirtied page


def test_dirtying_follows_cpu_time_and_costs_the_guest_its_faults() -> None:
    host = Host(pcpus=2)
    busy = host.create("busy", memory=256, workload="memwrite:rate_mb_s=100,wss_mb=64")
    idle = host.create("idle", memory=256, workload="idle", type="hvm")
    logs = {d.name: (LogDirty(host.hv, d), GuestMemory(d, profile_for(d.info["workload"]),
                                                       host.now)) for d in (busy, idle)}
    for _ in range(10):
        host.run(ms=10)
        for ld, mem in logs.values():
            mem.sync(ld, host.now)
    ld_busy, ld_idle = logs["busy"][0], logs["idle"][0]
    assert ld_idle.clean() == 0  # an idle guest writes nothing
    # 100 MiB/s for ~0.1 s of CPU: ~10 MiB of writes over 64 MiB: ~2,300 distinct pages
    assert 1800 < ld_busy.clean() < 2600
    host.run(ms=10)  # the last report's faults are paid when the vCPU next runs
    xen_ns = sum(v.kind_ns.get("hypervisor", 0) for v in busy.vcpus)
    assert xen_ns >= ld_busy.faults * host.hv.costs["logdirty_fault_pv"]
    assert ld_idle.fault_ns == host.hv.costs["logdirty_fault_hap"]


def test_an_hvm_guest_on_shadow_paging_pays_shadow_log_dirty_faults() -> None:
    host = Host(pcpus=1)
    shadow = host.create("s", memory=64, workload="idle", type="hvm", hap=0)
    assert LogDirty(host.hv, shadow).fault_ns == host.hv.costs["logdirty_fault_pv"]

"""Cpupools: disjoint pCPU sets, each with its own policy instance (cpupool.c)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import shares
from xensim.host import Host
from xensim.scenario import ScenarioError, load_scenario, run_scenario
from xensim.toolstack.libxl import LibxlError

ROOT = Path(__file__).resolve().parents[2]


def _two_pools(trace: bool = False) -> Host:
    host = Host(pcpus=4, seed=2, trace=trace)
    rc, _, err = host.xl("cpupool-cpu-remove Pool-0 2-3")
    assert rc == 0, err
    rc, _, err = host.xl("cpupool-create 'name=\"rt\"' 'sched=\"rtds\"' 'cpus=[\"2\", \"3\"]'")
    assert rc == 0, err
    return host


def test_each_pool_runs_its_own_policy_on_its_own_pcpus() -> None:
    host = _two_pools(trace=True)
    host.create("hogs", workload="cpu", vcpus=4)
    host.create("rt", workload="periodic:period_ms=10,wcet_ms=3", vcpus=2, pool="rt")
    host.create("extra", workload="cpu", pool="rt")
    host.run(ms=2_000)
    hogs, rt = host.domain("hogs"), host.domain("rt")
    assert hogs.pool.sched.name == "credit" and rt.pool.sched.name == "rtds"
    by_dom = {d.domid: d for d in host.hv.domains.values()}
    for r in host.hv.trace.records:
        if r.event == "switch" and r.domid in by_dom:
            assert r.cpu in by_dom[r.domid].pool.cpu_ids, r
    s = shares(host)
    assert s["hogs"] == pytest.approx(2.0, abs=0.01)  # four vCPUs share pCPUs 0-1
    # RTDS guarantees: rt's jobs all meet their deadlines, extra gets at least its
    # default 4 ms / 10 ms budget (and more from extratime).
    assert host.metrics()["domains"]["rt"]["deadline_misses"] == 0
    assert s["extra"] >= 0.4


def test_removing_a_busy_pcpu_moves_its_vcpus_and_breaks_impossible_affinity() -> None:
    host = Host(pcpus=3, seed=1)
    host.create("a", workload="cpu", vcpus=3)
    host.create("pinned", workload="cpu", cpus="2")
    host.run(ms=200)
    rc, _, err = host.xl("cpupool-cpu-remove Pool-0 2")
    assert rc == 0, err
    assert host.hv.pcpus[2].pool is None and host.hv.pcpus[2].curr.is_idle
    pinned = host.domain("pinned").vcpus[0]
    assert pinned.hard_affinity == frozenset({0, 1})
    assert any("Breaking affinity" in m for _, m in host.hv.dmesg)
    before = host.metrics()["pcpus"][2]["busy_ns"]
    host.run(ms=500)
    assert host.metrics()["pcpus"][2]["busy_ns"] == before  # a free pCPU only idles
    assert shares(host)["a"] + shares(host)["pinned"] == pytest.approx(
        (2 * 500 + 3 * 200) / 700, abs=0.01)


def test_moving_a_domain_between_pools_resets_its_affinity() -> None:
    host = _two_pools()
    d = host.create("g", workload="cpu", vcpus=2, cpus="0")
    host.run(ms=100)
    rc, _, err = host.xl("cpupool-migrate g rt")
    assert rc == 0, err
    assert d.pool.name == "rt" and all(v.hard_affinity == {2, 3} for v in d.vcpus)
    host.reset_metrics()
    host.run(ms=500)
    assert shares(host)["g"] == pytest.approx(2.0, abs=0.01)


@pytest.mark.parametrize("command, message", [
    ("cpupool-destroy Pool-0", "Pool-0 cannot be destroyed"),
    ("cpupool-create 'name=\"x\"' 'cpus=\"1\"'", "cpu 1 is already in cpupool Pool-0"),
    ("cpupool-create 'name=\"x\"' 'sched=\"fifo\"'", "unknown scheduler 'fifo'"),
    ("cpupool-cpu-add nosuch 1", "cpupool 'nosuch' does not exist"),
    ("cpupool-migrate 0 Pool-0", "Domain-0 cannot be moved"),
])
def test_cpupool_errors_are_xl_messages(command: str, message: str) -> None:
    host = Host(pcpus=2)
    rc, _, err = host.xl(command)
    assert rc == 1 and message in err


def test_a_pool_with_domains_cannot_lose_its_last_pcpu_or_be_destroyed() -> None:
    host = _two_pools()
    host.create("g", workload="cpu", pool="rt")
    assert host.xl("cpupool-cpu-remove rt 2")[0] == 0
    rc, _, err = host.xl("cpupool-cpu-remove rt 3")
    assert rc == 1 and "last of cpupool rt, which has domains" in err
    rc, _, err = host.xl("cpupool-destroy rt")
    assert rc == 1 and "still has domains" in err
    host.xl("destroy g")
    assert host.xl("cpupool-destroy rt")[0] == 0
    assert host.hv.pcpus[3].pool is None
    assert host.xl("cpupool-cpu-add Pool-0 2-3")[0] == 0
    assert host.hv.pools[0].cpu_ids == {0, 1, 2, 3}


def test_cpupool_list_shows_pools_policies_and_domains() -> None:
    host = _two_pools()
    host.create("g", workload="idle", pool="rt")
    assert host.xl("cpupool-list")[1] == (
        "Name               CPUs   Sched     Active   Domain count\n"
        "Pool-0               2    credit       y          1\n"
        "rt                   2      rtds       y          1\n")
    assert host.xl("cpupool-list -c")[1] == (
        "Name               CPU list\nPool-0             0,1\nrt                 2,3\n")


def test_scenario_declares_pools() -> None:
    r = run_scenario(load_scenario(ROOT / "scenarios" / "cpupools.toml"))
    d = r["domains"]
    assert d["video"]["deadline_misses"] == 0
    assert d["control"]["deadline_misses"] > 300  # under-budgeted until 2 s
    assert d["batch"]["cpu_share"] + d["web"]["cpu_share"] == pytest.approx(2.0, abs=0.01)
    assert [p["pool"] for p in r["pcpus"]] == ["Pool-0", "Pool-0", "rt", "rt"]


@pytest.mark.parametrize("pool, expect", [
    ('name = "rt"\nscheduler = "rtds"\ncpus = "0-3"', r"Pool-0 \(Domain-0's\) needs one"),
    ('name = "rt"\nscheduler = "rtds"\ncpus = "5"', "cpu 5 out of range"),
    ('name = "rt"\nscheduler = "nope"\ncpus = "1"', "expected a known scheduler"),
    ('name = "rt"\ncpus = "1"', "missing required key 'scheduler'"),
])
def test_bad_pool_declarations_are_rejected(tmp_path: Path, pool: str, expect: str) -> None:
    p = tmp_path / "p.toml"
    p.write_text(f"[host]\npcpus = 4\n[[pool]]\n{pool}\n[[domain]]\nname = \"g\"\npool = "
                 "\"rt\"\n[run]\nduration_ms = 10\n")
    with pytest.raises(ScenarioError, match=expect):
        load_scenario(p)


def test_a_domain_naming_an_undeclared_pool_is_rejected(tmp_path: Path) -> None:
    p = tmp_path / "p.toml"
    p.write_text('[[domain]]\nname = "g"\npool = "rt"\n[run]\nduration_ms = 10\n')
    with pytest.raises(ScenarioError, match=r"p.toml:3: .*pool 'rt' is not declared"):
        load_scenario(p)


def test_libxl_refuses_a_cpu_that_does_not_exist() -> None:
    host = Host(pcpus=2)
    with pytest.raises(LibxlError, match="cpu 9 does not exist"):
        host.toolstack.cpupool_cpu_add(host.hv.pools[0], 9)

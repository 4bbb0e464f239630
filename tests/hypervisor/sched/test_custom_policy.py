"""A researcher's policy (examples/rr_sched.py) runs unmodified against the full host."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import shares
from xensim.host import Host
from xensim.hypervisor.sched.ops import get_scheduler_class
from xensim.scenario import ScenarioError, load_scenario, run_scenario

ROOT = Path(__file__).resolve().parents[3]
RR = f"{ROOT / 'examples' / 'rr_sched.py'}:RoundRobinScheduler"


def test_example_policy_shares_equally_and_keeps_the_invariants() -> None:
    host = Host(pcpus=2, scheduler=RR, sched={"quantum_ms": 5}, seed=3)
    for i in range(3):
        host.create(f"hog{i}", workload="cpu")
    host.create("pinned", workload="cpu", cpus="1")
    host.create("rt", workload="periodic:period_ms=20,wcet_ms=1")
    host.run(ms=4_000)
    m = host.metrics()
    s = shares(host)
    # Round robin ignores weights: the four hogs split what rt leaves equally.
    left = 2 - s["rt"]
    for name in ("hog0", "hog1", "hog2", "pinned"):
        assert s[name] == pytest.approx(left / 4, abs=0.03), name
    for d in m["domains"].values():
        for v in d["vcpus"]:
            assert sum(v[k] for k in ("running_ns", "runnable_ns", "blocked_ns",
                                      "offline_ns")) == m["duration_ns"]
    assert host.hv.pools[0].sched.name == "rr"
    assert host.xl("sched-credit")[0] == 0  # xl lists no credit pool, and does not fail


def test_scenario_names_a_policy_by_file_path(tmp_path: Path) -> None:
    sc = tmp_path / "rr.toml"
    sc.write_text(f'[host]\npcpus = 1\nscheduler = "{RR}"\n[host.sched]\nquantum_ms = 2\n'
                  '[[domain]]\nname = "a"\nworkload = "cpu"\n'
                  '[[domain]]\nname = "b"\nworkload = "cpu"\ncpu_weight = 1024\n'
                  '[run]\nduration_ms = 1000\n')
    r = run_scenario(load_scenario(sc))
    assert r["host"]["scheduler"] == "rr"
    assert r["domains"]["a"]["cpu_share"] == pytest.approx(0.5, abs=0.01)


def test_a_bad_policy_path_is_a_clear_error(tmp_path: Path) -> None:
    sc = tmp_path / "bad.toml"
    sc.write_text('[host]\nscheduler = "nowhere/x.py:Nope"\n[run]\nduration_ms = 10\n')
    with pytest.raises(ScenarioError, match=r"bad.toml:2: \[host\]: scheduler = .*no such file"):
        load_scenario(sc)
    with pytest.raises(ValueError, match="has no attribute 'Nope'"):
        get_scheduler_class(f"{ROOT / 'examples' / 'rr_sched.py'}:Nope")

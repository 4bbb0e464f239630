"""Scenario files: validation messages, determinism, actions."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from xensim.scenario import ScenarioError, load_scenario, run_scenario

ROOT = Path(__file__).resolve().parents[1]

GOOD = """\
[host]
pcpus = 2
seed = 11

[[domain]]
name = "web"
workload = "duty:busy_ms=2,idle_ms=3"
vcpus = 2

[[domain]]
name = "hog"
workload = "cpu"
cpu_weight = 512

[[action]]
at_ms = 500
command = "sched-credit -d web -w 1024"

[run]
duration_ms = 1000
"""


def write(tmp_path: Path, text: str) -> str:
    p = tmp_path / "sc.toml"
    p.write_text(text)
    return str(p)


@pytest.mark.parametrize("old, new, expect", [
    ('cpu_weight = 512', 'cpu_wieght = 512', r"sc.toml:13: \[\[domain\]\] #2 \(hog\): unknown "
                                              r"key 'cpu_wieght'; expected one of: name, vcpus"),
    ('vcpus = 2', 'vcpus = "two"', r"sc.toml:8: \[\[domain\]\] #1 \(web\): vcpus = 'two': "
                                   r"expected an integer in 1..512"),
    ('workload = "cpu"', 'workload = "spin"', r"sc.toml:12: .*workload = 'spin': expected a "
                                              r"valid workload spec \(unknown workload 'spin'; "
                                              r"known workloads: cpu, "),
    ('cpu_weight = 512', 'cpu_weight = 0', r"sc.toml:13: .*cpu_weight = 0: expected an integer "
                                           r"in 1..65535"),
    ('duration_ms = 1000', 'duration_ms = -5', r"sc.toml:20: \[run\]: duration_ms = -5: "
                                               r"expected a number > 0"),
    ('pcpus = 2', 'pcpus = 2.5', r"sc.toml:2: \[host\]: pcpus = 2.5: expected an integer"),
    ('workload = "cpu"', 'workload = "duty:busy_ms=x"', r"busy_ms must be float"),
    ('name = "hog"', 'name = "web"', r"duplicate domain name"),
    ('[run]', '[runn]', r"unknown top-level key 'runn'"),
    ('seed = 11', 'seed = 11\nscheduler = "fifo"', r"expected a known scheduler, not 'fifo'"),
    ('vcpus = 2', 'vcpus = 2\ncpus = "0-7"', r"cpus: cpu 7 out of range: the host has 2 pCPUs"),
    ('[[action]]\nat_ms = 500', '[[action]]\nat = 500', r"unknown key 'at'"),
    ('duration_ms = 1000', 'duration_ms = ', r"sc.toml: TOML syntax error: .*line 20"),
])
def test_bad_scenarios_name_file_line_key_and_expectation(tmp_path: Path, old: str, new: str,
                                                          expect: str) -> None:
    assert old in GOOD
    path = write(tmp_path, GOOD.replace(old, new, 1))
    with pytest.raises(ScenarioError, match=expect):
        load_scenario(path)


def test_cli_reports_a_bad_scenario_without_traceback(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("cpu_weight = 512", "cpu_weight = 0"))
    proc = subprocess.run([sys.executable, "-m", "xensim.cli", "run", path],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.startswith("xensim: error: ") and "cpu_weight" in proc.stderr


def test_same_scenario_and_seed_give_identical_json(tmp_path: Path) -> None:
    sc = load_scenario(write(tmp_path, GOOD))
    a, b = run_scenario(sc), run_scenario(sc)
    a.pop("wall_s"), b.pop("wall_s")
    assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)
    c = run_scenario(sc, seed=12)
    c.pop("wall_s")
    assert json.dumps(c, sort_keys=True) != json.dumps(a, sort_keys=True)


def test_json_has_the_documented_keys(tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    rc = subprocess.run([sys.executable, "-m", "xensim.cli", "run", write(tmp_path, GOOD),
                         "--json", str(out), "-q"], capture_output=True, text=True)
    assert rc.returncode == 0, rc.stderr
    r = json.loads(out.read_text())
    assert r["duration_ns"] == 1_000_000_000
    assert {"events", "wall_s", "domains"} <= set(r)
    web = r["domains"]["web"]
    assert {"domid", "cpu_ns", "cpu_share", "vcpus"} <= set(web)
    v = web["vcpus"][0]
    assert {"running_ns", "runnable_ns", "blocked_ns", "wakeup_latency_us"} <= set(v)
    assert {"p50", "p99", "max"} <= set(v["wakeup_latency_us"])
    assert r["actions"][0]["rc"] == 0


def test_actions_run_at_their_time_and_failures_are_reported(tmp_path: Path) -> None:
    text = GOOD.replace('command = "sched-credit -d web -w 1024"', 'command = "pause hog"')
    text += '\n[[action]]\nat_ms = 600\ncommand = "pause nosuch"\n'
    sc = load_scenario(write(tmp_path, text))
    r = run_scenario(sc)
    hog = r["domains"]["hog"]["vcpus"][0]
    # Paused at 0.5 s: offline for the second half of the run.
    assert hog["offline_ns"] == pytest.approx(0.5e9, rel=0.01)
    assert r["actions"][1]["rc"] == 1
    assert "nosuch is an invalid domain identifier" in r["actions"][1]["error"]


def test_periodic_reports_jobs_and_deadline_misses(tmp_path: Path) -> None:
    ok = GOOD.replace('workload = "cpu"', 'workload = "periodic:period_ms=10,wcet_ms=3"')
    r = run_scenario(load_scenario(write(tmp_path, ok)))
    rt = r["domains"]["hog"]
    assert rt["jobs"] == pytest.approx(100, abs=2) and rt["deadline_misses"] == 0
    over = GOOD.replace('workload = "cpu"', 'workload = "periodic:period_ms=10,wcet_ms=12"')
    r = run_scenario(load_scenario(write(tmp_path, over)))
    assert r["domains"]["hog"]["deadline_misses"] > 50


def test_demo_scenario_runs() -> None:
    r = run_scenario(load_scenario(ROOT / "scenarios" / "demo.toml"))
    d = r["domains"]
    assert d["rt"]["deadline_misses"] == 0
    assert d["capped"]["cpu_share"] == pytest.approx(0.25, abs=0.02)
    # web outweighs batch 2:1 while both run, and takes batch's share once it is paused.
    assert d["web"]["cpu_share"] > 2 * d["batch"]["cpu_share"]
    assert max(v["wakeup_latency_us"]["p99"] for v in d["interactive"]["vcpus"]) < 2_500

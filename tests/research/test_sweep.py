"""Sweeps: validation messages, statistics, and identical tables whoever runs them."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from xensim.cli import main
from xensim.research.errors import ResearchError
from xensim.research.stats import mean_ci, t_quantile
from xensim.research.sweep import (
    SweepError,
    execute_dask,
    execute_inline,
    execute_pool,
    load_sweep,
    run_sweep,
    write_tables,
)

SCENARIO = """\
[host]
pcpus = 1
[[domain]]
name = "web"
workload = "duty:busy_ms=1,idle_ms=2"
[[domain]]
name = "hog"
workload = "cpu"
[run]
duration_ms = 150
"""

SWEEP = """\
[sweep]
scenario = "sc.toml"
seeds = 2
metrics = ["domains.web.cpu_share", "domains.web.vcpus.0.wakeup_latency_us.p99",
           "sched.context_switches"]

[grid]
"domain.hog.cpu_weight" = [256, 1024]
"host.sched.tslice_ms" = [5]
"""


def write(tmp_path: Path, sweep: str = SWEEP) -> Path:
    (tmp_path / "sc.toml").write_text(SCENARIO)
    p = tmp_path / "sw.toml"
    p.write_text(sweep)
    return p


def test_t_quantiles_and_ci():
    assert t_quantile(0.975, 1) == pytest.approx(12.7062, abs=1e-3)
    assert t_quantile(0.975, 4) == pytest.approx(2.7764, abs=1e-3)
    assert t_quantile(0.975, 29) == pytest.approx(2.0452, abs=1e-3)
    n, mean, std, lo, hi = mean_ci([1.0, 2.0, 3.0, 4.0, 5.0])
    assert (n, mean) == (5, 3.0) and hi - mean == pytest.approx(2.776445 * std / 5 ** 0.5, rel=1e-6)


def test_sweep_runs_and_weight_shows(tmp_path: Path):
    sw = load_sweep(write(tmp_path))
    assert len(sw.cells) == 2 and sw.seeds == [1, 2]
    res = run_sweep(sw)
    assert [(r["cell"], r["seed"]) for r in res.runs] == [(0, 1), (0, 2), (1, 1), (1, 2)]
    share = {r["domain.hog.cpu_weight"]: r["mean"] for r in res.summary
             if r["metric"] == "domains.web.cpu_share"}
    assert share[256] > share[1024]
    files = write_tables(res, tmp_path / "out")
    assert {f.name for f in files} >= {"runs.csv", "summary.csv"}
    rows = list(csv.DictReader(open(tmp_path / "out/summary.csv")))
    assert len(rows) == 2 * 3 and rows[0]["metric"] == "domains.web.cpu_share"
    assert float(rows[0]["ci95_low"]) <= float(rows[0]["mean"]) <= float(rows[0]["ci95_high"])


def test_pool_and_dask_give_identical_tables(tmp_path: Path):
    distributed = pytest.importorskip("dask.distributed")
    sw = load_sweep(write(tmp_path))
    inline = run_sweep(sw, execute_inline)
    pool = run_sweep(sw, execute_pool(2))
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster:
        dask = run_sweep(sw, execute_dask(cluster.scheduler_address))
    write_tables(pool, tmp_path / "pool")
    write_tables(dask, tmp_path / "dask")
    for name in ("runs.csv", "summary.csv"):
        assert (tmp_path / "pool" / name).read_bytes() == (tmp_path / "dask" / name).read_bytes()
    assert pool.runs == dask.runs == inline.runs


@pytest.mark.parametrize("old, new, expect", [
    ('scenario = "sc.toml"', 'scenario = "nope.toml"', r"sw.toml:2: scenario: .*nope.toml: "
                                                        r"cannot read"),
    ("seeds = 2", "seeds = 0", r"sw.toml:3: \[sweep\]: seeds = 0: expected a count >= 1"),
    ('"domain.hog.cpu_weight"', '"domain.hgo.cpu_weight"',
     r"sw.toml:8: \[grid\]: domain.hgo.cpu_weight: no domain named 'hgo' in the scenario "
     r"\(domains: web, hog\)"),
    ('"domain.hog.cpu_weight"', '"domain.hog.weight"',
     r"sw.toml:8: \[grid\]: domain.hog.weight: unknown domain key 'weight'; expected one of"),
    ('"host.sched.tslice_ms"', '"sched.tslice_ms"',
     r"sw.toml:9: \[grid\]: sched.tslice_ms: expected host.<key>, host.sched.<param>"),
    ("[256, 1024]", "[256, 0]", r"sw.toml:8: grid cell domain.hog.cpu_weight = 0, "
                                r"host.sched.tslice_ms = 5: .*cpu_weight = 0: expected an "
                                r"integer in 1..65535"),
    ("[5]", "[5000]", r"grid cell .*tslice_ms = 5000: .*\[host\]: .*tslice"),
    ("[5]", "[]", r"sw.toml:9: \[grid\]: host.sched.tslice_ms: expected a non-empty list"),
    ('"sched.context_switches"', '"domains.nginx.cpu_share"',
     r"metric 'domains.nginx.cpu_share': expected domains.<name>.<key> with a name among: "
     r"Domain-0, hog, web"),
    ('"sched.context_switches"', '"wall_s"', r"metric 'wall_s': expected a path starting"),
    ("seeds = 2", "seed = 2", r"sw.toml:3: \[sweep\]: unknown key 'seed'"),
])
def test_bad_sweep_files(tmp_path: Path, old: str, new: str, expect: str):
    assert old in SWEEP
    with pytest.raises(SweepError, match=expect):
        load_sweep(write(tmp_path, SWEEP.replace(old, new)))


def test_bad_metric_path_found_after_first_run(tmp_path: Path, capsys):
    p = write(tmp_path, SWEEP.replace('"sched.context_switches"', '"domains.web.cpu_shar"'))
    assert main(["sweep", str(p), "-j", "1", "-q", "-o", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "metric 'domains.web.cpu_shar': no 'cpu_shar' under domains.web; there: " in err
    assert "cpu_share" in err


def test_cli_sweep_example(tmp_path: Path, capsys):
    p = write(tmp_path)
    assert main(["sweep", str(p), "-j", "1", "-o", str(tmp_path / "o")]) == 0
    out = capsys.readouterr().out
    assert "2 cells x 2 seeds, mean ±" in out and "runs.csv" in out
    assert (tmp_path / "o/runs.csv").exists()


def test_missing_dask_is_a_clear_error(monkeypatch, tmp_path: Path):
    import sys

    monkeypatch.setitem(sys.modules, "dask.distributed", None)
    sw = load_sweep(write(tmp_path))
    with pytest.raises(ResearchError, match=r"--dask needs dask.distributed"):
        run_sweep(sw, execute_dask("tcp://127.0.0.1:1"))


def test_example_sweep_file_is_valid():
    root = Path(__file__).resolve().parents[2]
    sw = load_sweep(root / "scenarios/tslice-sweep.toml")
    assert len(sw.cells) == 8 and sw.seeds == [1, 2, 3] and len(sw.metrics) == 5

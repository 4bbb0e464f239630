"""``xensim migrate-sweep`` and ``xensim run`` of a site, as a user types them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from xensim.cli import main

SITE = """
[[host]]
name = "h1"
pcpus = 2
[[host]]
name = "h2"
pcpus = 2
[[link]]
between = ["h1", "h2"]
bandwidth_mbit = 1000
[[domain]]
name = "web"
host = "h1"
memory = 64
workload = "web:rate=100"
[[action]]
at_ms = 200
host = "h1"
command = "migrate web h2"
[run]
duration_ms = 1500
"""


def test_a_sweep_of_dirty_rates_prints_the_table_and_writes_json_and_chart(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out, png = tmp_path / "s.json", tmp_path / "s.png"
    rc = main(["migrate-sweep", "--rates", "1,400", "--wss", "32", "--memory", "64",
               "--json", str(out), "--plot", str(png)])
    assert rc == 0
    res = json.loads(out.read_text())
    assert res["swept"] == "memwrite MiB/s" and [r["value"] for r in res["results"]] == [1, 400]
    calm, busy = res["results"]
    assert len(busy["rounds"]) > len(calm["rounds"])  # the busy writer needs Xen's limit
    assert busy["downtime_ms"] > calm["downtime_ms"]
    assert png.read_bytes()[:4] == b"\x89PNG"
    table = capsys.readouterr().out
    assert "memwrite MiB/s" in table and "downtime ms" in table


@pytest.mark.parametrize("argv, message", [
    (["migrate-sweep"], "sweep one thing"),
    (["migrate-sweep", "--bandwidths", "1,x"], "comma-separated numbers"),
    (["migrate-sweep", "--bandwidths", "100", "--rates", "1"], "sweep one thing"),
    (["migrate-sweep", "--memories", "-5"], "comma-separated numbers"),
])
def test_bad_sweeps_are_one_line_errors(argv: list[str], message: str,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("xensim: error:") and message in err


def test_a_site_scenario_runs_reports_each_host_and_is_deterministic(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sc = tmp_path / "site.toml"
    sc.write_text(SITE)
    outs = [tmp_path / "a.json", tmp_path / "b.json"]
    for out in outs:
        assert main(["run", str(sc), "--json", str(out)]) == 0
    a, b = (json.loads(o.read_text()) for o in outs)
    a.pop("wall_s"), b.pop("wall_s")
    assert a == b  # same scenario and seed, same JSON
    mig = a["migrations"][0]
    assert mig["state"] == "done" and mig["output"][-1] == "Migration successful."
    assert "web" in a["hosts"]["h2"]["domains"]
    assert a["actions"][0]["rc"] == 0 and a["actions"][0]["host"] == "h1"
    printed = capsys.readouterr().out
    assert "host h1:" in printed and "host h2:" in printed and "web h1->h2" in printed
    assert "action at 200 ms on h1: xl migrate web h2 -> ok" in printed
    assert main(["run", str(sc), "--timeline"]) == 2  # one host's timeline only


def test_xensim_sweep_takes_a_site_scenario_and_migration_metrics(tmp_path: Path) -> None:
    (tmp_path / "site.toml").write_text(SITE)
    (tmp_path / "sw.toml").write_text(
        '[sweep]\nscenario = "site.toml"\nseeds = 1\n'
        'metrics = ["migrations.0.pages", "hosts.h2.domains.web.domid"]\n'
        '[grid]\n"domain.web.memory" = [16, 32]\n')
    assert main(["sweep", str(tmp_path / "sw.toml"), "-o", str(tmp_path / "out")]) == 0
    rows = (tmp_path / "out" / "runs.csv").read_text().splitlines()
    pages = [int(float(r.split(",")[-2])) for r in rows[1:]]
    assert pages[0] > 16 * 256 and pages[1] > 32 * 256 > pages[0]
    (tmp_path / "bad.toml").write_text(
        '[sweep]\nscenario = "site.toml"\nmetrics = ["migrations.0.pages"]\n'
        '[grid]\n"host.pcpus" = [1, 2]\n')
    assert main(["sweep", str(tmp_path / "bad.toml"), "-o", str(tmp_path / "o2")]) == 2

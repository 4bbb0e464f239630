"""``xensim compare`` as a user types it: JSON shape, chart, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from xensim.cli import main


def test_json_has_the_documented_shape_and_the_table_prints(tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]
                                                            ) -> None:
    out, png = tmp_path / "c.json", tmp_path / "c.png"
    rc = main(["compare", "--workload", "ping:rate=500", "--modes", "pv,hvm",
               "--seconds", "0.05", "--json", str(out), "--plot", str(png)])
    assert rc == 0
    res = json.loads(out.read_text())
    assert list(res["modes"]) == ["pv", "hvm"]
    for m in res["modes"].values():
        assert set(m["latency_us"]) == {"p50", "p99"}
        assert set(m["cpu_ns"]) == {"guest", "hypervisor", "dom0", "device_model"}
        assert set(m["counts"]) == {"hypercalls", "vmexits", "evtchn_sends", "grant_ops"}
        assert m["throughput"] == pytest.approx(500, rel=0.1)
    assert png.read_bytes()[:4] == b"\x89PNG"
    table = capsys.readouterr().out
    assert "ping:rate=500" in table and "qemu ms" in table and "hvm" in table


def test_a_scenario_domain_can_be_compared(tmp_path: Path) -> None:
    sc = tmp_path / "s.toml"
    sc.write_text('[host]\npcpus = 2\nseed = 4\n[[domain]]\nname = "web"\n'
                  'workload = "web:rate=100"\nmemory = 512\n[run]\nduration_ms = 100\n')
    out = tmp_path / "c.json"
    assert main(["compare", "--scenario", str(sc), "--domain", "web", "--modes", "pvhvm",
                 "--seconds", "0.1", "--json", str(out), "-q"]) == 0
    res = json.loads(out.read_text())
    assert res["workload"] == "web:rate=100" and res["seed"] == 4
    assert res["modes"]["pvhvm"]["ops"] > 0


@pytest.mark.parametrize("argv, message", [
    (["--workload", "disk", "--modes", "pv,xen-magic"], "unknown mode xen-magic"),
    (["--modes", "pv"], "--workload"),
    (["--workload", "nosuch"], "nosuch"),
    (["--workload", "disk", "--domain", "x"], "--domain needs --scenario"),
    (["--workload", "disk", "--seconds", "0"], "--seconds must be positive"),
])
def test_bad_arguments_name_the_problem_and_exit_2(argv: list[str], message: str,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compare", *argv, "-q"]) == 2
    assert message in capsys.readouterr().err

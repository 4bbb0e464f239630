"""Trace files round-trip, and the summary's replay agrees with the run's metrics."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from xensim.cli import main
from xensim.research.summary import analyse
from xensim.research.tracefile import TraceFileError, read_trace


def test_round_trip_is_exact(small_run):
    _, host, path = small_run
    tr = read_trace(path)
    assert tr.records == host.hv.trace.records
    assert tr.header["nrecords"] == len(tr.records) > 1000
    assert tr.domain_names() == {0: "Domain-0", 1: "hog", 2: "web", 3: "lat"}
    assert tr.end_ns == 600_000_000


def test_summary_agrees_with_metrics(small_run):
    result, _, path = small_run
    a = analyse(read_trace(path))
    run_ns = a.domain_run_ns()
    for d in result["domains"].values():
        assert run_ns.get(d["domid"], 0) == pytest.approx(d["cpu_ns"], rel=1e-3, abs=10)
        for v in d["vcpus"]:
            s = a.vcpus[(d["domid"], v["vcpu"])]
            assert s.switches_in == v["switches"]
            assert s.migrations == v["migrations"]
            assert len(s.wake_latencies_ns) == v["wakeup_latency_us"]["n"]
            if s.wake_latencies_ns:
                assert max(s.wake_latencies_ns) / 1000 == v["wakeup_latency_us"]["max"]
        if "hypercalls" in d:
            assert sum(sum(s.hypercalls.values()) for (dom, _), s in a.vcpus.items()
                       if dom == d["domid"]) == sum(d["hypercalls"].values())
    for p, m in zip(a.pcpus, result["pcpus"], strict=True):
        assert p.busy_ns == pytest.approx(m["busy_ns"], rel=1e-3)
    assert sum(p.switches for p in a.pcpus) == result["sched"]["context_switches"]
    assert result["domains"]["lat"]["vcpus"][0]["wakeup_latency_us"]["n"] > 50


def test_bad_files_are_clear(tmp_path: Path):
    plain = tmp_path / "x.txt"
    plain.write_text("hello")
    with pytest.raises(TraceFileError, match="not a gzip'd xensim trace"):
        read_trace(plain)
    other = tmp_path / "y.gz"
    with gzip.open(other, "wb") as f:
        f.write(b"something else\n")
    with pytest.raises(TraceFileError, match="bad magic"):
        read_trace(other)


def test_cli_run_trace_then_summary(tmp_path: Path, capsys):
    root = Path(__file__).resolve().parents[2]
    out = tmp_path / "demo.xtr"
    assert main(["run", str(root / "scenarios/demo.toml"), "-q", "--trace", str(out)]) == 0
    assert out.stat().st_size > 1000
    assert main(["trace", "summary", str(out)]) == 0
    text = capsys.readouterr().out
    for word in ("Per domain and vCPU", "interactive", "Per pCPU", "Tickles",
                 "set_timer_op(15)"):
        assert word in text
    assert main(["trace", "summary", str(tmp_path / "missing.xtr")]) == 2
    assert "xensim: error:" in capsys.readouterr().err

"""Perfetto / Chrome trace-event export."""

from __future__ import annotations

import json
from pathlib import Path

from xensim.cli import main
from xensim.research.tracefile import read_trace


def test_export_is_valid_trace_event_json(small_run, tmp_path: Path, capsys):
    _, host, path = small_run
    out = tmp_path / "t.json"
    assert main(["trace", "export", "--perfetto", str(out), str(path)]) == 0
    assert "ui.perfetto.dev" in capsys.readouterr().out
    doc = json.loads(out.read_text())
    ev = doc["traceEvents"]
    meta = {(e["name"], e["args"]["name"]) for e in ev if e["ph"] == "M" and
            e["name"] != "process_sort_index"}
    for name in ("cpu0", "cpu1", "hog (d1)", "web (d2)", "lat (d3)"):
        assert ("process_name", name) in meta
    assert ("thread_name", "d1v1") in meta
    slices = [e for e in ev if e["ph"] == "X"]
    assert {e["name"] for e in slices if e["pid"] <= 2} == {"Domain-0", "hog", "web", "lat"}
    for e in slices:
        assert e["dur"] > 0 and e["ts"] >= 0
    # timestamps are µs: each pCPU-view slice starts at a switch record's t_ns / 1000
    switch_us = {(r.cpu, r.t / 1000) for r in read_trace(path).records if r.event == "switch"}
    assert all((e["pid"] - 1, e["ts"]) in switch_us for e in slices if e["pid"] <= 2)
    assert max(e["ts"] + e["dur"] for e in slices) <= 600_000.0
    wakes = [e for e in ev if e["ph"] == "i" and e["name"] == "wake"]
    assert len(wakes) == sum(1 for r in host.hv.trace.records if r.event == "wake")
    assert {e["name"] for e in ev if e["ph"] == "i"} >= {"wake", "block"}

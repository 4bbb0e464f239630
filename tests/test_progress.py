"""The progress bar and --profile of long runs: seen on a terminal, never in results."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path

import pytest
from rich.console import Console

from xensim import progress
from xensim.cli import main
from xensim.host import Host
from xensim.progress import RunProgress

ROOT = Path(__file__).resolve().parents[1]
DEMO = str(ROOT / "scenarios" / "demo.toml")


def test_bar_shows_simulated_time_and_event_rate(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(progress, "SHOW_AFTER_S", 0.0)
    monkeypatch.setattr(progress, "SAMPLE_S", 0.005)
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=120)
    with RunProgress("run demo", 3_000_000_000, console=console):
        host = Host(pcpus=2, seed=1)
        for i in range(4):
            host.create(f"g{i}", workload="duty:busy_ms=1,idle_ms=1")
        for _ in range(30):
            host.run(ms=100)
        # the bar is drawn by a sampling thread; a loaded machine may not have run it yet
        deadline = time.monotonic() + 10
        while "events/s" not in out.getvalue() and time.monotonic() < deadline:
            time.sleep(0.01)
    drawn = out.getvalue()
    assert "run demo" in drawn and "/3.00 sim s" in drawn and "events/s" in drawn


def test_quiet_and_non_terminals_show_nothing(monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    assert not progress.wanted(quiet=True)
    assert not progress.wanted(quiet=False)  # pytest's stderr is not a terminal
    assert main(["run", DEMO]) == 0
    assert "sim s" not in capsys.readouterr().err


def test_progress_and_profile_change_no_result(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    plain, watched = tmp_path / "plain.json", tmp_path / "watched.json"
    assert main(["run", DEMO, "-q", "--json", str(plain)]) == 0
    monkeypatch.setattr(progress, "wanted", lambda quiet: True)
    monkeypatch.setattr(progress, "SHOW_AFTER_S", 0.0)
    monkeypatch.setattr(progress, "SAMPLE_S", 0.001)
    monkeypatch.setattr("xensim.cli.wanted", lambda quiet: True)
    assert main(["run", DEMO, "-q", "--profile", "--json", str(watched)]) == 0
    report = capsys.readouterr().err
    assert "by module (own time)" in report and "xensim/hypervisor/sched/core.py" in report
    assert "simulated s per wall s" in report
    a, b = (json.loads(p.read_text()) for p in (plain, watched))
    a.pop("wall_s"), b.pop("wall_s")
    assert a == b

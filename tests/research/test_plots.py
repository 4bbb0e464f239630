"""Plots are real images with each domain's colour."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from xensim.cli import main
from xensim.research.errors import ResearchError
from xensim.research.timeline import load_timeline, timeline_from_host

mpimg = pytest.importorskip("matplotlib.image")
np = pytest.importorskip("numpy")


def has_colour(img, rgb, tol: float = 0.02) -> bool:
    return bool((np.abs(img[..., :3] - np.array(rgb)).max(axis=-1) < tol).any())


def test_gantt_png_has_each_domains_colour(small_run, tmp_path: Path):
    from xensim.research.plots import domain_colors, plot

    _, host, path = small_run
    tl = load_timeline(str(path))
    out = tmp_path / "g.png"
    plot(tl, "gantt", out, from_ms=100, to_ms=140)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    img = mpimg.imread(out)
    assert img.shape[0] > 150 and img.shape[1] > 800
    colors = domain_colors(tl)
    for domid in (1, 2, 3):
        assert has_colour(img, colors[domid]), f"domain {domid} colour missing"


def test_timeline_from_host_matches_trace(small_run):
    _, host, path = small_run
    a, b = timeline_from_host(host), load_timeline(str(path))
    assert a["slices"] == b["slices"]
    assert a["latency_ns"]["wakeup"] == b["latency_ns"]["wakeup"]


def test_run_plot_and_plot_command(tmp_path: Path):
    root = Path(__file__).resolve().parents[2]
    res, svg = tmp_path / "r.json", tmp_path / "share.svg"
    assert main(["run", str(root / "scenarios/demo.toml"), "-q", "--json", str(res),
                 "--timeline", "--plot", str(svg), "--plot-kind", "share"]) == 0
    assert svg.read_text().lstrip().startswith("<?xml") and "<svg" in svg.read_text()
    tl = json.loads(res.read_text())["timeline"]
    assert set(tl["slices"]) == {"cpu", "start_ns", "end_ns", "domid", "vcpu"}
    for kind in ("gantt", "share", "latency"):
        out = tmp_path / f"{kind}.png"
        assert main(["plot", str(res), "--kind", kind, "-o", str(out)]) == 0
        assert out.stat().st_size > 5000


def test_plot_errors(tmp_path: Path, capsys):
    root = Path(__file__).resolve().parents[2]
    res = tmp_path / "r.json"
    assert main(["run", str(root / "scenarios/demo.toml"), "-q", "--json", str(res)]) == 0
    assert main(["plot", str(res), "-o", str(tmp_path / "x.png")]) == 2
    assert "no timeline; re-run with" in capsys.readouterr().err
    with pytest.raises(ResearchError, match="unknown plot format '.gif'"):
        from xensim.research.plots import plot

        plot({}, "gantt", tmp_path / "x.gif")


def test_missing_matplotlib_is_a_clear_error(monkeypatch, small_run, tmp_path: Path):
    import sys

    from xensim.research.plots import plot

    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    monkeypatch.setitem(sys.modules, "matplotlib.colormaps", None)
    with pytest.raises(ResearchError, match=r"plots need matplotlib: pip install 'xensim\[plot\]'"):
        plot(load_timeline(str(small_run[2])), "gantt", tmp_path / "g.png")

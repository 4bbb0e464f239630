"""Plots of a run: per-pCPU Gantt chart, CPU share over time, latency CDFs.

Needs the ``plot`` extra (matplotlib), imported only when a plot is drawn so
the simulator itself never depends on it.  We draw on a bare
:class:`matplotlib.figure.Figure` (no pyplot), so plotting from a notebook
or a worker never changes the caller's backend; ``savefig`` picks the Agg
(PNG) or SVG renderer from the file extension.  Every plot takes a timeline
(:mod:`xensim.research.timeline`): from ``xensim run --timeline`` JSON or a
trace file.
"""

from __future__ import annotations

from bisect import bisect_left
from pathlib import Path
from typing import TYPE_CHECKING, Any

from xensim.research.errors import ResearchError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

KINDS = ("gantt", "share", "latency")
FORMATS = (".png", ".svg", ".pdf")


def require_matplotlib() -> None:
    """Raise the install hint now if the ``plot`` extra is missing."""
    _figure(1, 1)


def _figure(w: float, h: float) -> Figure:
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise ResearchError("plots need matplotlib: pip install 'xensim[plot]'") from None
    return Figure(figsize=(w, h), dpi=100, layout="constrained")


def domain_colors(tl: dict[str, Any]) -> dict[int, tuple[float, float, float]]:
    """One RGB colour per guest domain, by domid order (tab10, tab20 past ten)."""
    try:
        from matplotlib import colormaps
    except ImportError:
        raise ResearchError("plots need matplotlib: pip install 'xensim[plot]'") from None
    domids = sorted(int(d) for d in tl["domains"])
    cmap = colormaps["tab10" if len(domids) <= 10 else "tab20"]
    n = cmap.N  # type: ignore[attr-defined]
    return {d: tuple(cmap(i % n)[:3]) for i, d in enumerate(domids)}  # type: ignore[misc]


def _window(tl: dict[str, Any], from_ms: float | None,
            to_ms: float | None) -> tuple[int, int]:
    lo = tl["start_ns"] if from_ms is None else int(from_ms * 1_000_000)
    hi = tl["end_ns"] if to_ms is None else int(to_ms * 1_000_000)
    if hi <= lo:
        raise ResearchError(f"empty time window {lo / 1e6:g}..{hi / 1e6:g} ms")
    return lo, hi


def _slices(tl: dict[str, Any]) -> list[tuple[int, int, int, int, int]]:
    s = tl["slices"]
    return list(zip(s["cpu"], s["start_ns"], s["end_ns"], s["domid"], s["vcpu"], strict=True))


def gantt(tl: dict[str, Any], from_ms: float | None = None,
          to_ms: float | None = None) -> Figure:
    """Who ran on each pCPU when: a row per pCPU, a colour per domain."""
    lo, hi = _window(tl, from_ms, to_ms)
    colors = domain_colors(tl)
    names = {int(k): v for k, v in tl["domains"].items()}
    bars: dict[tuple[int, int], list[tuple[float, float]]] = {}
    for cpu, start, end, domid, _ in _slices(tl):
        a, b = max(start, lo), min(end, hi)
        if b > a:
            bars.setdefault((cpu, domid), []).append((a / 1e6, (b - a) / 1e6))
    fig = _figure(11, 1.2 + 0.45 * tl["pcpus"])
    ax = fig.add_subplot()
    for (cpu, domid), xs in sorted(bars.items()):
        ax.broken_barh(xs, (cpu - 0.4, 0.8), facecolors=colors.get(domid, (0.5, 0.5, 0.5)),
                       edgecolor="none", antialiased=False)
    ax.set_ylim(tl["pcpus"] - 0.5, -0.5)
    ax.set_yticks(range(tl["pcpus"]), [f"cpu{c}" for c in range(tl["pcpus"])])
    ax.set_xlim(lo / 1e6, hi / 1e6)
    ax.set_xlabel("simulated time (ms)")
    ax.set_title("Who ran where (idle is blank)")
    shown = sorted({d for _, d in bars})
    from matplotlib.patches import Patch

    handles = [Patch(color=colors[d], label=names.get(d, f"d{d}")) for d in shown
               if d in colors]
    rows = max(4, int(fig.get_figheight() * 4))  # legend entries that fit beside the chart
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize="small",
              frameon=False, ncols=-(-len(handles) // rows) if handles else 1)
    return fig


def share_series(tl: dict[str, Any], bin_ns: int, lo: int,
                 hi: int) -> tuple[list[float], dict[int, list[float]]]:
    """Per-domain CPU use in pCPUs (1.0 = one whole pCPU) for each bin of *bin_ns*."""
    edges = list(range(lo, hi, bin_ns)) + [hi]
    nbins = len(edges) - 1
    used: dict[int, list[float]] = {}
    for _, start, end, domid, _ in _slices(tl):
        a, b = max(start, lo), min(end, hi)
        if b <= a:
            continue
        row = used.setdefault(domid, [0.0] * nbins)
        i = max(0, bisect_left(edges, a + 1) - 1)
        while i < nbins and edges[i] < b:
            row[i] += min(b, edges[i + 1]) - max(a, edges[i])
            i += 1
    widths = [edges[i + 1] - edges[i] for i in range(nbins)]
    mids = [(edges[i] + edges[i + 1]) / 2e6 for i in range(nbins)]
    return mids, {d: [u / w for u, w in zip(row, widths, strict=True)]
                  for d, row in sorted(used.items())}


def share(tl: dict[str, Any], bin_ms: float | None = None, from_ms: float | None = None,
          to_ms: float | None = None) -> Figure:
    """CPU share per domain over time, averaged over windows of *bin_ms* (default:
    a hundredth of the run, at least 1 ms)."""
    lo, hi = _window(tl, from_ms, to_ms)
    bin_ns = int(bin_ms * 1e6) if bin_ms else max(1_000_000, (hi - lo) // 100)
    mids, series = share_series(tl, bin_ns, lo, hi)
    colors = domain_colors(tl)
    names = {int(k): v for k, v in tl["domains"].items()}
    fig = _figure(10, 4.5)
    ax = fig.add_subplot()
    for domid, ys in series.items():
        ax.plot(mids, ys, color=colors.get(domid), label=names.get(domid, f"d{domid}"),
                drawstyle="steps-mid")
    ax.set_xlabel("simulated time (ms)")
    ax.set_ylabel("CPU (pCPUs)")
    ax.set_title(f"CPU share per domain, {bin_ns / 1e6:g} ms windows")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize="small", frameon=False)
    return fig


def latency(tl: dict[str, Any]) -> Figure:
    """Empirical CDFs of each latency kind (wake-up, and I/O or response when the
    timeline has them), one panel per kind, one line per domain."""
    kinds = {k: v for k, v in sorted(tl.get("latency_ns", {}).items()) if v}
    if not kinds:
        raise ResearchError("no latency samples in this timeline (no domain ever woke "
                            "from a block)")
    colors = domain_colors(tl)
    ids = {v: int(k) for k, v in tl["domains"].items()}
    fig = _figure(5.5 * len(kinds), 4.2)
    axes = fig.subplots(1, len(kinds), squeeze=False)[0]
    for ax, (kind, per_dom) in zip(axes, kinds.items(), strict=True):
        for name, samples in per_dom.items():
            xs = sorted(x / 1000 for x in samples)
            n = len(xs)
            ax.step(xs, [(i + 1) / n for i in range(n)], where="post",
                    color=colors.get(ids.get(name, -1)), label=f"{name} (n={n})")
        if any(x > 0 for v in per_dom.values() for x in v):
            ax.set_xscale("symlog", linthresh=1.0)
        ax.set_xlabel(f"{kind} latency (µs)")
        ax.set_ylabel("fraction ≤ x")
        ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
        ax.set_title(f"{kind} latency CDF")
        ax.legend(fontsize="small", loc="lower right")
    return fig


def save(fig: Figure, out: str | Path) -> None:
    """Save *fig* to *out*; the extension picks the format (PNG, SVG or PDF)."""
    ext = Path(out).suffix.lower()
    if ext not in FORMATS:
        raise ResearchError(f"{out}: unknown plot format {ext or '(none)'!r}; expected "
                            + ", ".join(FORMATS))
    fig.savefig(out)


def plot(tl: dict[str, Any], kind: str, out: str | Path, *, bin_ms: float | None = None,
         from_ms: float | None = None, to_ms: float | None = None) -> None:
    """Draw one *kind* of plot of *tl* into *out*."""
    if Path(out).suffix.lower() not in FORMATS:
        save(None, out)  # type: ignore[arg-type]  # raises the format error before drawing
    if kind == "gantt":
        fig = gantt(tl, from_ms, to_ms)
    elif kind == "share":
        fig = share(tl, bin_ms, from_ms, to_ms)
    elif kind == "latency":
        fig = latency(tl)
    else:
        raise ResearchError(f"unknown plot kind {kind!r}; expected one of {', '.join(KINDS)}")
    save(fig, out)

"""Charts of migrations (needs matplotlib): what a sweep changed, and how each went.

Panels: total time and downtime against the swept value; pages sent in
each round (one line per run: a converging migration falls fast, one that
cannot converge stays flat until Xen's round limit); and, for a guest with
an external client, the client's latency over time around the migration.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from xensim.research.errors import ResearchError
from xensim.research.plots import save


def migration_chart(results: list[dict[str, Any]], out: str | Path, key: str,
                    title: str) -> None:
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise ResearchError("plots need matplotlib: pip install 'xensim[plot]'") from None
    clients = any(r.get("client_latency") for r in results)
    fig = Figure(figsize=(13 if clients else 9, 4.2), dpi=100, layout="constrained")
    ax1, ax2, *rest = fig.subplots(1, 3 if clients else 2)
    xs = [f"{r['value']:g}" for r in results]
    ax1.bar(xs, [(r["total_ms"] or 0) / 1000 for r in results], color="#4c72b0",
            label="total time (s)")
    ax1.set_xlabel(key)
    ax1.set_ylabel("total time (s)")
    twin = ax1.twinx()
    twin.plot(xs, [r["downtime_ms"] or 0 for r in results], "o-", color="#c44e52",
              label="downtime (ms)")
    twin.set_ylabel("downtime (ms)")
    ax1.set_title("time and downtime")
    for r in results:
        ax2.plot([x["round"] for x in r["rounds"]], [x["pages"] for x in r["rounds"]],
                 "o-", label=f"{r['value']:g}")
        pts = r.get("client_latency") or []
        if pts:
            rest[0].plot([p[0] for p in pts], [p[1] for p in pts], ".", markersize=2,
                     label=f"{r['value']:g}")
    ax2.set_yscale("symlog", linthresh=10)  # a last round may send no page
    ax2.set_xlabel("round")
    ax2.set_ylabel("pages sent")
    ax2.set_title("pages per round")
    ax2.legend(title=key, fontsize="small")
    if clients:  # a guest with an external client (web, ping)
        ax3 = rest[0]
        ax3.set_yscale("log")
        ax3.set_xlabel("ms since xl migrate")
        ax3.set_ylabel("client latency (ms)")
        ax3.set_title("the client's replies")
        ax3.legend(title=key, fontsize="small", markerscale=4)
    fig.suptitle(title)
    save(fig, out)

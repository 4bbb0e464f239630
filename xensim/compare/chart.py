"""A stacked-bar chart of where the CPU time went under each mode (needs matplotlib).

Bars are CPU milliseconds *per thousand operations*, so modes with different
throughput compare fairly: the bar shows what one unit of work costs the
machine, split into guest, Xen, dom0 and device model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from xensim.compare.modes import BREAKDOWN
from xensim.research.errors import ResearchError
from xensim.research.plots import save

COLOURS = {"guest": "#4c72b0", "hypervisor": "#dd8452", "dom0": "#55a868",
           "device_model": "#c44e52"}
LABELS = {"modes": {"guest": "guest", "hypervisor": "Xen (hypercalls, exits)",
                    "dom0": "dom0 backends", "device_model": "device model (qemu)"},
          "kinds": {"guest": "guest", "hypervisor": "Xen / KVM / TCG helpers",
                    "dom0": "dom0 / host tasks (vhost)", "device_model": "QEMU"}}


def stacked(result: dict[str, Any], out: str | Path, key: str = "modes") -> None:
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise ResearchError("plots need matplotlib: pip install 'xensim[plot]'") from None
    names = list(result[key])
    fig = Figure(figsize=(max(5.0, 1.3 * len(names) + 2), 4.5), dpi=100, layout="constrained")
    ax = fig.add_subplot()
    bottom = [0.0] * len(names)
    for part in BREAKDOWN:
        heights = []
        for n in names:
            m = result[key][n]
            per_kop = m["cpu_ns"][part] / 1e6 / max(m["ops"], 1) * 1000
            heights.append(per_kop)
        ax.bar(names, heights, bottom=bottom, label=LABELS[key][part], color=COLOURS[part])
        bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
    ax.set_ylabel("CPU ms per 1000 ops")
    ax.set_title(f"{result['workload']}: where the CPU time went")
    ax.legend(fontsize="small")
    save(fig, out)

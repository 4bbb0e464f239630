"""``xensim migrate-sweep``: migrate the same guest under a sweep of one knob.

One of ``--bandwidths`` (link Mbit/s), ``--rates`` (MiB/s written by a
``memwrite`` guest over ``--wss`` MiB), ``--memories`` (guest MiB) or
``--dom0-caps`` (the source dom0's cap, %) is swept; everything else stays
as given, same seed each time.  Prints the table (rounds, pages, total time,
downtime, the client's longest gap, dom0 CPU on both sides), and writes JSON
and a chart when asked.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from xensim.migrate.experiment import ExperimentError, Setup, sweep
from xensim.toolstack.libxl import LibxlError
from xensim.toolstack.xlcfg import XlCfgError

SWEEPS = {"bandwidths": ("bandwidth_mbit", float, "link Mbit/s"),
          "rates": ("workload", float, "memwrite MiB/s"),
          "memories": ("memory", int, "guest MiB"),
          "dom0_caps": ("dom0_cap", int, "source dom0 cap %")}


def setup_parser(p: argparse.ArgumentParser) -> None:
    for name, (_f, _t, what) in SWEEPS.items():
        p.add_argument("--" + name.replace("_", "-"), metavar="LIST",
                       help=f"comma-separated values of {what} to sweep".replace("%", "%%"))
    p.add_argument("--workload", default="web:rate=200",
                   help="the guest's workload (default web:rate=200)")
    p.add_argument("--wss", type=float, default=64.0,
                   help="with --rates: the memwrite guest's working set in MiB (default 64)")
    p.add_argument("--memory", type=int, default=512, help="guest MiB (default 512)")
    p.add_argument("--type", default="pv", choices=("pv", "pvh", "hvm"),
                   help="guest type (default pv)")
    p.add_argument("--bandwidth", type=float, default=1000, help="link Mbit/s (default 1000)")
    p.add_argument("--latency-us", type=float, default=50, help="link latency (default 50)")
    p.add_argument("--hogs", type=int, default=0, help="CPU hogs on the source host")
    p.add_argument("--dom0-cap", type=int, default=0, help="source dom0's cap in %%")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", metavar="OUT", help="write the results as JSON")
    p.add_argument("--plot", metavar="FILE", help="write the chart (png/svg/pdf)")
    p.add_argument("-q", "--quiet", action="store_true", help="print no table")


def _values(text: str, kind: type) -> list[Any]:
    try:
        vals = [kind(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise ExperimentError(f"expected comma-separated numbers, got {text!r}") from None
    if not vals or any(v < 0 for v in vals):
        raise ExperimentError(f"expected comma-separated numbers >= 0, got {text!r}")
    return vals


def cmd_migrate_sweep(args: argparse.Namespace) -> int:
    chosen = [n for n in SWEEPS if getattr(args, n)]
    if len(chosen) != 1:
        raise ExperimentError("sweep one thing: --bandwidths, --rates, --memories or "
                              "--dom0-caps")
    name = chosen[0]
    field_name, kind, what = SWEEPS[name]
    values = _values(getattr(args, name), kind)
    if args.bandwidth <= 0 or args.memory < 1 or args.hogs < 0:
        raise ExperimentError("--bandwidth and --memory must be positive, --hogs >= 0")
    base = Setup(workload=args.workload, memory=args.memory, guest_type=args.type,
                 bandwidth_mbit=args.bandwidth, latency_us=args.latency_us, hogs=args.hogs,
                 dom0_cap=args.dom0_cap, seed=args.seed)
    swept: list[Any] = values
    if name == "rates":
        swept = [f"memwrite:rate_mb_s={v:g},wss_mb={args.wss:g}" for v in values]
    if args.plot:
        from xensim.research.plots import require_matplotlib

        require_matplotlib()
    try:
        results = sweep(base, field_name, swept)
    except (LibxlError, XlCfgError) as exc:
        raise ExperimentError(str(exc)) from None
    for r, v in zip(results, values, strict=True):
        r["value"] = v
    parts = {"rates": f"memwrite over {args.wss:g} MiB" if name == "rates" else args.workload,
             "memories": f"{args.memory} MiB {args.type} guest",
             "bandwidths": f"{args.bandwidth:g} Mbit/s link",
             "dom0_caps": f"dom0 cap {args.dom0_cap}%" if args.dom0_cap else ""}
    title = ", ".join(v for k, v in parts.items() if v and (k != name or k == "rates"))
    title += f", {args.hogs} hogs, seed {args.seed}; swept: {what}"
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"swept": what, "results": results}, f, indent=2)
            f.write("\n")
    if args.plot:
        from xensim.migrate.chart import migration_chart

        migration_chart(results, args.plot, what, title)
    if not args.quiet:
        from xensim.migrate.table import migration_table
        from xensim.report import make_console

        make_console().print(migration_table(results, title, what))
    return 0

"""The research subcommands (``trace``, ``plot``, ``sweep``) and ``run``'s extra options.

Kept out of :mod:`xensim.cli` so that the command table there only gains
rows: each entry point here parses, calls the library and prints, and turns
a :class:`~xensim.research.errors.ResearchError` into one line on stderr and
exit status 2, like the scenario loader's errors.
"""

from __future__ import annotations

import argparse
import functools
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from xensim.research.errors import ResearchError

if TYPE_CHECKING:
    from xensim.host import Host

Main = Callable[[argparse.Namespace], int]


def user_errors(fn: Main) -> Main:
    """Report a :class:`ResearchError` as ``xensim: error: ...`` and return 2."""
    @functools.wraps(fn)
    def wrapper(args: argparse.Namespace) -> int:
        try:
            return fn(args)
        except ResearchError as exc:
            print(f"xensim: error: {exc}", file=sys.stderr)
            return 2
    return wrapper


# --- xensim run --trace/--timeline/--plot -------------------------------------------------
def add_run_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--trace", metavar="FILE",
                   help="write the run's trace to FILE (gzip'd binary; see docs/research.md)")
    p.add_argument("--timeline", action="store_true",
                   help="embed per-pCPU run slices and latency samples in --json (for plot)")
    p.add_argument("--plot", metavar="FILE", action="append",
                   help="draw a plot of the run to FILE (.png/.svg); repeatable")
    p.add_argument("--plot-kind", metavar="KIND", action="append",
                   choices=("gantt", "share", "latency"),
                   help="kind of each --plot, in order (default gantt)")


def wants_trace(args: argparse.Namespace) -> bool:
    """Whether ``run`` must record a trace for its research options."""
    return bool(getattr(args, "trace", None) or getattr(args, "timeline", False)
                or getattr(args, "plot", None))


def after_run(args: argparse.Namespace, host: Host, result: dict[str, Any]) -> None:
    """Write the trace and plots of a finished run; add the timeline to *result*."""
    if args.trace:
        from xensim.research.tracefile import write_trace

        write_trace(args.trace, host)
    if args.timeline or args.plot:
        from xensim.research.timeline import timeline_from_host

        tl = timeline_from_host(host)
        if args.timeline:
            result["timeline"] = tl
        if args.plot:
            from xensim.research.plots import plot

            kinds = list(args.plot_kind or [])
            for i, out in enumerate(args.plot):
                plot(tl, kinds[i] if i < len(kinds) else "gantt", out)


# --- xensim trace ... ------------------------------------------------------------------------
def setup_trace(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="trace_command", metavar="ACTION", required=True)
    s = sub.add_parser("summary", help="per-domain/vCPU and per-pCPU totals (like xenalyze)")
    s.add_argument("file", help="trace file from `xensim run --trace`")
    e = sub.add_parser("export", help="convert a trace for other tools")
    e.add_argument("--perfetto", metavar="OUT", required=True,
                   help="write Chrome/Perfetto trace-event JSON to OUT")
    e.add_argument("file", help="trace file from `xensim run --trace`")


@user_errors
def cmd_trace(args: argparse.Namespace) -> int:
    from xensim.research.tracefile import read_trace

    trace = read_trace(args.file)
    if args.trace_command == "summary":
        from xensim.report import make_console
        from xensim.research.summary import analyse, summary_tables

        console = make_console()
        for table in summary_tables(analyse(trace)):
            console.print(table)
        return 0
    from xensim.research.perfetto import export_perfetto

    n = export_perfetto(trace, args.perfetto)
    print(f"wrote {n:,} trace events to {args.perfetto} (open in ui.perfetto.dev)")
    return 0


# --- xensim plot -------------------------------------------------------------------------------
def setup_plot(p: argparse.ArgumentParser) -> None:
    p.add_argument("input", help="result JSON written with --timeline, or a trace file")
    p.add_argument("--kind", default="gantt", choices=("gantt", "share", "latency"))
    p.add_argument("-o", "--out", required=True, metavar="FILE",
                   help="output file; .png, .svg or .pdf")
    p.add_argument("--from-ms", type=float, help="start of the time window (gantt, share)")
    p.add_argument("--to-ms", type=float, help="end of the time window (gantt, share)")
    p.add_argument("--bin-ms", type=float, help="window of the share plot (default run/100)")


@user_errors
def cmd_plot(args: argparse.Namespace) -> int:
    from xensim.research.plots import plot
    from xensim.research.timeline import load_timeline

    plot(load_timeline(args.input), args.kind, args.out, bin_ms=args.bin_ms,
         from_ms=args.from_ms, to_ms=args.to_ms)
    return 0


# --- xensim sweep ------------------------------------------------------------------------------
def setup_sweep(p: argparse.ArgumentParser) -> None:
    p.add_argument("sweep", help="sweep file (TOML): base scenario, grid, seeds, metrics")
    p.add_argument("-o", "--out", metavar="DIR",
                   help="output directory (default: SWEEP's name + '-results')")
    p.add_argument("-j", "--jobs", type=int, metavar="N",
                   help="local worker processes (default: one per core; 1 runs in-process)")
    p.add_argument("--dask", metavar="ADDRESS",
                   help="run on the Dask scheduler at ADDRESS (tcp://host:8786)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar or table")


@user_errors
def cmd_sweep(args: argparse.Namespace) -> int:
    import os
    from pathlib import Path

    from xensim.progress import wanted
    from xensim.research import sweep as sw

    sweep = sw.load_sweep(args.sweep)
    if args.jobs is not None and args.jobs < 1:
        raise ResearchError(f"--jobs {args.jobs}: expected a number of processes >= 1")
    if args.dask:
        executor = sw.execute_dask(args.dask)
    else:
        jobs = args.jobs or os.cpu_count() or 1
        executor = sw.execute_inline if jobs == 1 else sw.execute_pool(jobs)
    res = sw.run_sweep(sweep, executor, progress=wanted(args.quiet))  # terminals only
    out = args.out or Path(args.sweep).stem + "-results"
    written = sw.write_tables(res, out)
    if not args.quiet:
        from xensim.report import make_console

        make_console().print(sweep_table(sweep, res))
    print("wrote " + ", ".join(str(p) for p in written))
    return 0


def sweep_table(sweep: Any, res: Any) -> Any:
    """One row per grid cell, one column per metric: ``mean ± 95% half-width``.
    Grid keys with a single value are left out (they are in the CSV)."""
    from rich.table import Table

    keys = [k for i, k in enumerate(sweep.keys) if len({c[i] for c in sweep.cells}) > 1]
    table = Table(title=f"{sweep.path}: {len(sweep.cells)} cells x {len(sweep.seeds)} seeds, "
                        "mean ± 95% CI half-width")
    for k in keys:
        table.add_column(k, justify="right", overflow="fold")
    for m in sweep.metrics:
        table.add_column(m.removeprefix("domains."), justify="right", overflow="fold")
    for i, cell in enumerate(sweep.cells):
        stats = {r["metric"]: r for r in res.summary if r["cell"] == i}
        row = [str(cell[sweep.keys.index(k)]) for k in keys]
        for m in sweep.metrics:
            r = stats[m]
            half = "" if r["n"] < 2 else f" ± {_num((r['ci95_high'] - r['ci95_low']) / 2)}"
            row.append(f"{_num(r['mean'])}{half}" if r["n"] else "")
        table.add_row(*row)
    return table


def _num(x: float) -> str:
    """Three significant digits, but never exponent notation for big counts."""
    return f"{x:.0f}" if abs(x) >= 100 else f"{x:.3g}"

"""The ``xensim`` command: run scenarios, inspect the cost table.

Subcommands are a table of (name, help, argument setup, implementation),
like xl's, so ``xensim --help`` lists them all.  User errors print one line
naming what is wrong (file:line, key, expectation) and exit 2: never a
traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

from rich.console import Console

from xensim.research import cli as research_cli
from xensim.research.errors import ResearchError
from xensim.scenario import ScenarioError, load_scenario, run_scenario


def cmd_run(args: argparse.Namespace) -> int:
    sc = load_scenario(args.scenario)
    hosts: list[Any] = []
    traced = research_cli.wants_trace(args)
    result = run_scenario(sc, seed=args.seed, trace=traced, host_out=hosts)
    if traced:
        research_cli.after_run(args, hosts[0], result)
    if args.json:
        with open(args.json, "w") as f:
            if "timeline" in result:
                from xensim.research.timeline import dumps_result

                f.write(dumps_result(result))
            else:
                json.dump(result, f, indent=2, sort_keys=True)
                f.write("\n")
    if not args.quiet:
        from xensim.report import print_result

        print_result(result)
    return 0


def cmd_costs(args: argparse.Namespace) -> int:
    from rich.table import Table

    from xensim.hypervisor.costs import CostModel

    table = Table(title="xensim cost model (ns)")
    for col in ("primitive", "ns", "what", "source"):
        table.add_column(col, overflow="fold")
    for name, ns, source, desc in CostModel().rows():
        table.add_row(name, str(ns), desc, source)
    Console().print(table)
    return 0


def _setup_run(p: argparse.ArgumentParser) -> None:
    p.add_argument("scenario", help="scenario file (TOML)")
    p.add_argument("--json", metavar="OUT", help="write the results as JSON to OUT")
    p.add_argument("--seed", type=int, help="override [host] seed")
    p.add_argument("-q", "--quiet", action="store_true", help="print no table")
    research_cli.add_run_options(p)


COMMANDS: list[tuple[str, str, Callable[[argparse.ArgumentParser], None],
                     Callable[[argparse.Namespace], int]]] = [
    ("run", "run a scenario as fast as possible and report per domain", _setup_run, cmd_run),
    ("costs", "print the cost model table with its sources", lambda p: None, cmd_costs),
    ("trace", "summarise a trace file or export it for Perfetto", research_cli.setup_trace,
     research_cli.cmd_trace),
    ("plot", "plot a run's timeline: Gantt chart, CPU share, latency CDFs",
     research_cli.setup_plot, research_cli.cmd_plot),
    ("sweep", "run a scenario over a parameter grid and seeds; tables with 95% CIs",
     research_cli.setup_sweep, research_cli.cmd_sweep),
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="xensim", description="A Xen hypervisor simulator.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, help_text, setup, fn in COMMANDS:
        p = sub.add_parser(name, help=help_text, description=help_text)
        setup(p)
        p.set_defaults(fn=fn)
    return parser


def main(argv: list[str] | None = None) -> int:
    args: Any = build_parser().parse_args(argv)
    try:
        return int(args.fn(args))
    except (ScenarioError, ResearchError) as exc:
        print(f"xensim: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())

"""``xensim compare``: arguments, the run, and what it prints or writes."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from xensim.compare.kinds import DEFAULT_KINDS, parse_kinds
from xensim.compare.measure import Setup, compare
from xensim.compare.modes import DEFAULT_MODES, MODES, parse_modes
from xensim.toolstack.libxl import LibxlError
from xensim.toolstack.xlcfg import XlCfgError


class CompareError(ValueError):
    """Bad arguments to ``xensim compare`` (one line, exit 2)."""


def setup_parser(p: argparse.ArgumentParser) -> None:
    p.add_argument("--workload", metavar="SPEC",
                   help="workload spec, e.g. disk, net-stream, syscall, pagetable, "
                        "kernel-build, ping:rate=500")
    p.add_argument("--scenario", metavar="FILE",
                   help="take the guest (and host size, seed, costs) from a scenario")
    p.add_argument("--domain", metavar="NAME", help="the scenario's domain to study")
    p.add_argument("--modes", default=",".join(DEFAULT_MODES),
                   help=f"comma-separated from {','.join(MODES)} "
                        f"(default {','.join(DEFAULT_MODES)})")
    p.add_argument("--kinds", metavar="LIST",
                   help=f"compare host kinds instead of Xen modes, comma-separated from "
                        f"{','.join(DEFAULT_KINDS)}")
    p.add_argument("--seconds", type=float, default=0.5,
                   help="simulated seconds measured per mode (default 0.5)")
    p.add_argument("--pcpus", type=int, help="host pCPUs (default 2)")
    p.add_argument("--seed", type=int, help="random seed (default 0)")
    p.add_argument("--hogs", type=int, default=0, help="CPU-hog guests beside it")
    p.add_argument("--dom0-weight", type=int, metavar="W",
                   help="dom0's credit weight (e.g. 1 to starve it)")
    p.add_argument("--json", metavar="OUT", help="write the results as JSON")
    p.add_argument("--plot", metavar="FILE", help="write a stacked-bar chart (png/svg/pdf)")
    p.add_argument("-q", "--quiet", action="store_true", help="print no table")


def setup_from_args(args: argparse.Namespace) -> Setup:
    if args.seconds <= 0:
        raise CompareError("--seconds must be positive")
    setup = Setup(workload=args.workload or "", hogs=args.hogs, dom0_weight=args.dom0_weight)
    if args.scenario:
        _from_scenario(setup, args.scenario, args.domain)
    elif args.domain:
        raise CompareError("--domain needs --scenario")
    if args.workload:
        setup.workload = args.workload
    if not setup.workload:
        raise CompareError("say what to run: --workload SPEC or --scenario FILE --domain NAME")
    setup.seconds = args.seconds
    if args.pcpus is not None:
        setup.pcpus = args.pcpus
    if args.seed is not None:
        setup.seed = args.seed
    return setup


def _from_scenario(setup: Setup, path: str, name: str | None) -> None:
    from xensim.scenario import load_scenario

    sc = load_scenario(path)
    doms = {d.get("name", d.get("config")): d for d in sc.domains}
    if name is None or name not in doms:
        raise CompareError(f"{path}: --domain must name one of its domains: "
                           f"{', '.join(map(str, doms))}")
    dom = dict(doms[name])
    setup.pcpus = sc.host.get("pcpus", setup.pcpus)
    setup.seed = sc.host.get("seed", setup.seed)
    setup.costs = sc.host.get("costs")
    if "config" in dom:
        setup.config_file = str(Path(sc.path).parent / dom.pop("config"))
    dom.pop("name", None)
    setup.workload = str(dom.pop("workload", "")) or setup.workload
    if not setup.workload and setup.config_file:
        from xensim.toolstack.domconfig import DomainConfig

        setup.workload = DomainConfig.from_file(setup.config_file).workload
    setup.guest_keys = dom


def cmd_compare(args: argparse.Namespace) -> int:
    key = "kinds" if args.kinds else "modes"
    try:
        names = parse_kinds(args.kinds) if args.kinds else parse_modes(args.modes)
    except ValueError as exc:
        raise CompareError(str(exc)) from None
    setup = setup_from_args(args)
    if args.plot:  # fail before the runs, not after them
        from xensim.research.plots import require_matplotlib

        require_matplotlib()
    try:
        result = compare(setup, names, key)
    except (LibxlError, XlCfgError, OSError) as exc:
        raise CompareError(str(exc)) from None
    write_outputs(args, result, key)
    return 0


def write_outputs(args: argparse.Namespace, result: dict[str, Any], key: str = "modes") -> None:
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)  # modes in the order asked
            f.write("\n")
    if args.plot:
        from xensim.compare.chart import stacked

        stacked(result, args.plot, key)
    if not args.quiet:
        from xensim.compare.table import print_table

        print_table(result, key)

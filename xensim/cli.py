"""The ``xensim`` command: run scenarios, inspect the cost table, run simulated hosts.

``xensim host start|status|stop`` manages the persistent host daemons that
``xl`` talks to (one per ``--host`` name); ``xensim xl ...`` is ``xl ...``.

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
from pathlib import Path
from typing import Any

from rich.console import Console

from xensim.compare import cli as compare_cli
from xensim.hypervisor.hostkind import HOST_KINDS
from xensim.hypervisor.topology import Topology
from xensim.migrate import cli as migrate_cli
from xensim.progress import RunProgress, wanted
from xensim.research import cli as research_cli
from xensim.research.errors import ResearchError
from xensim.scenario import ScenarioError, load_scenario, run_scenario
from xensim.toolstack.hostd.runtime import HostNameError


def cmd_run(args: argparse.Namespace) -> int:
    sc = load_scenario(args.scenario)
    hosts: list[Any] = []
    traced = research_cli.wants_trace(args)
    if traced and sc.hosts:
        raise ScenarioError(f"{sc.path}: --trace, --timeline and --plot record one host; "
                            f"this scenario has {len(sc.hosts)} [[host]] tables")
    run_ns = int((sc.warmup_ms + sc.duration_ms) * 1_000_000)

    def run() -> dict[str, Any]:
        return run_scenario(sc, seed=args.seed, trace=traced, host_out=hosts)

    with RunProgress(f"run {Path(args.scenario).name}", run_ns, enabled=wanted(args.quiet)):
        if args.profile:
            from xensim.profiling import profile_call

            result = profile_call(run, sys.stderr)
        else:
            result = run()
    if args.profile:
        print(f"  {result['events']:,} SimPy events in {result['wall_s']:.2f} s wall "
              f"({result['events'] / result['wall_s']:,.0f} events/s, "
              f"{sc.duration_ms / 1000 / result['wall_s']:.1f} simulated s per wall s)",
              file=sys.stderr)
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


def _host_paths(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from xensim.toolstack.hostd.runtime import HostPaths

    return HostPaths.for_host(args.host)


def host_spec(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    """The :class:`HostSpec` from ``host start``'s options: every option named like a
    spec field is copied, so a new host option needs no code here."""
    from dataclasses import fields

    from xensim.toolstack.hostd.spec import HostSpec, HostSpecError

    spec = HostSpec(**{f.name: getattr(args, f.name) for f in fields(HostSpec)
                       if getattr(args, f.name, None) is not None})
    if args.topology is not None:  # checked here: the spec itself stays stdlib-only
        try:
            nr_cpus = Topology.parse(args.topology).nr_cpus
        except ValueError as exc:
            raise HostSpecError(f"--topology: {exc}") from None
        if args.pcpus is not None and args.pcpus != nr_cpus:
            raise HostSpecError(f"--pcpus {args.pcpus} does not match --topology "
                                f"{args.topology} ({nr_cpus} pCPUs)")
        spec.pcpus = None
    return spec


def cmd_host(args: argparse.Namespace) -> int:
    from xensim.toolstack.hostd import client
    from xensim.toolstack.hostd.spec import HostSpecError

    paths = _host_paths(args)
    try:
        if args.action == "start":
            return _host_start(paths, host_spec(args).validate(), args.fresh)
        if args.action == "stop":
            if not client.stop_daemon(paths):
                print(f"xensim: host {paths.name!r} is not running", file=sys.stderr)
                return 1
            print(f"host {paths.name!r} stopped")
            return 0
        return _host_status(paths)
    except HostSpecError as exc:
        print(f"xensim: error: {exc}", file=sys.stderr)
        return 2
    except (client.HostdError, OSError) as exc:
        print(f"xensim: {exc}", file=sys.stderr)
        return 1


def _host_start(paths, spec, fresh: bool) -> int:  # type: ignore[no-untyped-def]
    from xensim.toolstack.hostd import client

    started = client.start_daemon(paths, spec, fresh=fresh)
    st = started.status
    print(f"host {paths.name!r} started: pid {started.pid}, {st['pcpus']} pCPUs, "
          f"{st['memory_mib']} MiB, {spec.hypervisor}, {st['scheduler']}, "
          f"speed {st['speed']}x (socket {paths.socket})")
    if st.get("web"):
        print(f"web view: {st['web']}")
    restored = st.get("restored")
    if restored:
        failed = f"; could not restore {', '.join(restored['failed'])}" \
            if restored["failed"] else ""
        print(f"  restored from checkpoint {paths.checkpoint}: {restored['domains']} "
              f"domains, resuming at simulated time {restored['sim_ns'] / 1e9:.3f} s{failed}"
              " (--fresh starts empty)")
        if st.get("spec") != spec.to_json():
            print("  the checkpointed host's options apply, not this command's")
    return 0


def _daemon_status(label: str, paths) -> tuple[dict[str, Any] | None, int]:  # type: ignore[no-untyped-def]
    """The daemon's status, or None with the exit code once "not running" (1) or
    "running ... busy" (0) is printed for *label*."""
    from xensim.toolstack.hostd import client

    pid, st = client.status(paths)
    if pid is None:
        print(f"{label}: not running")
        return None, 1
    if st is None:
        print(f"{label}: running, pid {pid} (busy: no answer within 10 s)")
        return None, 0
    return st, 0


def _host_status(paths) -> int:  # type: ignore[no-untyped-def]
    st, rc = _daemon_status(f"host {paths.name!r}", paths)
    if st is None:
        return rc
    doms = ", ".join(f"{d['name']} ({d['domid']})" for d in st["domains"])
    print(f"host {st['name']!r}: running, pid {st['pid']}\n"
          f"  uptime      {st['uptime_s']:.1f} s (wall)\n"
          f"  sim time    {st['sim_ns'] / 1e9:.3f} s (speed {st['speed']}x"
          f"{', clock slipped %d times' % st['slips'] if st['slips'] else ''})\n"
          f"  pCPUs       {st['pcpus']} ({st['scheduler']})\n"
          f"  memory      {st['memory_mib']} MiB ({st['free_memory_mib']} MiB free)\n"
          f"  domains     {len(st['domains'])}: {doms}")
    if st.get("site"):
        print(f"  site        {st['site']} (xensim site status --name {st['site']}; "
              "not checkpointed)")
    for line in st.get("devices", []):
        print(f"  {line}")
    return 0


def _setup_host(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", choices=("start", "status", "stop"))
    p.add_argument("--host", "--name", dest="host", metavar="NAME",
                   help="host name (default: $XENSIM_HOST or 'default')")
    _host_options(p, lone=True)


def _host_options(p: argparse.ArgumentParser, *, lone: bool) -> None:
    """The options of a host's :class:`HostSpec` (a site's hosts share them); *lone*
    adds those only a lone host has (a checkpoint to ignore, a web view)."""
    p.add_argument("--pcpus", type=int, default=None,
                   help="physical CPUs (start; default 4, or the --topology's)")
    p.add_argument("--topology", default=None, metavar="SxCxT",
                   help="sockets x cores per socket x threads per core (start), e.g. 2x8x2")
    p.add_argument("--xen-cmdline", default=None, metavar="TEXT",
                   help='Xen boot options (start), e.g. "sched=credit2 credit2_runqueue=all"')
    p.add_argument("--memory", type=int, default=16384, metavar="MiB",
                   help="host memory (start; default 16384)")
    p.add_argument("--hypervisor", default="xen", choices=tuple(HOST_KINDS),
                   help="host kind (start): xen, kvm (Linux+KVM, CFS, no dom0) or qemu-tcg")
    p.add_argument("--scheduler", default=None,
                   help="Pool-0 policy (start; default credit, or cfs for kvm/qemu-tcg)")
    p.add_argument("--speed", type=float, default=1.0, metavar="X",
                   help="simulated seconds per wall second (start; default 1.0)")
    p.add_argument("--seed", type=int, default=0, help="random seed (start)")
    if lone:
        p.add_argument("--fresh", action="store_true",
                       help="start empty, ignoring the host's checkpoint (start)")
    p.add_argument("--bridge", metavar="BR[:KIND],...",
                   help="dom0's bridges (start; default xenbr0), e.g. xenbr0,ovsbr0:openvswitch")
    p.add_argument("--pci", metavar="BDF[=KIND],...",
                   help="the host's PCI devices (start), e.g. 0000:03:00.0 (a NIC)")
    if lone:
        p.add_argument("--web", metavar="[ADDR:]PORT",
                       help="serve a live view of the host on http://ADDR:PORT/ (start; ADDR "
                            "defaults to 127.0.0.1; any other address needs the printed "
                            "token)")


def _setup_site(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", choices=("start", "status", "stop"))
    p.add_argument("--name", required=True, help="the site's name")
    p.add_argument("--hosts", metavar="H1,H2,...",
                   help="the site's hosts (start): each one an xl host (xl --host H1)")
    p.add_argument("--link", action="append", default=[], metavar="A-B[:MBIT[:US]]",
                   help="a link between two hosts (start; repeatable; default: every pair "
                        "at 1000 Mbit/s, 50 us)")
    _host_options(p, lone=False)


def cmd_site(args: argparse.Namespace) -> int:
    from xensim.site import SiteError
    from xensim.toolstack.hostd import client, site_daemon
    from xensim.toolstack.hostd.spec import HostSpecError

    try:
        paths = site_daemon.site_paths(args.name)
        if args.action == "start":
            if not args.hosts:
                raise SiteError("site start needs --hosts H1,H2,...")
            hosts = site_daemon.parse_hosts(args.hosts)
            links = [site_daemon.parse_link(t, hosts) for t in args.link] \
                or site_daemon.default_links(hosts)
            spec = host_spec(args).validate()
            argv = ["-m", "xensim.toolstack.hostd.site_daemon", "--name", args.name,
                    "--hosts", ",".join(hosts), "--spec", spec.to_json(),
                    *(f"--link={a}-{b}:{m:g}:{u:g}" for a, b, m, u in links)]
            st = client.spawn(paths, argv).status
            print(f"site {args.name!r} started: pid {st['pid']}, hosts {', '.join(hosts)}, "
                  f"speed {st['speed']}x (not checkpointed)")
            for link in st["links"]:
                a, b = link["between"]
                print(f"  link {a}-{b}: {link['bandwidth_mbit']:g} Mbit/s, "
                      f"{link['latency_us']:g} us")
            for name, h in st["hosts"].items():
                print(f"  host {name!r}: {h['pcpus']} pCPUs, {h['memory_mib']} MiB, "
                      f"{h['scheduler']} (xl --host {name})")
            return 0
        if args.action == "stop":
            if not client.stop_daemon(paths):
                print(f"xensim: site {args.name!r} is not running", file=sys.stderr)
                return 1
            print(f"site {args.name!r} stopped")
            return 0
        return _site_status(args.name, paths)
    except (HostSpecError, SiteError, HostNameError) as exc:
        print(f"xensim: error: {exc}", file=sys.stderr)
        return 2
    except (client.HostdError, OSError) as exc:
        print(f"xensim: {str(exc).replace(repr(paths.name), repr(args.name))}",
              file=sys.stderr)
        return 1


def _site_status(name: str, paths) -> int:  # type: ignore[no-untyped-def]
    st, rc = _daemon_status(f"site {name!r}", paths)
    if st is None:
        return rc
    print(f"site {name!r}: running, pid {st['pid']} (not checkpointed)\n"
          f"  uptime      {st['uptime_s']:.1f} s (wall)\n"
          f"  sim time    {st['sim_ns'] / 1e9:.3f} s (speed {st['speed']}x)")
    for link in st["links"]:
        a, b = link["between"]
        print(f"  link        {a}-{b}: {link['bandwidth_mbit']:g} Mbit/s, "
              f"{link['latency_us']:g} us, {link['bytes']} bytes sent")
    for hname, h in st["hosts"].items():
        doms = ", ".join(f"{d['name']} ({d['domid']})" for d in h["domains"])
        print(f"  host {hname!r}: {len(h['domains'])} domains: {doms}")
    for m in st["migrations"]:
        took = f", {m['total_ms']:.1f} ms" if m["total_ms"] is not None else ""
        down = f", downtime {m['downtime_ms']:.1f} ms" if m["downtime_ms"] is not None else ""
        print(f"  migration   {m['domain']}: {m['from']} -> {m['to']}, {m['state']}{took}{down}")
    return 0


def cmd_xl(args: argparse.Namespace) -> int:
    from xensim.toolstack.xl.client import main as xl_main

    return xl_main(args.xl_args)


def _setup_xl(p: argparse.ArgumentParser) -> None:
    p.add_argument("xl_args", nargs=argparse.REMAINDER, help="an xl command line")


def _setup_run(p: argparse.ArgumentParser) -> None:
    p.add_argument("scenario", help="scenario file (TOML)")
    p.add_argument("--json", metavar="OUT", help="write the results as JSON to OUT")
    p.add_argument("--seed", type=int, help="override [host] seed")
    p.add_argument("-q", "--quiet", action="store_true",
                   help="print no table (and no progress bar)")
    p.add_argument("--profile", action="store_true",
                   help="print where the wall time went (cProfile, by module and function)")
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
    ("compare", "run one workload under PV, PVH, HVM, HVM with PV drivers and shadow "
                "paging; where the time went", compare_cli.setup_parser, compare_cli.cmd_compare),
    ("migrate-sweep", "live-migrate one guest between two hosts under a sweep of link "
                      "speeds, dirtying rates, memory sizes or dom0 caps",
     migrate_cli.setup_parser, migrate_cli.cmd_migrate_sweep),
    ("host", "start, inspect or stop a persistent simulated host (for xl)", _setup_host,
     cmd_host),
    ("site", "start, inspect or stop several persistent hosts on one clock (xl migrate)",
     _setup_site, cmd_site),
    ("xl", "run an xl command against a simulated host (same as the xl script)", _setup_xl,
     cmd_xl),
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="xensim", description="A Xen hypervisor simulator.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, help_text, setup, fn in COMMANDS:
        # argparse %-formats a subcommand's help in the command list; escape the "%".
        p = sub.add_parser(name, help=help_text.replace("%", "%%"), description=help_text)
        setup(p)
        p.set_defaults(fn=fn)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["xl"]:  # everything after "xl" is xl's, options included
        from xensim.toolstack.xl.client import main as xl_main

        return xl_main(argv[1:])
    args: Any = build_parser().parse_args(argv)
    try:
        return int(args.fn(args))
    except (ScenarioError, ResearchError, compare_cli.CompareError,
            migrate_cli.ExperimentError) as exc:
        print(f"xensim: error: {exc}", file=sys.stderr)
        return 2
    except HostNameError as exc:
        print(f"xensim: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())

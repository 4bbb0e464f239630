"""Rich tables of a run's results, for the terminal."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table


def domain_table(result: dict[str, Any], title: str = "") -> Table:
    dur = result["duration_ns"]
    table = Table(title=title or f"{dur / 1e9:g} simulated s on {result['host']['pcpus']} pCPUs "
                                 f"({result['host']['scheduler']}, seed {result['host']['seed']})")
    for col, justify in (("Domain", "left"), ("ID", "right"), ("Workload", "left"),
                         ("CPU%", "right"), ("Wait s", "right"), ("Block s", "right"),
                         ("Wake p50", "right"), ("p99", "right"), ("max µs", "right"),
                         ("Jobs/miss", "right")):
        table.add_column(col, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    with_io = any("io" in d for d in result["domains"].values())
    if with_io:
        table.add_column("I/O ops", justify="right", no_wrap=True)
        table.add_column("I/O p50/p99 µs", justify="right", no_wrap=True)
    for name, d in result["domains"].items():
        vc = d["vcpus"]
        lat = max((v["wakeup_latency_us"] for v in vc), key=lambda x: x["p99"])
        jobs = f"{d['jobs']} / {d['deadline_misses']}" if "jobs" in d else ""
        row = [name + (" (destroyed)" if d.get("destroyed") else ""), str(d["domid"]),
               d["workload"], f"{100 * d['cpu_share']:.1f}",
               f"{sum(v['runnable_ns'] for v in vc) / 1e9:.3f}",
               f"{sum(v['blocked_ns'] for v in vc) / 1e9:.3f}",
               f"{lat['p50']:.1f}", f"{lat['p99']:.1f}", f"{lat['max']:.1f}", jobs]
        if with_io:
            io = d.get("io")
            row += [str(io["ops"]), f"{io['latency_us']['p50']:.0f} / "
                                    f"{io['latency_us']['p99']:.0f}"] if io else ["", ""]
        table.add_row(*row)
    return table


def make_console() -> Console:
    """A console wide enough for the tables even when output is piped."""
    console = Console()
    if not console.is_terminal:
        console = Console(width=max(console.width, 132))
    return console


def print_result(result: dict[str, Any], console: Console | None = None) -> None:
    console = console or make_console()
    if "hosts" in result:  # a site: each host's table, then its migrations
        _print_site(result, console)
    else:
        console.print(domain_table(result))
    for a in result.get("actions", []):
        status = "ok" if a["rc"] == 0 else f"failed ({a['rc']}): {a['error']}"
        on = f" on {a['host']}" if "host" in a else ""
        console.print(f"  action at {a['at_ms']:g} ms{on}: xl {a['command']} -> {status}",
                      highlight=False)
    console.print(f"  {result['events']:,} SimPy events in {result['wall_s']:.2f} s wall",
                  highlight=False)


def _print_site(result: dict[str, Any], console: Console) -> None:
    from xensim.migrate.table import migration_table, rounds_table

    for name, host in result["hosts"].items():
        h = host["host"]
        console.print(domain_table(host, f"host {name}: {host['duration_ns'] / 1e9:g} "
                                         f"simulated s on {h['pcpus']} pCPUs "
                                         f"({h['scheduler']}, seed {h['seed']})"))
    if result["migrations"]:
        console.print(migration_table(result["migrations"], "live migrations"))
        for mig in result["migrations"]:
            console.print(rounds_table(mig))

"""xl's command table, as data: one row per command.

Mirrors: tools/xl/xl_cmdtable.c (``struct cmd_spec``: name, implementation,
can_dryrun, modifies, help, usage, options) and ``cmdtable_lookup``, which
accepts an unambiguous prefix.  Help text is generated from these rows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from xensim.toolstack.xl.context import XlContext

CmdFn = Callable[["XlContext", list[str]], int]


@dataclass(frozen=True, slots=True)
class CmdSpec:
    name: str
    fn: CmdFn
    can_dryrun: bool
    modifies: bool
    desc: str
    usage: str
    options: str = ""


def _table() -> list[CmdSpec]:
    from xensim.toolstack.xl import xl_info, xl_sched, xl_vmcontrol

    return [
        CmdSpec("destroy", xl_vmcontrol.main_destroy, False, True,
                "Terminate a domain immediately", "[options] <Domain>",
                "-f                      Permit destroying domain 0"),
        CmdSpec("list", xl_info.main_list, False, False,
                "List information about all/some domains", "[options] [Domain]",
                "-l, --long              Output all VM details\n"
                "-v, --verbose           Prints out UUIDs and security context"),
        CmdSpec("pause", xl_vmcontrol.main_pause, False, True,
                "Pause execution of a domain", "<Domain>"),
        CmdSpec("unpause", xl_vmcontrol.main_unpause, False, True,
                "Unpause a paused domain", "<Domain>"),
        CmdSpec("dmesg", xl_info.main_dmesg, False, False,
                "Read and/or clear dmesg buffer", "[-c]",
                "  -c                        Clear dmesg buffer as well as printing it"),
        CmdSpec("info", xl_info.main_info, False, False,
                "Get information about Xen host", "[-n|--numa]"),
        CmdSpec("vcpu-list", xl_info.main_vcpulist, False, False,
                "List the VCPUs for all/some domains", "[Domain, ...]"),
        CmdSpec("sched-credit", xl_sched.main_sched_credit, False, True,
                "Get/set credit scheduler parameters", "[-d <Domain> [-w[=WEIGHT]|-c[=CAP]]] "
                "[-s [-t TSLICE] [-r RATELIMIT]] [-p CPUPOOL]",
                "-d DOMAIN, --domain=DOMAIN        Domain to modify\n"
                "-w WEIGHT, --weight=WEIGHT        Weight (int)\n"
                "-c CAP, --cap=CAP                 Cap (int)\n"
                "-s         --schedparam           Query / modify scheduler parameters\n"
                "-t TSLICE, --tslice_ms=TSLICE     Set the timeslice, in milliseconds\n"
                "-r RLIMIT, --ratelimit_us=RLIMIT  Set the scheduling rate limit, in microseconds\n"
                "-m DLY, --migration_delay_us=DLY  Set the migration delay, in microseconds\n"
                "-p CPUPOOL, --cpupool=CPUPOOL     Restrict output to CPUPOOL"),
        CmdSpec("debug-keys", xl_info.main_debug_keys, False, False,
                "Send debug keys to Xen", "<Keys>"),
        CmdSpec("help", main_help, False, False, "Print this help", "[command]"),
    ]


def main_help(ctx: XlContext, args: list[str]) -> int:
    if args:
        spec = lookup(args[0])
        if spec is None:
            ctx.err.write(f"command {args[0]!r} not implemented\n")
            return 1
        print_usage(ctx.out, spec)
        return 0
    ctx.out.write("Usage xl [-vfNtT] <subcommand> [args]\n\nxl full list of subcommands:\n\n")
    for spec in CMD_TABLE:
        ctx.out.write(f" {spec.name:<20} {spec.desc}\n")
    return 0


def print_usage(stream, spec: CmdSpec) -> None:  # type: ignore[no-untyped-def]
    stream.write(f"Usage: xl [-v{'N' if spec.can_dryrun else ''}] {spec.name} {spec.usage}\n\n"
                 f"{spec.desc}.\n\n")
    if spec.options:
        stream.write(f"Options:\n\n{spec.options}\n")


def lookup(name: str) -> CmdSpec | None:
    """Exact name, else an unambiguous prefix (xl's cmdtable_lookup)."""
    for spec in CMD_TABLE:
        if spec.name == name:
            return spec
    matches = [s for s in CMD_TABLE if s.name.startswith(name)]
    return matches[0] if len(matches) == 1 else None


CMD_TABLE: list[CmdSpec] = _table()

"""xl commands that report on domains and the host (tools/xl/xl_info.c, xl_misc.c).

Formats follow real xl column for column, tabs included, so that what a
learner sees here is what a real dom0 prints.  Times are simulated: a
domain's CPU time is its vCPUs' time in RUNSTATE_running, its uptime counts
from its creation in simulated time.
"""

from __future__ import annotations

from xensim.hypervisor.domain import Domain
from xensim.hypervisor.vcpu import PauseFlag, RunState
from xensim.toolstack.libxl_json import domain_config_json, yajl_dumps
from xensim.toolstack.xl.context import XlContext, XlUsageError
from xensim.toolstack.xl.getopt import getopt
from xensim.toolstack.xl.xl_vcpu import main_vcpulist  # noqa: F401  (historical home)

SHUTDOWN_REASON_LETTERS = "-rscwS"
LIST_HEADER = "Name                                        ID   Mem VCPUs\tState\tTime(s)"


def state_letters(d: Domain) -> str:
    """xl list's six letters, from the flags Xen's getdomaininfo computes: running if any
    vCPU runs, blocked if every online vCPU is blocked, paused by the controller only
    (the pause that shutdown and destruction hold does not show as 'p')."""
    online = [v for v in d.vcpus if not v.pause_flags & PauseFlag.DOWN]
    running = any(v.is_running for v in d.vcpus)
    blocked = bool(online) and all(v.pause_flags & PauseFlag.BLOCKED for v in online)
    held = (1 if d.is_shutdown else 0) + (1 if d.is_dying else 0)
    reason = int(d.shutdown_code) if d.is_shutdown and d.shutdown_code is not None else 0
    return "".join((
        "r" if running else "-",
        "b" if blocked else "-",
        "p" if d.pause_count - held > 0 else "-",
        "s" if d.is_shutdown else "-",
        SHUTDOWN_REASON_LETTERS[reason] if reason < len(SHUTDOWN_REASON_LETTERS) else "?",
        "d" if d.is_dying else "-",
    ))


def cpu_time_ns(d: Domain, now: int) -> int:
    return sum(v.runstate_snapshot(now)[RunState.RUNNING] for v in d.vcpus)


def online_vcpus(d: Domain) -> int:
    return sum(1 for v in d.vcpus if not v.pause_flags & PauseFlag.DOWN)


def main_list(ctx: XlContext, args: list[str]) -> int:
    opts, operands = getopt(args, "lvZcn", {"long": "l", "verbose": "v", "context": "Z",
                                            "cpupool": "c", "numa": "n"}, cmd="list")
    flags = {o for o, _ in opts}
    hyp = ctx.host.hv
    if len(operands) > 1:
        raise XlUsageError("")
    doms = [ctx.libxl.lookup(operands[0])] if operands else \
        sorted(hyp.domains.values(), key=lambda d: d.domid)
    if "l" in flags:
        # list_domains_details: a domain libxl keeps no config for (Domain-0) is skipped
        out = [{"domid": d.domid, "config": domain_config_json(d.info["config"], d, ctx.libxl)}
               for d in doms if d.info.get("config") is not None and d.domid != 0]
        ctx.out.write(yajl_dumps(out) + "\n")  # yajl's final newline, then puts'
        return 0
    verbose, context = "v" in flags, "Z" in flags
    header = LIST_HEADER
    if verbose:
        header += "   UUID                            Reason-Code\tSecurity Label"
    if context and not verbose:
        header += "   Security Label"
    if "c" in flags:
        header += "         Cpupool"
    if "n" in flags:
        header += " NODE Affinity"
    ctx.out.write(header + "\n")
    now = hyp.env.now
    for d in doms:
        line = "%-40s %5d %5d %5d     %s  %8.1f" % (
            d.name, d.domid, d.memory_kib // 1024, online_vcpus(d), state_letters(d),
            cpu_time_ns(d, now) / 1e9)
        if verbose:
            shut = d.is_shutdown and d.shutdown_code is not None
            code = "%8x" % int(d.shutdown_code) if shut else "%8s" % "-"  # type: ignore[arg-type]
            line += f" {d.handle} {code}"
        if verbose or context:
            line += " %16s" % "-"
        if "c" in flags:
            line += "%16s" % d.pool.name
        if "n" in flags:
            line += " all"
        ctx.out.write(line + "\n")
    return 0


def main_dmesg(ctx: XlContext, args: list[str]) -> int:
    opts, _ = getopt(args, "c", {"clear": "c"}, cmd="dmesg")
    hyp = ctx.host.hv
    for t, msg in hyp.dmesg:
        ctx.out.write(f"(XEN) [{t / 1e9:12.6f}] {msg}\n")
    if opts:
        hyp.dmesg.clear()
    return 0


def info_rows(ctx: XlContext) -> list[tuple[str, object]]:
    """``xl info``'s keys in xl's order (output_nodeinfo, output_physinfo, output_xeninfo)."""
    hyp = ctx.host.hv
    nr = len(hyp.pcpus)
    sched = hyp.pools[0].sched.name
    free_cpus = nr - sum(len(p.cpu_ids) for p in hyp.pools.values())
    return [
        ("host", "xensim"), ("release", "6.1.0-xensim"), ("version", "#1 SMP xensim"),
        ("machine", "x86_64"), ("nr_cpus", nr), ("max_cpu_id", nr - 1), ("nr_nodes", 1),
        ("cores_per_socket", nr), ("threads_per_core", 1), ("cpu_mhz", "2400.000"),
        ("hw_caps", ":".join(["00000000"] * 8)), ("virt_caps", " pv hvm hap"),
        ("total_memory", hyp.total_memory_kib // 1024),
        ("free_memory", hyp.free_memory_kib // 1024),
        ("sharing_freed_memory", 0), ("sharing_used_memory", 0), ("outstanding_claims", 0),
        ("free_cpus", free_cpus), ("xen_major", 4), ("xen_minor", 19), ("xen_extra", ".0"),
        ("xen_version", "4.19.0"),
        ("xen_caps", "xen-3.0-x86_64 hvm-3.0-x86_32 hvm-3.0-x86_32p hvm-3.0-x86_64"),
        ("xen_scheduler", sched), ("xen_pagesize", 4096),
        ("platform_params", "virt_start=0xffff800000000000"),
        ("xen_changeset", "xensim"),
        ("xen_commandline", f"sched={sched} dom0_mem={ctx.host.dom0.memory_kib // 1024}M"),
        ("cc_compiler", "python"), ("cc_compile_by", "xensim"),
        ("cc_compile_domain", "xensim"), ("cc_compile_date", "simulated"),
        ("build_id", "0"), ("xend_config_format", 4),
    ]


def main_info(ctx: XlContext, args: list[str]) -> int:
    """``xl info [name]``: every key, or only the value of the keys starting with *name*."""
    opts, ops = getopt(args, "n", {"numa": "n"}, cmd="info")
    numa = bool(opts)
    only = ops[0] if ops and not numa else None
    hyp = ctx.host.hv
    for key, value in info_rows(ctx):
        if only is not None:
            if key.startswith(only):
                ctx.out.write(f"{value}\n")
            continue
        ctx.out.write(f"{key:<23}: {value}\n")
        if numa and key == "free_cpus":
            ctx.out.write("cpu_topology           :\ncpu:    core    socket     node\n")
            for c in range(len(hyp.pcpus)):
                ctx.out.write("%3d:    %4d     %4d     %4d\n" % (c, c, 0, 0))
            ctx.out.write("device topology        :\ndevice           node\n"
                          "No device topology data available\n"
                          "numa_info              :\nnode:    memsize    memfree    distances\n"
                          "%4d:    %6d     %6d      %d\n" % (
                              0, hyp.total_memory_kib // 1024, hyp.free_memory_kib // 1024, 10))
    return 0


def uptime_to_string(seconds: int, short: bool) -> str:
    day, rest = divmod(seconds, 86400)
    hour, rest = divmod(rest, 3600)
    minute, sec = divmod(rest, 60)
    days = f"{day} day{'s' if day > 1 else ''}, " if day else ""
    if short:
        return f"{days}{hour:2d}:{minute:02d}"
    return f"{days}{hour:2d}:{minute:02d}:{sec:02d}"


def main_uptime(ctx: XlContext, args: list[str]) -> int:
    """Uptimes in simulated time: dom0's is the host's, a guest's counts from its creation;
    the short form's clock reads simulated time since boot as the time of day."""
    opts, ops = getopt(args, "s", cmd="uptime")
    short = bool(opts)
    hyp = ctx.host.hv
    doms = [ctx.libxl.lookup(o) for o in ops] if ops else \
        sorted(hyp.domains.values(), key=lambda d: d.domid)
    now_s = hyp.env.now // 1_000_000_000
    clock = "%02d:%02d:%02d" % (now_s // 3600 % 24, now_s // 60 % 60, now_s % 60)
    if not short:
        ctx.out.write("%-33s %4s %s\n" % ("Name", "ID", "Uptime"))
    for d in doms:
        up = (hyp.env.now - (0 if d.domid == 0 else d.create_time)) // 1_000_000_000
        if short:
            ctx.out.write(f" {clock} up {uptime_to_string(up, True)}, {d.name} ({d.domid})\n")
        else:
            ctx.out.write("%-33s %4d %s\n" % (d.name, d.domid, uptime_to_string(up, False)))
    return 0


def main_debug_keys(ctx: XlContext, args: list[str]) -> int:
    _, operands = getopt(args, "", cmd="debug-keys", reqargs=1)
    hyp = ctx.host.hv
    for key in operands[0]:
        if key == "r":
            for pool in hyp.pools.values():
                hyp.log(f"Cpupool {pool.name}:\n" + pool.sched.dump())
        else:
            hyp.log(f"'{key}' pressed -> no handler in xensim (keys: r)")
    return 0

"""xl commands that report on domains and the host (tools/xl/xl_info.c, xl_vcpu.c).

Formats follow real xl column for column, tabs included, so that what a
learner sees here is what a real dom0 prints.
"""

from __future__ import annotations

import json

from xensim.hypervisor.cpumap import format_cpumap
from xensim.hypervisor.domain import Domain
from xensim.hypervisor.vcpu import PauseFlag, RunState
from xensim.toolstack.xl.context import XlContext, XlUsageError
from xensim.toolstack.xl.getopt import getopt

SHUTDOWN_REASON_LETTERS = "-rscwS"


def state_letters(d: Domain) -> str:
    running = any(v.is_running for v in d.vcpus)
    blocked = all(v.pause_flags & PauseFlag.BLOCKED for v in d.vcpus)
    reason = int(d.shutdown_code) if d.is_shutdown and d.shutdown_code is not None else 0
    return "".join((
        "r" if running else "-",
        "b" if blocked else "-",
        "p" if d.pause_count > 0 else "-",
        "s" if d.is_shutdown else "-",
        SHUTDOWN_REASON_LETTERS[reason] if reason < len(SHUTDOWN_REASON_LETTERS) else "?",
        "d" if d.is_dying else "-",
    ))


def cpu_time_ns(d: Domain, now: int) -> int:
    return sum(v.runstate_snapshot(now)[RunState.RUNNING] for v in d.vcpus)


def online_vcpus(d: Domain) -> int:
    return sum(1 for v in d.vcpus if not v.pause_flags & PauseFlag.DOWN)


def main_list(ctx: XlContext, args: list[str]) -> int:
    opts, operands = getopt(args, "lvZ", {"long": "l", "verbose": "v", "context": "Z"})
    flags = {o for o, _ in opts}
    hyp = ctx.host.hv
    doms = sorted(hyp.domains.values(), key=lambda d: d.domid)
    if operands:
        doms = [ctx.libxl.lookup(operands[0])]
    if "l" in flags:
        out = []
        for d in doms:
            cfg = d.info.get("config")
            cfg_dict = cfg.to_dict() if hasattr(cfg, "to_dict") else {"name": d.name}
            out.append({"domid": d.domid, "config": cfg_dict})
        ctx.out.write(json.dumps(out, indent=4) + "\n")
        return 0
    verbose = "v" in flags
    header = "Name                                        ID   Mem VCPUs\tState\tTime(s)"
    if verbose:
        header += "   UUID                            Reason-Code\tSecurity Label"
    ctx.out.write(header + "\n")
    now = hyp.env.now
    for d in doms:
        line = "%-40s %5d %5d %5d     %s  %8.1f" % (
            d.name, d.domid, d.memory_kib // 1024, online_vcpus(d), state_letters(d),
            cpu_time_ns(d, now) / 1e9)
        if verbose:
            code = int(d.shutdown_code) if d.shutdown_code is not None else -1
            line += " %s %5s" % (d.handle, code if d.is_shutdown else "-")
        ctx.out.write(line + "\n")
    return 0


def main_vcpulist(ctx: XlContext, args: list[str]) -> int:
    _, operands = getopt(args, "")
    hyp = ctx.host.hv
    doms = [ctx.libxl.lookup(o) for o in operands] if operands else \
        sorted(hyp.domains.values(), key=lambda d: d.domid)
    ctx.out.write("Name                                ID  VCPU   CPU State   Time(s) "
                  "Affinity (Hard / Soft)\n")
    nr = len(hyp.pcpus)
    now = hyp.env.now
    for d in doms:
        for v in d.vcpus:
            if v.pause_flags & PauseFlag.DOWN:
                continue
            state = ("r" if v.is_running else "-") + \
                    ("b" if v.pause_flags & PauseFlag.BLOCKED else "-") + \
                    ("p" if d.pause_count or v.pause_count else "-")
            cpu = "%5d" % v.processor.cpu_id if v.is_running else "    -"
            soft = format_cpumap(v.soft_affinity, nr) if v.soft_affinity is not None else "all"
            ctx.out.write("%-32s %5d %5d %s   %s  %9.1f  %s / %s\n" % (
                d.name, d.domid, v.vcpu_id, cpu, state,
                v.runstate_snapshot(now)[RunState.RUNNING] / 1e9,
                format_cpumap(v.hard_affinity, nr), soft))
    return 0


def main_dmesg(ctx: XlContext, args: list[str]) -> int:
    opts, operands = getopt(args, "c")
    if operands:
        raise XlUsageError("dmesg takes no operands")
    hyp = ctx.host.hv
    for t, msg in hyp.dmesg:
        ctx.out.write(f"(XEN) [{t / 1e9:12.6f}] {msg}\n")
    if any(o == "c" for o, _ in opts):
        hyp.dmesg.clear()
    return 0


def main_info(ctx: XlContext, args: list[str]) -> int:
    getopt(args, "n", {"numa": "n"})
    hyp = ctx.host.hv
    total = hyp.total_memory_kib // 1024
    rows = [
        ("host", "xensim"),
        ("release", "simulated"),
        ("machine", "x86_64"),
        ("nr_cpus", len(hyp.pcpus)),
        ("max_cpu_id", len(hyp.pcpus) - 1),
        ("nr_nodes", 1),
        ("cores_per_socket", len(hyp.pcpus)),
        ("threads_per_core", 1),
        ("total_memory", total),
        ("free_memory", hyp.free_memory_kib // 1024),
        ("xen_major", 4),
        ("xen_minor", 19),
        ("xen_scheduler", hyp.pools[0].sched.name),
        ("xen_commandline", f"sched={hyp.pools[0].sched.name}"),
    ]
    for key, value in rows:
        ctx.out.write(f"{key:<23}: {value}\n")
    return 0


def main_debug_keys(ctx: XlContext, args: list[str]) -> int:
    _, operands = getopt(args, "")
    if len(operands) != 1:
        raise XlUsageError("expected the debug keys")
    hyp = ctx.host.hv
    for key in operands[0]:
        if key == "r":
            for pool in hyp.pools.values():
                hyp.log(f"Cpupool {pool.name}:\n" + pool.sched.dump())
        else:
            hyp.log(f"'{key}' pressed -> no handler in xensim (keys: r)")
    return 0

"""xl's vCPU commands (tools/xl/xl_vcpu.c): vcpu-list, vcpu-pin, vcpu-set.

``vcpu-list`` prints one row per vCPU as ``print_vcpuinfo`` does: an
offline vCPU shows CPU ``-`` and state ``--p``; an online one shows the pCPU
it last ran or queued on, with ``r`` (running) and ``b`` (blocked).
"""

from __future__ import annotations

from xensim.hypervisor.cpumap import CpumapError, format_cpumap, parse_cpumap
from xensim.hypervisor.domain import Domain
from xensim.hypervisor.vcpu import VCPU, PauseFlag, RunState
from xensim.toolstack.cnum import INT_MAX, strtol, strtoul
from xensim.toolstack.xl.context import XlContext
from xensim.toolstack.xl.getopt import getopt

VCPU_LIST_HEADER = "%-32s %5s %5s %5s %5s %9s %s\n" % (
    "Name", "ID", "VCPU", "CPU", "State", "Time(s)", "Affinity (Hard / Soft)")


def vcpu_row(d: Domain, v: VCPU, nr_cpus: int, now: int) -> str:
    head = "%-32s %5d %5d" % (d.name, d.domid, v.vcpu_id)
    if v.pause_flags & PauseFlag.DOWN:
        state = "%5s %3s%sp " % ("-", "-", "-")
    else:
        state = "%5d %3s%s- " % (v.processor.cpu_id, "r" if v.is_running else "-",
                                 "b" if v.pause_flags & PauseFlag.BLOCKED else "-")
    cpu_time = v.runstate_snapshot(now)[RunState.RUNNING] / 1e9
    soft = v.soft_affinity if v.soft_affinity is not None else range(nr_cpus)
    return "%s%s%9.1f  %s / %s\n" % (head, state, cpu_time,
                                    format_cpumap(v.hard_affinity, nr_cpus),
                                    format_cpumap(soft, nr_cpus))


def main_vcpulist(ctx: XlContext, args: list[str]) -> int:
    _, ops = getopt(args, "", cmd="vcpu-list")
    hyp = ctx.host.hv
    doms = [ctx.libxl.lookup(o) for o in ops] if ops else \
        sorted(hyp.domains.values(), key=lambda d: d.domid)
    ctx.out.write(VCPU_LIST_HEADER)
    nr, now = len(hyp.pcpus), hyp.env.now
    for d in doms:
        for v in d.vcpus:
            ctx.out.write(vcpu_row(d, v, nr, now))
    return 0


def _cpumap(ctx: XlContext, text: str) -> frozenset[int] | None:
    """A vcpu-pin affinity argument: ``-`` (leave alone), ``all`` or an xl cpumap."""
    if text == "-":
        return None
    return parse_cpumap(text, len(ctx.host.hv.pcpus))


def main_vcpupin(ctx: XlContext, args: list[str]) -> int:
    opts, ops = getopt(args, "f", {"force": "f"}, cmd="vcpu-pin", reqargs=3)
    force = any(o == "f" for o, _ in opts)
    d = ctx.libxl.lookup(ops[0])
    vcpu_text = ops[1]
    got = strtol(vcpu_text)  # xl: strtol(vcpu, &endptr, 10), "all" when no number
    if got.end and got.value >= 0:
        vcpuid: int | None = got.value
    elif vcpu_text == "all":
        if force:
            ctx.err.write("Error: --force and 'all' as VCPU not allowed.\n")
            return 1
        vcpuid = None
    else:
        ctx.err.write(f"Error: Invalid argument {vcpu_text} as VCPU.\n")
        return 1
    try:
        hard = _cpumap(ctx, ops[2])
        soft = _cpumap(ctx, ops[3]) if len(ops) > 3 else None
    except CpumapError as exc:
        ctx.err.write(f"Invalid cpumap: {exc}\n")
        return 1
    nr = len(ctx.host.hv.pcpus)
    if ctx.dryrun:
        line = "cpumap: " + (format_cpumap(hard, nr) if hard is not None else "-")
        if soft is not None:
            line += " " + format_cpumap(soft, nr)
        ctx.out.write(line + "\n")
        return 0
    ctx.libxl.set_vcpuaffinity(d, vcpuid, hard, soft)
    return 0


def main_vcpuset(ctx: XlContext, args: list[str]) -> int:
    opts, ops = getopt(args, "i", {"ignore-host": "i"}, cmd="vcpu-set", reqargs=2)
    check_host = not any(o == "i" for o, _ in opts)
    d = ctx.libxl.lookup(ops[0])
    got = strtoul(ops[1])  # xl: strtoul(nr_vcpus, &endptr, 10); rubbish after is ignored
    if got.end == 0 or got.value > INT_MAX:
        ctx.err.write("Error: Invalid argument.\n")
        return 1
    nr = got.value
    host_cpus = len(ctx.host.hv.pcpus)
    online = sum(1 for v in d.vcpus if not v.pause_flags & PauseFlag.DOWN)
    if check_host and nr > online and nr > host_cpus:
        ctx.err.write(f"You are overcommmitting! You have {host_cpus} physical CPUs and want "
                      f"{nr} vCPUs! Aborting, use --ignore-host to continue\n")
        return 1
    ctx.libxl.set_vcpuonline(d, nr)
    return 0

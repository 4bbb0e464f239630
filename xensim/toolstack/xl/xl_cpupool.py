"""xl's cpupool commands (tools/xl/xl_cpupool.c).

``cpupool-create`` reads an xl.cfg-syntax pool file (``name``, ``sched``,
``cpus``) plus ``key=value`` overrides, with the same parser and error
messages as domain configs.  The pCPUs a new pool takes must be free: as on a
real host, ``cpupool-cpu-remove Pool-0 N`` frees them first.
"""

from __future__ import annotations

from pathlib import Path

from xensim.hypervisor.cpumap import CpumapError, parse_cpumap
from xensim.toolstack.cfgvalue import get_str, get_str_or_list
from xensim.toolstack.libxl import LibxlError
from xensim.toolstack.xl.context import XlContext, XlUsageError
from xensim.toolstack.xl.getopt import getopt
from xensim.toolstack.xlcfg import parse_xlcfg


def main_cpupoollist(ctx: XlContext, args: list[str]) -> int:
    opts, ops = getopt(args, "c", {"cpus": "c"}, cmd="cpupool-list")
    show_cpus = any(o == "c" for o, _ in opts)
    pools = sorted(ctx.host.hv.pools.values(), key=lambda p: p.pool_id)
    if ops:
        pools = [p for p in pools if p.name == ops[0]]
        if not pools:
            ctx.err.write(f"Pool '{ops[0]}' does not exist\n")
            return 1
    ctx.out.write("%-19s" % "Name")
    ctx.out.write("CPU list\n" if show_cpus else "CPUs   Sched     Active   Domain count\n")
    for pool in pools:
        cpus = sorted(pool.cpu_ids)
        ctx.out.write("%-19s" % pool.name)
        if show_cpus:
            ctx.out.write(",".join(str(c) for c in cpus))
        else:
            ctx.out.write("%3d %9s       y       %4d" % (len(cpus), pool.sched.name, pool.n_dom))
        ctx.out.write("\n")
    return 0


def main_cpupoolcreate(ctx: XlContext, args: list[str]) -> int:
    opts, ops = getopt(args, "nf:", {"dryrun": "n", "defconfig": "f"}, cmd="cpupool-create")
    o = dict(opts)
    cfg_file = o.get("f")
    if cfg_file is None and ops and "=" not in ops[0]:
        cfg_file = ops.pop(0)
    text = ""
    if cfg_file is not None:
        path = Path(ctx.cwd or ".") / cfg_file
        try:
            text = path.read_text()
        except OSError as exc:
            ctx.err.write(f"Failed to read config file: {cfg_file}: {exc.strerror}\n")
            return 1
    raw = parse_xlcfg(text, cfg_file or "<command line>")
    if ops:
        raw = raw.extended(parse_xlcfg("\n".join(ops), "<command line>"))
    name_s, sched_s, cpus_s = raw.get("name"), raw.get("sched"), raw.get("cpus")
    if name_s is None:
        ctx.err.write("Missing cpupool name\n")
        return 1
    name = get_str(name_s)
    sched = get_str(sched_s) if sched_s is not None else ctx.host.hv.pools[0].sched.name
    cpus = get_str_or_list(cpus_s) if cpus_s is not None else None
    if "n" in o or ctx.dryrun:
        ctx.out.write(f'name = "{name}"\nsched = "{sched}"\ncpus = {cpus!r}\n')
        return 0
    ctx.libxl.cpupool_create(name, sched, cpus)
    return 0


def main_cpupooldestroy(ctx: XlContext, args: list[str]) -> int:
    _, ops = getopt(args, "", cmd="cpupool-destroy")
    if len(ops) != 1:
        raise XlUsageError("'xl cpupool-destroy' requires exactly 1 argument.")
    ctx.libxl.cpupool_destroy(ctx.libxl.pool_by_name(ops[0]))
    return 0


def main_cpupoolrename(ctx: XlContext, args: list[str]) -> int:
    _, ops = getopt(args, "", cmd="cpupool-rename")
    if len(ops) != 2:
        raise XlUsageError("'xl cpupool-rename' requires exactly 2 arguments.")
    pool = ctx.libxl.pool_by_name(ops[0])
    if any(p.name == ops[1] for p in ctx.host.hv.pools.values()):
        raise LibxlError(f"cpupool {ops[1]!r} already exists")
    pool.name = ops[1]
    return 0


def _cpus(ctx: XlContext, spec: str) -> list[int]:
    try:
        return sorted(parse_cpumap(spec, len(ctx.host.hv.pcpus)))
    except CpumapError as exc:
        raise XlUsageError(f"invalid cpu specification {spec!r}: {exc}") from None


def main_cpupoolcpuadd(ctx: XlContext, args: list[str]) -> int:
    _, ops = getopt(args, "", cmd="cpupool-cpu-add")
    if len(ops) != 2:
        raise XlUsageError("'xl cpupool-cpu-add' requires exactly 2 arguments.")
    pool = ctx.libxl.pool_by_name(ops[0])
    for cpu in _cpus(ctx, ops[1]):
        ctx.libxl.cpupool_cpu_add(pool, cpu)
    return 0


def main_cpupoolcpuremove(ctx: XlContext, args: list[str]) -> int:
    _, ops = getopt(args, "", cmd="cpupool-cpu-remove")
    if len(ops) != 2:
        raise XlUsageError("'xl cpupool-cpu-remove' requires exactly 2 arguments.")
    pool = ctx.libxl.pool_by_name(ops[0])
    for cpu in _cpus(ctx, ops[1]):
        ctx.libxl.cpupool_cpu_remove(pool, cpu)
    return 0


def main_cpupoolmigrate(ctx: XlContext, args: list[str]) -> int:
    _, ops = getopt(args, "", cmd="cpupool-migrate")
    if len(ops) != 2:
        raise XlUsageError("'xl cpupool-migrate' requires exactly 2 arguments.")
    ctx.libxl.cpupool_migrate(ctx.libxl.lookup(ops[0]), ctx.libxl.pool_by_name(ops[1]))
    return 0

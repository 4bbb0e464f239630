"""xl's cpupool commands (tools/xl/xl_cpupool.c).

``cpupool-create`` reads an xl.cfg-syntax pool file (``name``, ``sched``,
``cpus``) plus ``key=value`` overrides, with the same parser and error
messages as domain configs.  The pCPUs a new pool takes must be free: as on a
real host, ``cpupool-cpu-remove Pool-0 N`` frees them first.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from xensim.hypervisor.cpumap import CpumapError, parse_cpumap
from xensim.toolstack.cfgvalue import get_str, get_str_or_list
from xensim.toolstack.libxl import LibxlError
from xensim.toolstack.xl.context import XlContext, XlUsageError
from xensim.toolstack.xl.getopt import getopt
from xensim.toolstack.xlcfg import parse_xlcfg

if TYPE_CHECKING:
    from xensim.hypervisor.cpupool import Cpupool


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
        try:
            text = ctx.read_user_file(cfg_file).decode("utf-8", errors="replace")
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


def _operands(args: list[str], cmd: str, n: int) -> list[str]:
    _, ops = getopt(args, "", cmd=cmd)
    if len(ops) != n:
        raise XlUsageError(f"'xl {cmd}' requires exactly {n} argument{'s' if n > 1 else ''}.")
    return ops


def main_cpupooldestroy(ctx: XlContext, args: list[str]) -> int:
    (name,) = _operands(args, "cpupool-destroy", 1)
    ctx.libxl.cpupool_destroy(ctx.libxl.pool_by_name(name))
    return 0


def main_cpupoolrename(ctx: XlContext, args: list[str]) -> int:
    old, new = _operands(args, "cpupool-rename", 2)
    pool = ctx.libxl.pool_by_name(old)
    if any(p.name == new for p in ctx.host.hv.pools.values()):
        raise LibxlError(f"cpupool {new!r} already exists")
    pool.name = new
    return 0


def _pool_cpus(ctx: XlContext, args: list[str], cmd: str) -> tuple[Cpupool, list[int]]:
    """The pool and the pCPUs named by ``<CPU Pool> <CPU nr>|node:<node nr>``."""
    name, spec = _operands(args, cmd, 2)
    pool = ctx.libxl.pool_by_name(name)
    try:
        return pool, sorted(parse_cpumap(spec, len(ctx.host.hv.pcpus)))
    except CpumapError as exc:
        raise XlUsageError(f"invalid cpu specification {spec!r}: {exc}") from None


def main_cpupoolcpuadd(ctx: XlContext, args: list[str]) -> int:
    pool, cpus = _pool_cpus(ctx, args, "cpupool-cpu-add")
    for cpu in cpus:
        ctx.libxl.cpupool_cpu_add(pool, cpu)
    return 0


def main_cpupoolcpuremove(ctx: XlContext, args: list[str]) -> int:
    pool, cpus = _pool_cpus(ctx, args, "cpupool-cpu-remove")
    for cpu in cpus:
        ctx.libxl.cpupool_cpu_remove(pool, cpu)
    return 0


def main_cpupoolmigrate(ctx: XlContext, args: list[str]) -> int:
    dom, name = _operands(args, "cpupool-migrate", 2)
    ctx.libxl.cpupool_migrate(ctx.libxl.lookup(dom), ctx.libxl.pool_by_name(name))
    return 0

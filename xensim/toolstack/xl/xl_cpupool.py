"""xl's cpupool commands (tools/xl/xl_cpupool.c); only ``cpupool-list`` for now.

xensim boots one pool, Pool-0, with every pCPU; creating and moving pools
comes with the other schedulers.
"""

from __future__ import annotations

from xensim.toolstack.xl.context import XlContext
from xensim.toolstack.xl.getopt import getopt


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

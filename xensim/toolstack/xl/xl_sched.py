"""xl's scheduler commands (tools/xl/xl_sched.c).

One function serves every policy: the per-policy differences are data (the
options and the columns), so adding a policy does not touch three layers as
it does in libxl_sched.c and xl_sched.c.
"""

from __future__ import annotations

from xensim.toolstack.xl.context import XlContext, XlUsageError
from xensim.toolstack.xl.getopt import getopt


def _int(opt: str, val: str | None) -> int:
    try:
        return int(str(val), 0)
    except ValueError:
        raise XlUsageError(f"option -{opt} needs an integer, got {val!r}") from None


def main_sched_credit(ctx: XlContext, args: list[str]) -> int:
    opts, operands = getopt(args, "d:w:c:p:t:r:m:s", {
        "domain": "d", "weight": "w", "cap": "c", "cpupool": "p", "tslice_ms": "t",
        "ratelimit_us": "r", "migration_delay_us": "m", "schedparam": "s"})
    if operands:
        raise XlUsageError(f"unexpected argument {operands[0]!r}")
    o = dict(opts)
    libxl = ctx.libxl
    hyp = ctx.host.hv
    if "s" in o:
        if "d" in o or "w" in o or "c" in o:
            raise XlUsageError("-s cannot be combined with -d, -w or -c")
        pools = [libxl.pool_by_name(o["p"])] if "p" in o else list(hyp.pools.values())
        params = {}
        if "t" in o:
            params["tslice_ms"] = _int("t", o["t"])
        if "r" in o:
            params["ratelimit_us"] = _int("r", o["r"])
        if "m" in o:
            params["migration_delay_us"] = _int("m", o["m"])
        for pool in pools:
            if pool.sched.name != "credit":
                continue
            if params:
                libxl.sched_global(pool, params, "credit")
                hyp.log(f"Cpupool {pool.name}: credit parameters set to "
                        f"{libxl.sched_global(pool)}")
            else:
                g = libxl.sched_global(pool)
                ctx.out.write(f"Cpupool {pool.name}: tslice={g['tslice_ms']}ms "
                              f"ratelimit={g['ratelimit_us']}us "
                              f"migration-delay={g['migration_delay_us']}us\n")
        return 0
    if ("w" in o or "c" in o) and "d" not in o:
        raise XlUsageError("-w and -c need -d DOMAIN")
    if "t" in o or "r" in o or "m" in o:
        raise XlUsageError("-t, -r and -m need -s")
    if "d" in o and ("w" in o or "c" in o):
        d = libxl.lookup(o["d"])
        params = {}
        if "w" in o:
            params["weight"] = _int("w", o["w"])
        if "c" in o:
            params["cap"] = _int("c", o["c"])
        libxl.sched_params(d, params, "credit")
        hyp.log(f"Domain {d.domid} ({d.name}): credit weight={libxl.sched_params(d)['weight']} "
                f"cap={libxl.sched_params(d)['cap']}")
        return 0
    doms = [libxl.lookup(o["d"])] if "d" in o else \
        sorted(hyp.domains.values(), key=lambda d: d.domid)
    pools = [libxl.pool_by_name(o["p"])] if "p" in o else list(hyp.pools.values())
    for pool in pools:
        if pool.sched.name != "credit":
            continue
        g = libxl.sched_global(pool)
        ctx.out.write(f"Cpupool {pool.name}: tslice={g['tslice_ms']}ms "
                      f"ratelimit={g['ratelimit_us']}us "
                      f"migration-delay={g['migration_delay_us']}us\n")
        ctx.out.write("%-33s %4s %6s %4s\n" % ("Name", "ID", "Weight", "Cap"))
        for d in doms:
            if d.pool is not pool:
                continue
            p = libxl.sched_params(d)
            ctx.out.write("%-33s %4d %6d %4d\n" % (d.name, d.domid, p["weight"], p["cap"]))
    return 0

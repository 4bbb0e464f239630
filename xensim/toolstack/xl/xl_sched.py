"""xl's scheduler commands (tools/xl/xl_sched.c): sched-credit, sched-credit2, sched-rtds.

The checks and messages follow xl's ``main_sched_credit``; listing walks
every cpupool run by the policy (``sched_domain_output``).  credit2 and
RTDS are not implemented in xensim yet, so no pool ever uses them: a
listing is empty (with a note on stderr) and asking about or changing a
domain fails the way libxl fails for a domain whose cpupool runs another
scheduler.
"""

from __future__ import annotations

from xensim.toolstack.xl.context import XlContext, XlUsageError
from xensim.toolstack.xl.getopt import getopt

CREDIT_HEADER = "%-33s %4s %6s %4s\n" % ("Name", "ID", "Weight", "Cap")
RTDS_HEADER = "%-33s %4s %9s %9s %10s\n" % ("Name", "ID", "Period", "Budget", "Extratime")


def _int(opt: str, val: str | None) -> int:
    """strtol(optarg, NULL, 10), but refusing text rather than reading it as 0."""
    try:
        return int(str(val), 10)
    except ValueError:
        raise XlUsageError(f"option -{opt} needs an integer, got '{val}'") from None


def _pool_line(ctx: XlContext, pool) -> str:  # type: ignore[no-untyped-def]
    g = ctx.libxl.sched_global(pool)
    return (f"Cpupool {pool.name}: tslice={g['tslice_ms']}ms ratelimit={g['ratelimit_us']}us "
            f"migration-delay={g['migration_delay_us']}us\n")


def main_sched_credit(ctx: XlContext, args: list[str]) -> int:
    opts, _ = getopt(args, "d:w:c:p:t:r:m:s", {
        "domain": "d", "weight": "w", "cap": "c", "cpupool": "p", "tslice_ms": "t",
        "ratelimit_us": "r", "migration_delay_us": "m", "schedparam": "s"}, cmd="sched-credit")
    o = dict(opts)
    libxl, hyp = ctx.libxl, ctx.host.hv
    if ("p" in o or "s" in o) and ("d" in o or "w" in o or "c" in o):
        ctx.err.write("Specifying a cpupool or schedparam is not allowed with domain "
                      "options.\n")
        return 1
    if "d" not in o and ("w" in o or "c" in o):
        ctx.err.write("Must specify a domain.\n")
        return 1
    if "s" not in o and ("t" in o or "r" in o or "m" in o):
        ctx.err.write("Must specify schedparam to set schedule parameter values.\n")
        return 1
    if "s" in o:
        pool = libxl.pool_by_name(o["p"]) if "p" in o else hyp.pools[0]
        params = {key: _int(letter, o[letter]) for letter, key in
                  (("t", "tslice_ms"), ("r", "ratelimit_us"), ("m", "migration_delay_us"))
                  if letter in o}
        if params:
            libxl.sched_global(pool, params, "credit")
            hyp.log(f"Cpupool {pool.name}: credit parameters set to {libxl.sched_global(pool)}")
        else:
            ctx.out.write(_pool_line(ctx, pool))
        return 0
    if "d" in o:
        d = libxl.lookup(o["d"])
        if "w" in o or "c" in o:
            params = {"weight": _int("w", o["w"])} if "w" in o else {}
            if "c" in o:
                params["cap"] = _int("c", o["c"])
            libxl.sched_params(d, params, "credit")
            p = libxl.sched_params(d)
            hyp.log(f"Domain {d.domid} ({d.name}): credit weight={p['weight']} cap={p['cap']}")
            return 0
        p = libxl.sched_params(d, None, "credit")
        ctx.out.write(CREDIT_HEADER + "%-33s %4d %6d %4d\n" % (d.name, d.domid, p["weight"],
                                                               p["cap"]))
        return 0
    pools = [libxl.pool_by_name(o["p"])] if "p" in o else list(hyp.pools.values())
    for pool in pools:
        if pool.sched.name != "credit":
            continue
        ctx.out.write(_pool_line(ctx, pool) + CREDIT_HEADER)
        for d in sorted(hyp.domains.values(), key=lambda d: d.domid):
            if d.pool is pool:
                p = libxl.sched_params(d)
                ctx.out.write("%-33s %4d %6d %4d\n" % (d.name, d.domid, p["weight"], p["cap"]))
    return 0


def _not_this_scheduler(ctx: XlContext, policy: str, header: str, dom: str | None,
                        setting: bool, pool_opt: str | None) -> int:
    """What xl prints for a policy no cpupool runs (credit2, rtds in xensim today)."""
    hyp = ctx.host.hv
    if pool_opt is not None:
        ctx.libxl.pool_by_name(pool_opt)
    if dom is None:
        in_use = ", ".join(f"{p.name} uses {p.sched.name}" for p in hyp.pools.values())
        ctx.err.write(f"xl: no cpupool uses the {policy} scheduler ({in_use})\n")
        return 0
    d = ctx.libxl.lookup(dom)
    why = (f"this domain's cpupool {d.pool.name} does not use the {policy} scheduler "
           f"(it uses {d.pool.sched.name})")
    if setting:
        ctx.err.write(f"libxl: error: libxl_sched.c: Domain {d.domid}:Getting domain sched "
                      f"{policy}: Invalid argument: {why}\n"
                      "libxl_domain_sched_params_set failed.\n")
    else:
        ctx.out.write(header)
        ctx.err.write(f"libxl_domain_sched_params_get returned {d.pool.sched.name} not "
                      f"{policy}.\nxl: {why}\n")
    return 1


def main_sched_credit2(ctx: XlContext, args: list[str]) -> int:
    opts, _ = getopt(args, "d:w:c:p:r:s", {
        "domain": "d", "weight": "w", "cap": "c", "schedparam": "s", "ratelimit_us": "r",
        "cpupool": "p"}, cmd="sched-credit2")
    o = dict(opts)
    if ("p" in o or "s" in o) and ("d" in o or "w" in o or "c" in o):
        ctx.err.write("Specifying a cpupool or schedparam is not allowed with domain "
                      "options.\n")
        return 1
    if "d" not in o and ("w" in o or "c" in o):
        ctx.err.write("Must specify a domain.\n")
        return 1
    if "s" in o:
        pool = ctx.libxl.pool_by_name(o["p"]) if "p" in o else ctx.host.hv.pools[0]
        ctx.err.write(f"libxl: error: libxl_sched.c: cpupool {pool.name} does not use the "
                      f"credit2 scheduler (it uses {pool.sched.name})\n"
                      "libxl_sched_credit2_params_get failed.\n")
        return 1
    return _not_this_scheduler(ctx, "credit2", CREDIT_HEADER, o.get("d"),
                               "w" in o or "c" in o, o.get("p"))


def main_sched_rtds(ctx: XlContext, args: list[str]) -> int:
    opts, _ = getopt(args, "d:v:p:b:e:c:", {
        "domain": "d", "vcpuid": "v", "period": "p", "budget": "b", "extratime": "e",
        "cpupool": "c"}, cmd="sched-rtds")
    o = dict(opts)
    if "c" in o and "d" in o:
        ctx.err.write("Specifying a cpupool is not allowed with other options.\n")
        return 1
    if "d" not in o and ("v" in o or "p" in o or "b" in o or "e" in o):
        ctx.err.write("Missing parameters.\n")
        return 1
    return _not_this_scheduler(ctx, "rtds", RTDS_HEADER, o.get("d"),
                               "p" in o or "b" in o or "e" in o, o.get("c"))

"""xl's scheduler commands (tools/xl/xl_sched.c): sched-credit, sched-credit2, sched-rtds.

The checks and messages follow xl's ``main_sched_credit``; listing walks
every cpupool run by the policy (``sched_domain_output``).  Asking about a
domain whose cpupool runs another policy fails as libxl does.
"""

from __future__ import annotations

from xensim.toolstack.libxl import LibxlError
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


def _credit_pool_line(g: dict) -> str:  # type: ignore[type-arg]
    return (f"tslice={g['tslice_ms']}ms ratelimit={g['ratelimit_us']}us "
            f"migration-delay={g['migration_delay_us']}us")


def _credit2_pool_line(g: dict) -> str:  # type: ignore[type-arg]
    return f"ratelimit={g['ratelimit_us']}us"


# Per policy: long options, the -s parameters (letter -> key) and the pool line.
WEIGHT_CAP_POLICIES = {
    "credit": ({"tslice_ms": "t", "ratelimit_us": "r", "migration_delay_us": "m"},
               _credit_pool_line),
    "credit2": ({"ratelimit_us": "r"}, _credit2_pool_line),
}


def _main_weight_cap(ctx: XlContext, args: list[str], policy: str) -> int:
    """``xl sched-credit`` and ``xl sched-credit2``: the same options and checks,
    differing only in the pool-wide parameters (xl_sched.c's main_sched_credit*)."""
    globals_, pool_line = WEIGHT_CAP_POLICIES[policy]
    letters = "".join(f"{c}:" for c in globals_.values())
    longs = {"domain": "d", "weight": "w", "cap": "c", "cpupool": "p", "schedparam": "s",
             **globals_}
    opts, _ = getopt(args, "d:w:c:p:s" + letters, longs, cmd=f"sched-{policy}")
    o = dict(opts)
    libxl, hyp = ctx.libxl, ctx.host.hv
    if ("p" in o or "s" in o) and ("d" in o or "w" in o or "c" in o):
        ctx.err.write("Specifying a cpupool or schedparam is not allowed with domain "
                      "options.\n")
        return 1
    if "d" not in o and ("w" in o or "c" in o):
        ctx.err.write("Must specify a domain.\n")
        return 1
    if "s" not in o and any(c in o for c in globals_.values()):
        ctx.err.write("Must specify schedparam to set schedule parameter values.\n")
        return 1
    if "s" in o:
        pool = libxl.pool_by_name(o["p"]) if "p" in o else hyp.pools[0]
        params = {key: _int(c, o[c]) for key, c in globals_.items() if c in o}
        if params:
            libxl.sched_global(pool, params, policy)
        else:
            g = libxl.sched_global(pool, None, policy)
            ctx.out.write(f"Cpupool {pool.name}: {pool_line(g)}\n")
        return 0
    if "d" in o:
        d = libxl.lookup(o["d"])
        if "w" in o or "c" in o:
            params = {"weight": _int("w", o["w"])} if "w" in o else {}
            if "c" in o:
                params["cap"] = _int("c", o["c"])
            return _set_domain(ctx, d, params, policy)
        ctx.out.write(CREDIT_HEADER)  # xl prints the header before it asks libxl
        p = libxl.sched_params(d, None, policy)
        ctx.out.write("%-33s %4d %6d %4d\n" % (d.name, d.domid, p["weight"], p["cap"]))
        return 0
    pools = [libxl.pool_by_name(o["p"])] if "p" in o else list(hyp.pools.values())
    _no_pool_note(ctx, policy, pools)
    for pool in pools:
        if pool.sched.name != policy:
            continue
        ctx.out.write(f"Cpupool {pool.name}: {pool_line(libxl.sched_global(pool))}\n"
                      + CREDIT_HEADER)
        for d in _domains_of(ctx, pool):
            p = libxl.sched_params(d)
            ctx.out.write("%-33s %4d %6d %4d\n" % (d.name, d.domid, p["weight"], p["cap"]))
    return 0


def _set_domain(ctx: XlContext, d, params: dict, policy: str) -> int:  # type: ignore[no-untyped-def,type-arg]
    """Set per-domain parameters; a failure ends with libxl's closing line, as in xl."""
    try:
        ctx.libxl.sched_params(d, params, policy)
    except LibxlError as exc:
        ctx.err.write(f"{exc}\nlibxl_domain_sched_params_set failed.\n")
        return 1
    return 0


def _no_pool_note(ctx: XlContext, policy: str, pools: list) -> None:  # type: ignore[type-arg]
    if not any(p.sched.name == policy for p in pools):
        in_use = ", ".join(f"{p.name} uses {p.sched.name}" for p in pools)
        ctx.err.write(f"xl: no cpupool uses the {policy} scheduler ({in_use})\n")


def _domains_of(ctx: XlContext, pool) -> list:  # type: ignore[no-untyped-def,type-arg]
    return [d for d in sorted(ctx.host.hv.domains.values(), key=lambda d: d.domid)
            if d.pool is pool]


def main_sched_credit(ctx: XlContext, args: list[str]) -> int:
    return _main_weight_cap(ctx, args, "credit")


def main_sched_credit2(ctx: XlContext, args: list[str]) -> int:
    return _main_weight_cap(ctx, args, "credit2")


def _rtds_row(d, vcpu: int | None, p: dict) -> str:  # type: ignore[no-untyped-def,type-arg]
    extra = "yes" if p["extratime"] else "no"
    if vcpu is None:
        return "%-33s %4d %9d %9d %10s\n" % (d.name, d.domid, p["period"], p["budget"], extra)
    return "%-33s %4d %4d %9d %9d %10s\n" % (d.name, d.domid, vcpu, p["period"], p["budget"],
                                             extra)


def main_sched_rtds(ctx: XlContext, args: list[str]) -> int:
    """``xl sched-rtds [-d D [-v V|all] [-p PERIOD] [-b BUDGET] [-e 0|1]] [-c POOL]``."""
    opts, _ = getopt(args, "d:v:p:b:e:c:", {
        "domain": "d", "vcpuid": "v", "period": "p", "budget": "b", "extratime": "e",
        "cpupool": "c"}, cmd="sched-rtds")
    libxl, hyp = ctx.libxl, ctx.host.hv
    o = dict(opts)
    vcpus = [v for letter, v in opts if letter == "v"]
    if "c" in o and "d" in o:
        ctx.err.write("Specifying a cpupool is not allowed with other options.\n")
        return 1
    if "d" not in o and ("v" in o or "p" in o or "b" in o or "e" in o):
        ctx.err.write("Missing parameters.\n")
        return 1
    if "d" not in o:
        pools = [libxl.pool_by_name(o["c"])] if "c" in o else list(hyp.pools.values())
        _no_pool_note(ctx, "rtds", pools)
        for pool in pools:
            if pool.sched.name != "rtds":
                continue
            ctx.out.write(f"Cpupool {pool.name}: sched=RTDS\n" + RTDS_HEADER)
            for d in _domains_of(ctx, pool):
                ctx.out.write(_rtds_row(d, None, libxl.sched_params(d)))
        return 0
    d = libxl.lookup(o["d"])
    params = {key: _int(c, o[c]) for key, c in (("period", "p"), ("budget", "b"),
                                                ("extratime", "e")) if c in o}
    targets = None
    if vcpus:
        targets = list(range(len(d.vcpus))) if vcpus == ["all"] else \
            [_int("v", v) for v in vcpus]
        for v in targets:
            if not 0 <= v < len(d.vcpus):
                ctx.err.write(f"Invalid vcpu id {v} for domain {d.name}.\n")
                return 1
    if params:
        if targets is None:
            return _set_domain(ctx, d, params, "rtds")
        for v in targets:
            libxl.sched_vcpu_params(d.vcpus[v], params, "rtds")
        return 0
    if targets is None:
        ctx.out.write(RTDS_HEADER)
        ctx.out.write(_rtds_row(d, None, libxl.sched_params(d, None, "rtds")))
        return 0
    ctx.out.write("%-33s %4s %4s %9s %9s %10s\n" % ("Name", "ID", "VCPU", "Period", "Budget",
                                                   "Extratime"))
    for v in targets:
        ctx.out.write(_rtds_row(d, v, libxl.sched_vcpu_params(d.vcpus[v], None, "rtds")))
    return 0

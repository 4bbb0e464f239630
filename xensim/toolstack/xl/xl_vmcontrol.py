"""xl commands that change a domain's life cycle (tools/xl/xl_vmcontrol.c, xl_misc.c).

``create`` reads the config relative to the client's directory, prints
"Parsing config from FILE" and the parser's warnings on stderr as xl does,
and for ``-n``/``-N`` prints the parsed config as JSON instead of creating.
``shutdown``/``reboot`` ask the guest (see :meth:`Libxl.domain_shutdown`);
with ``-w`` the command's answer waits until the guest is down and its
``on_poweroff``/``on_reboot`` action has run.
"""

from __future__ import annotations

from xensim.hypervisor.domain import Domain, ShutdownReason
from xensim.toolstack.cnum import strtol
from xensim.toolstack.death import HANDLED
from xensim.toolstack.domconfig import DomainConfig
from xensim.toolstack.domconfig_build import report_unused_keys
from xensim.toolstack.libxl_json import domain_config_json, printf_info
from xensim.toolstack.xl.configfile import config_arguments
from xensim.toolstack.xl.context import XlContext, XlUsageError
from xensim.toolstack.xl.getopt import getopt
from xensim.toolstack.xl.xl_console import console_output
from xensim.toolstack.xl.xl_monitor import after_create, debug_config
from xensim.toolstack.xlcfg import XlCfgError


def main_pause(ctx: XlContext, args: list[str]) -> int:
    _, ops = getopt(args, "", cmd="pause", reqargs=1)
    ctx.libxl.domain_pause(ctx.libxl.lookup(ops[0]))
    return 0


def main_unpause(ctx: XlContext, args: list[str]) -> int:
    _, ops = getopt(args, "", cmd="unpause", reqargs=1)
    ctx.libxl.domain_unpause(ctx.libxl.lookup(ops[0]))
    return 0


def main_destroy(ctx: XlContext, args: list[str]) -> int:
    opts, ops = getopt(args, "f", cmd="destroy", reqargs=1)
    force = any(o == "f" for o, _ in opts)
    d = ctx.libxl.lookup(ops[0])
    if d.domid == 0:
        if not force:
            ctx.err.write("Not destroying domain 0; use -f to force.\n"
                          "This can only be done when using a disaggregated "
                          "hardware domain and toolstack.\n\n")
        else:
            ctx.err.write("libxl: error: libxl_domain.c: Domain 0:xensim has no separate "
                          "hardware domain; domain 0 stays\ndestroy failed (rc=-3)\n")
        return 1
    ctx.libxl.domain_destroy(d)
    return 0


def main_rename(ctx: XlContext, args: list[str]) -> int:
    _, ops = getopt(args, "", cmd="rename", reqargs=2)
    d = ctx.libxl.lookup(ops[0])
    ctx.libxl.domain_rename(d, ops[1])
    return 0


# --- shutdown and reboot ---------------------------------------------------------------
def main_shutdown(ctx: XlContext, args: list[str]) -> int:
    return _shutdown_or_reboot(ctx, args, ShutdownReason.POWEROFF)


def main_reboot(ctx: XlContext, args: list[str]) -> int:
    return _shutdown_or_reboot(ctx, args, ShutdownReason.REBOOT)


def _shutdown_or_reboot(ctx: XlContext, args: list[str], reason: ShutdownReason) -> int:
    what = "reboot" if reason == ShutdownReason.REBOOT else "shutdown"
    opts, ops = getopt(args, "awF", {"all": "a", "wait": "w"}, cmd=what)
    flags = {o for o, _ in opts}
    if not ops and "a" not in flags:
        ctx.err.write("You must specify -a or a domain id.\n\n")
        return 1
    if "w" in flags and ctx.waiters_full:
        ctx.err.write("xl: too many commands are waiting on this host; "
                      f"{what} without -w, or try again later\n")
        return 1
    hyp = ctx.host.hv
    if "a" in flags:
        doms = [d for d in sorted(hyp.domains.values(), key=lambda d: d.domid)
                if d.domid != 0 and not d.is_shutdown]
    else:
        doms = [ctx.libxl.lookup(ops[0])]
    for d in doms:
        ctx.err.write(f"{'Rebooting' if what == 'reboot' else 'Shutting down'} "
                      f"domain {d.domid}\n")
        if "F" in flags and _needs_acpi(d):
            event = "reset" if what == "reboot" else "power"
            ctx.err.write(f"PV control interface not available: sending ACPI {event} "
                          "button event.\n")
        ctx.libxl.domain_shutdown(d, reason, acpi_fallback="F" in flags)
    if "w" in flags and doms:
        ctx.err.write(f"Waiting for {len(doms)} domains\n")
        ctx.waiter = _death_waiter(ctx, doms)
    return 0


def _needs_acpi(d: Domain) -> bool:
    cfg = d.info.get("config")
    return cfg is not None and cfg.type == "hvm" and not cfg.xen_platform_pci


def _death_waiter(ctx: XlContext, doms: list[Domain]):  # type: ignore[no-untyped-def]
    """xl's wait_for_domain_deaths: done when every domain has shut down and been dealt with."""
    left = list(doms)
    hyp = ctx.host.hv

    def poll() -> int | None:
        for d in list(left):
            gone = hyp.domains.get(d.domid) is not d
            if gone or d.info.get(HANDLED):
                left.remove(d)
                if d.shutdown_code is not None:
                    ctx.err.write(f"Domain {d.domid} has been shut down, reason code "
                                  f"{int(d.shutdown_code)}\n")
                else:
                    ctx.err.write(f"Domain {d.domid} has been destroyed.\n")
        return None if left else 0

    return poll


# --- create ----------------------------------------------------------------------------
def main_create(ctx: XlContext, args: list[str]) -> int:
    # -V/-A (a VNC viewer) are not modelled: see docs/xl.md
    o, filename, overrides = config_arguments(
        args, "Fnqf:pcde", {"dryrun": "n", "quiet": "q", "defconfig": "f"}, "create")
    if filename is None:
        raise XlUsageError("Config file not specified and none in save file")
    quiet = "q" in o
    if not quiet:
        ctx.err.write(f"Parsing config from {filename}\n")
    data = ctx.read_config(filename)
    if data is None:
        return 1
    try:
        cfg = DomainConfig.from_text(data, filename, overrides)
    except XlCfgError as exc:
        ctx.err.write(f"{exc}\n")
        return 1
    for w in cfg.warnings:
        ctx.err.write(f"{w}\n")
    if ctx.verbose:
        report_unused_keys(cfg, ctx.err)
    if "n" in o or ctx.dryrun:
        ctx.out.write(printf_info(None, domain_config_json(cfg)))
        return 0
    if "d" in o:
        debug_config(ctx, cfg)
    d = ctx.host.create_from_config(cfg, paused="p" in o)
    if "c" in o:
        ctx.out.write(console_output(ctx.host.hv, d))
    after_create(ctx, d, set(o))
    return 0


def main_domid(ctx: XlContext, args: list[str]) -> int:
    _, ops = getopt(args, "", cmd="domid", reqargs=1)
    d = ctx.host.hv.domain_by_name(ops[0])
    if d is None:
        ctx.err.write(f"Can't get domid of domain name '{ops[0]}', maybe this domain "
                      "does not exist.\n")
        return 1
    ctx.out.write(f"{d.domid}\n")
    return 0


def main_domname(ctx: XlContext, args: list[str]) -> int:
    _, ops = getopt(args, "", cmd="domname", reqargs=1)
    got = strtol(ops[0])  # xl: strtol into a uint32_t; "no digits at all" is refused
    if got.end == 0:
        ctx.err.write("Invalid domain id.\n\n")
        return 1
    domid = got.value & 0xFFFFFFFF
    d = ctx.host.hv.domains.get(domid)
    if d is None:
        ctx.err.write(f"Can't get domain name of domain id '{domid}', maybe this domain "
                      "does not exist.\n")
        return 1
    ctx.out.write(f"{d.name}\n")
    return 0



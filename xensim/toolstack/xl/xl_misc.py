"""xl's small per-domain and host commands (tools/xl/xl_misc.c, xl_info.c's vm-list).

``trigger``, ``button-press`` (deprecated for ``trigger``) and ``sysrq`` go
through :mod:`xensim.toolstack.libxl_trigger`; ``dump-core`` writes an ELF
core file (:mod:`xensim.toolstack.coredump`) through the client;
``set-parameters`` changes Xen's runtime parameters
(:mod:`xensim.hypervisor.params`); ``config-update`` stores a config that the
next reboot uses instead of the running one; ``vm-list`` lists the guests.
Usage, messages and exit codes are xl's, including where xl ignores a
failure (``trigger`` exits 0 after libxl's error line).
"""

from __future__ import annotations

import os
import re

from xensim.hypervisor.params import set_parameters
from xensim.toolstack.coredump import core_dump
from xensim.toolstack.death import CONFIG_UPDATE
from xensim.toolstack.libxl_error import ERROR_FAIL, LibxlError, log_error
from xensim.toolstack.libxl_json import domain_config_json, printf_info
from xensim.toolstack.libxl_trigger import send_sysrq, send_trigger, trigger_from_string
from xensim.toolstack.xl.configfile import config_arguments, read_config
from xensim.toolstack.xl.context import XlContext, XlUsageError
from xensim.toolstack.xl.getopt import getopt


def _help(ctx: XlContext, name: str) -> None:
    from xensim.toolstack.xl.cmdtable import lookup, print_usage

    spec = lookup(name)
    assert spec is not None
    print_usage(ctx.out, spec)


def main_trigger(ctx: XlContext, args: list[str]) -> int:
    _, ops = getopt(args, "", cmd="trigger", reqargs=2)
    d = ctx.libxl.lookup(ops[0])
    trigger = trigger_from_string(ops[1])
    if trigger is None:
        ctx.err.write(f'Invalid trigger "{ops[1]}"\n')
        return 1
    vcpuid = 0
    if len(ops) > 2:
        m = re.match(r"\s*[+-]?[0-9]+", ops[2])  # strtol: the longest number in front
        if m:
            vcpuid = int(m.group())
        else:
            ctx.err.write("Invalid vcpuid, using default vcpuid=0.\n\n")
    _trigger(ctx, d, trigger, vcpuid)
    return 0


def _trigger(ctx: XlContext, d: object, trigger: str, vcpuid: int) -> None:
    try:
        send_trigger(ctx.libxl, d, trigger, vcpuid)  # type: ignore[arg-type]
    except LibxlError as exc:
        if str(exc):
            ctx.err.write(f"{exc}\n")  # and xl exits 0 all the same


def main_button_press(ctx: XlContext, args: list[str]) -> int:
    ctx.err.write('WARNING: "button-press" is deprecated. Please use "trigger"\n')
    _, ops = getopt(args, "", cmd="button-press", reqargs=2)
    d = ctx.libxl.lookup(ops[0])
    if ops[1] not in ("power", "sleep"):
        ctx.err.write(f"{ops[1]} is an invalid button identifier\n")
        return 1
    _trigger(ctx, d, ops[1], 0)
    return 0


def main_sysrq(ctx: XlContext, args: list[str]) -> int:
    _, ops = getopt(args, "", cmd="sysrq", reqargs=2)
    d = ctx.libxl.lookup(ops[0])
    if len(ops[1]) != 1:
        ctx.err.write("Invalid sysrq.\n\n")
        _help(ctx, "sysrq")
        return 1
    send_sysrq(ctx.libxl, d, ops[1])
    return 0


def main_dump_core(ctx: XlContext, args: list[str]) -> int:
    _, ops = getopt(args, "", cmd="dump-core", reqargs=2)
    d = ctx.libxl.lookup(ops[0])
    if d.domid == 0:
        ctx.err.write(log_error("xc_core.c", None, "xensim cannot dump Domain-0") + "\n"
                      f"core dump failed (rc={ERROR_FAIL})\n")
        return 1
    data = core_dump(ctx.libxl, d)
    try:
        ctx.write_user_file(ops[1], data)
    except OSError as exc:
        ctx.err.write(f"xc: error: Failed to open file {ops[1]}: "
                      f"{os.strerror(exc.errno or 0)}\ncore dump failed (rc={ERROR_FAIL})\n")
        return 1
    return 0


def main_set_parameters(ctx: XlContext, args: list[str]) -> int:
    _, ops = getopt(args, "", cmd="set-parameters", reqargs=1)
    rc = set_parameters(ctx.host.hv, ops[0])
    if rc:
        ctx.err.write(log_error("libxl.c", None, f"setting parameters: {os.strerror(-rc)}")
                      + f"\ncannot set parameters: {ops[0]}\n")
        return 1
    return 0


def main_config_update(ctx: XlContext, args: list[str]) -> int:
    if not args:
        ctx.err.write("xl config-update requires a domain argument\n")
        _help(ctx, "config-update")
        return 1
    ctx.err.write("WARNING: xl now has better capability to manage domain configuration, "
                  "avoid using this command when possible\n")
    d = ctx.libxl.lookup(args[0])
    try:
        o, filename, extra = config_arguments(args[1:], "dqf:", {"defconfig": "f"},
                                              "config_update")
    except XlUsageError:
        _help(ctx, "create")  # xl_vmcontrol.c's main_config_update shows create's help
        return 2
    if filename is None:
        ctx.err.write("Config file not specified\n")
        return 1
    cfg = read_config(ctx, filename, extra)
    if cfg is None:
        return 1
    if "d" in o or ctx.dryrun:
        ctx.out.write(printf_info(None, domain_config_json(cfg)))
    if not ctx.dryrun:
        ctx.err.write(f"setting dom{d.domid} configuration\n")
        d.info[CONFIG_UPDATE] = cfg
    return 0


def main_vm_list(ctx: XlContext, args: list[str]) -> int:
    """libxl_list_vm: every domain but Domain-0 and device-model stub domains."""
    getopt(args, "", cmd="vm-list")  # operands are ignored, as by xl
    ctx.out.write("UUID                                  ID    name\n")
    for d in sorted(ctx.host.hv.domains.values(), key=lambda d: d.domid):
        if d.domid == 0 or "dm_of" in d.info:
            continue
        ctx.out.write(f"{d.handle}  {d.domid}    {d.name:<30}\n")
    return 0

"""``xl save`` and ``xl restore`` (tools/xl/xl_saverestore.c, xl_vmcontrol.c's restore path).

``xl save [-c] [-p] [-D] DOMAIN FILE [CONFIG]`` pauses the domain, writes
the file (:mod:`xensim.toolstack.savefile`) and destroys the domain, unless
``-c`` (it runs on) or ``-p`` (it stays paused).  ``xl restore [options]
[CONFIG] FILE`` reads it back: the file's JSON config, or *CONFIG* (an
xl.cfg file) in its place, as xl does.  Messages and exit codes are xl's.

Files are read and written through the context (:meth:`XlContext.read_user_file`,
:meth:`XlContext.write_user_file`): inside the host daemon the ``xl``
client sends the save file with the command and writes the one it gets
back, so the daemon never opens a user's path.
"""

from __future__ import annotations

import os

from xensim.toolstack.domconfig import DomainConfig
from xensim.toolstack.savefile import SaveFileError, read_image, rebuild_domain, save_domain
from xensim.toolstack.xl.context import XlContext
from xensim.toolstack.xl.getopt import getopt
from xensim.toolstack.xl.userfiles import writable
from xensim.toolstack.xl.xl_console import console_output
from xensim.toolstack.xl.xl_monitor import after_create, debug_config
from xensim.toolstack.xlcfg import XlCfgError


def main_save(ctx: XlContext, args: list[str]) -> int:
    opts, ops = getopt(args, "cpD", cmd="save", reqargs=2)
    if len(ops) > 3:
        from xensim.toolstack.xl.cmdtable import lookup, print_usage

        spec = lookup("save")
        assert spec is not None
        print_usage(ctx.out, spec)  # xl's help("save"), then EXIT_FAILURE
        return 1
    flags = {o for o, _ in opts}
    d = ctx.libxl.lookup(ops[0])
    filename = ops[1]
    override = None
    if len(ops) == 3:
        try:
            text = ctx.read_user_file(ops[2]).decode("utf-8", "replace")
        except OSError:
            ctx.err.write("unable to read overridden config file\n")
            return 1
        try:
            override = DomainConfig.from_text(text, ops[2])
        except XlCfgError as exc:
            ctx.err.write(f"{exc}\n")
            return 1
    if not ctx.live and not writable(ctx.path(filename)):  # the client checks it otherwise
        ctx.err.write(f"Failed to open temp file {filename} for writing\n")
        return 1
    image = save_domain(ctx.libxl, d, checkpoint="c" in flags, leave_paused="p" in flags,
                        preserve_domid="D" in flags, config=override)
    ctx.err.write(f"Saving to {filename} new xl format (info {image.header.info()})\n")
    try:
        ctx.write_user_file(filename, image.data)
    except OSError:
        ctx.err.write(f"Failed to open temp file {filename} for writing\n")
        return 1
    return 0


def main_restore(ctx: XlContext, args: list[str]) -> int:
    opts, ops = getopt(args, "Fcpde", cmd="restore", reqargs=1)  # no -V/-A: no VNC viewer
    flags = {o for o, _ in opts}
    if len(ops) == 1:
        config_file, checkpoint = None, ops[0]
    elif len(ops) == 2:
        config_file, checkpoint = ops
    else:
        from xensim.toolstack.xl.cmdtable import lookup, print_usage

        spec = lookup("restore")
        assert spec is not None
        print_usage(ctx.out, spec)
        return 1
    try:
        data = ctx.read_user_file(checkpoint)
    except OSError as exc:
        ctx.err.write(f"Can't open restore file: {os.strerror(exc.errno or 0)}\n")
        return 1
    try:
        image = read_image(data, checkpoint)
    except SaveFileError as exc:
        ctx.err.write(f"{exc}\n")
        return 1
    for line in image.messages:
        ctx.err.write(line + "\n")
    cfg = image.config
    if config_file is not None:
        text = ctx.read_config(config_file)
        if text is None:
            return 1
        ctx.err.write(f"Parsing config from {config_file}\n")
        try:
            cfg = DomainConfig.from_text(text, config_file)
        except XlCfgError as exc:
            ctx.err.write(f"{exc}\n")
            return 1
        for w in cfg.warnings:
            ctx.err.write(f"{w}\n")
    elif cfg is None:
        ctx.err.write("Config file not specified and none in save file\n")
        return 1
    else:
        ctx.err.write("Parsing config from <saved>\n")
    if "d" in flags:
        debug_config(ctx, cfg)
    d = rebuild_domain(ctx.libxl, cfg, image.state, paused="p" in flags)
    if "c" in flags:
        ctx.out.write(console_output(ctx.host.hv, d))
    after_create(ctx, d, flags)
    return 0

"""``xl migrate`` and ``xl migrate-receive``.

Mirrors: tools/xl/xl_migrate.c (main_migrate: options ``-C -s -e -F -p -D
--debug --live``; migrate_domain and migrate_receive: the lines each side
prints, which reach the sender's terminal through ssh) and xl_cmdtable.c.
The target is a host of the same :class:`~xensim.site.Site`; ``-s`` (the
ssh command) is accepted and ignored since there is no ssh, ``-e``/``-F``
(daemonising) and ``-D`` (preserve the domid) are accepted and ignored,
``--live`` is the default as in xl.  The migration runs in simulated time:
the command's answer waits for it (see :mod:`xensim.toolstack.migration`).
"""

from __future__ import annotations

from xensim.toolstack.domconfig import DomainConfig
from xensim.toolstack.migration import Migration, start_migration
from xensim.toolstack.xl.context import XlContext, XlUsageError
from xensim.toolstack.xl.getopt import getopt

_DEBUG, _LIVE = "\x10", "\x11"
"""Letters no user can type, standing for the long-only options (xl's 0x100, 0x200)."""


def main_migrate(ctx: XlContext, args: list[str]) -> int:
    opts, ops = getopt(args, "FC:s:epD" + _DEBUG + _LIVE, {"debug": _DEBUG, "live": _LIVE},
                       cmd="migrate", reqargs=2)
    if len(ops) != 2:
        raise XlUsageError("")
    o = dict(opts)
    d = ctx.libxl.lookup(ops[0])
    config = DomainConfig.from_file(ctx.path(o["C"])) if o.get("C") else None
    mig = start_migration(ctx.host, d, ops[1], paused_after="p" in o, debug=_DEBUG in o,
                          config=config)
    ctx.waiter = _follow(ctx, mig)
    return 0


def _follow(ctx: XlContext, mig: Migration):  # type: ignore[no-untyped-def]
    """Print each side's lines as they come; the exit status once it is over."""
    shown = [0]

    def poll() -> int | None:
        for _t, line in mig.lines[shown[0]:]:
            ctx.err.write(line + "\n")
        shown[0] = len(mig.lines)
        if not mig.done:
            return None
        return 0 if mig.state == "done" else 1

    return poll


def main_migrate_receive(ctx: XlContext, args: list[str]) -> int:
    getopt(args, "Fedrp", cmd="migrate-receive")
    ctx.err.write("migration target: Ready to receive domain.\n")
    ctx.err.write("migration stream: no stream on standard input (xensim: `xl migrate` on "
                  "the sending host runs this side itself)\n")
    return 1

"""What ``xl create``/``xl restore`` do after the domain is up: ``-F``, ``-e``, ``-d``.

Mirrors: tools/xl/xl_vmcontrol.c (``create_domain``): by default xl forks a
monitor that handles the domain's death (xensim's
:class:`~xensim.toolstack.death.DeathWatcher` plays that part); ``-F``
keeps that monitor in the foreground, logging on stderr ("Waiting for
domain ... to die", "Domain N has shut down, reason code ...", then
"Done. Rebooting now" and the next round for a restart, or "Done. Exiting
now"); ``-e`` starts no monitor at all, so nothing acts on the domain's
shutdown (it stays shut down); ``-d`` prints the config JSON on stderr.

Simplified: the foreground wait is bounded by the daemon's wait limit
(:data:`~xensim.toolstack.hostd.daemon.WAIT_TIMEOUT_S`), and the log lines
carry no file/line prefix.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from xensim.toolstack.death import HANDLED, RESTART_PENDING, UNMONITORED
from xensim.toolstack.libxl_json import domain_config_json, printf_info

if TYPE_CHECKING:
    from xensim.hypervisor.domain import Domain
    from xensim.toolstack.domconfig import DomainConfig
    from xensim.toolstack.xl.context import Waiter, XlContext

ACTION_NAMES = {"rename-restart": "restart_rename", "coredump-destroy": "coredump_destroy",
                "coredump-restart": "coredump_restart", "soft-reset": "soft_reset"}


def debug_config(ctx: XlContext, cfg: DomainConfig) -> None:
    """``-d``: the config as JSON, on stderr (stdout is for ``-n``)."""
    ctx.err.write(printf_info(None, domain_config_json(cfg)))


def after_create(ctx: XlContext, d: Domain, flags: set[str]) -> None:
    if "e" in flags:
        d.info[UNMONITORED] = True
    elif "F" in flags:
        _waiting(ctx, d)
        ctx.waiter = foreground(ctx, d)


def _waiting(ctx: XlContext, d: Domain) -> None:
    ctx.err.write(f"Waiting for domain {d.name} (domid {d.domid}) to die "
                  f"[pid {os.getpid()}]\n")


def foreground(ctx: XlContext, first: Domain) -> Waiter:
    """xl's monitor loop, polled as simulated time passes."""
    hyp = ctx.host.hv
    current = [first]

    def poll() -> int | None:
        d = current[0]
        if hyp.domains.get(d.domid) is not d and not d.info.get(HANDLED):
            ctx.err.write(f"Domain {d.domid} has been destroyed.\n")
            return 0
        if not d.info.get(HANDLED) or d.info.get(RESTART_PENDING):
            return None  # still up, or xl is sleeping before it re-creates the domain
        code = int(d.shutdown_code) if d.shutdown_code is not None else -1
        action = ctx.libxl.death.action_for(d)
        ctx.err.write(f"Domain {d.domid} has shut down, reason code {code} 0x{code:x}\n"
                      f"Action for shutdown reason code {code} is "
                      f"{ACTION_NAMES.get(action, action)}\n")
        if action == "destroy":
            ctx.err.write(f"Domain {d.domid} needs to be cleaned up: destroying the domain\n")
        restarted = d.info.get("restarted_as")
        if restarted is not None and restarted in hyp.domains:
            ctx.err.write("Done. Rebooting now\n")
            current[0] = hyp.domains[restarted]
            _waiting(ctx, current[0])
            return None
        ctx.err.write("Done. Exiting now\n")
        return 0

    return poll

"""What happens after a guest shuts down: on_poweroff / on_reboot / on_crash / on_watchdog.

Mirrors: tools/xl/xl_vmcontrol.c (``handle_domain_death``), which real xl
runs in the per-domain monitor process it forks at ``xl create``.  xensim
has no per-domain process, so one watcher per toolstack listens on the
hypervisor's ``shutdown_hooks`` (Xen's VIRQ_DOM_EXC) for every domain that
has a configuration.  The action runs a moment later, never inside the
guest's own ``SCHEDOP_shutdown`` hypercall, as xl runs in dom0 after the
event.  ``restart`` re-creates the domain from the same config (a new
domid, as in Xen); ``preserve`` leaves it shut down ('s' in ``xl list``);
the coredump variants skip the dump; ``rename-restart`` keeps the old
domain under a suffixed name and starts a new one.

A restart takes the time it takes xl: after destroying (or renaming) the old
domain, xl logs ``Done. Rebooting now`` and sleeps 2 s (xl_vmcontrol.c,
``create_domain``), then libxl builds the new one; the build is the cost
table's ``libxl_domain_build`` (simplified: a flat delay, not dom0 CPU work).
So a guest that reboots itself in a loop restarts at most once per ~2.1
simulated seconds and cannot starve the others.

Failures: if the rename of ``rename-restart`` fails (``NAME--DOMID`` already
exists), xl's ``preserve_domain`` fails and xl "exits leaving the old domain in
place": the domain stays shut down, nothing is restarted, and the reason is
logged.  A failing re-create is logged too.  Nothing here raises into the
simulation (this runs in a simulation callback): an unexpected error is logged
and the domain is left as it is.

Simplified: xl's suffix is the time (``-%Y%m%dT%H%MZ``); xensim's is
``--DOMID``, which stays unique and deterministic.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from simpy.events import Timeout

from xensim.hypervisor.domain import ShutdownReason
from xensim.hypervisor.time import SECONDS
from xensim.toolstack.libxl_error import LibxlError

if TYPE_CHECKING:
    from xensim.hypervisor.domain import Domain
    from xensim.toolstack.domconfig import DomainConfig
    from xensim.toolstack.libxl import Libxl

ACTION_KEY = {
    ShutdownReason.POWEROFF: "on_poweroff",
    ShutdownReason.REBOOT: "on_reboot",
    ShutdownReason.CRASH: "on_crash",
    ShutdownReason.WATCHDOG: "on_watchdog",
}
XL_RESTART_SLEEP_NS = SECONDS(2)
"""xl_vmcontrol.c: ``LOG("Done. Rebooting now"); sleep(2);`` before re-creating."""
RESTART_PENDING = "restart_pending"
"""``d.info`` key set while xl sleeps before re-creating the domain."""
HANDLED = "death_handled"
"""``d.info`` key set once the action has run: ``xl shutdown -w`` waits for it."""
UNMONITORED = "unmonitored"
"""``d.info`` key of a domain created with ``xl create -e``: no xl process watches it,
so nothing acts on its shutdown (it stays shut down, as with xl)."""
CONFIG_UPDATE = "config_update"
"""``d.info`` key of the config ``xl config-update`` stored (xl's "xl" userdata): a
restart builds from it instead of the running config (reload_domain_config)."""


class DeathWatcher:
    """Carries out a domain's configured action when it shuts down."""

    def __init__(self, libxl: Libxl) -> None:
        self.libxl = libxl
        self.hyp = libxl.hyp
        self.hyp.shutdown_hooks.append(self.on_shutdown)

    def on_shutdown(self, d: Domain) -> None:
        if d.info.get("config") is None or d.is_privileged or d.info.get(UNMONITORED):
            return
        ev = Timeout(self.hyp.env, 0, d)
        ev.callbacks.append(lambda e: self.handle(e._value))  # type: ignore[union-attr]

    def action_for(self, d: Domain) -> str:
        reason = d.shutdown_code
        key = ACTION_KEY.get(reason) if reason is not None else None
        if key is None:  # suspend, soft_reset: xl leaves suspended domains alone
            return "preserve" if reason == ShutdownReason.SUSPEND else "destroy"
        return str(getattr(d.info["config"], key))

    def handle(self, d: Domain) -> None:
        try:
            self._handle(d)
        except Exception as exc:  # a simulation callback: log, never raise into the host
            self.hyp.log(f"xl: handling the shutdown of domain {d.domid} ({d.name}) failed: "
                         f"{type(exc).__name__}: {exc}; domain left as it is")
            d.info[HANDLED] = True

    def _handle(self, d: Domain) -> None:
        if d.is_dying or d.domid not in self.hyp.domains:
            return
        action = self.action_for(d)
        code = int(d.shutdown_code) if d.shutdown_code is not None else -1
        self.hyp.log(f"xl: Domain {d.domid} has shut down, reason code {code}: "
                     f"action {action}")
        cfg = d.info.get(CONFIG_UPDATE) or d.info["config"]
        if CONFIG_UPDATE in d.info:
            self.hyp.log('xl: "xl" configuration found, using it')
        if action in ("preserve", "soft-reset"):
            d.info[HANDLED] = True
            return
        if action == "rename-restart":
            try:
                self.libxl.domain_rename(d, f"{d.name}--{d.domid}")
            except LibxlError as exc:  # preserve_domain failed: xl leaves it in place
                why = str(exc).splitlines()[0]
                self.hyp.log(f"xl: Preserving domain {d.domid} {d.name} with suffix "
                             f"--{d.domid} failed ({why}); leaving it in place, no restart")
                d.info[HANDLED] = True
                return
            d.info[HANDLED] = True
        else:
            self.libxl.domain_destroy(d)
            d.info[HANDLED] = True
        if action in ("restart", "rename-restart", "coredump-restart"):
            self.hyp.log(f"xl: Domain {d.domid} ({cfg.name}): Done. Rebooting now")
            d.info[RESTART_PENDING] = True
            ev = Timeout(self.hyp.env,
                         XL_RESTART_SLEEP_NS + self.hyp.costs["libxl_domain_build"])
            ev.callbacks.append(lambda _e: self._restart(d, cfg))  # type: ignore[union-attr]

    def _restart(self, d: Domain, cfg: DomainConfig) -> None:
        d.info.pop(RESTART_PENDING, None)
        try:
            nd = self.libxl.domain_create(cfg)
        except Exception as exc:  # a simulation callback: log, never raise into the host
            self.hyp.log(f"xl: restarting {cfg.name} failed: {exc}")
            return
        d.info["restarted_as"] = nd.domid

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
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from simpy.events import Timeout

from xensim.hypervisor.domain import ShutdownReason

if TYPE_CHECKING:
    from xensim.hypervisor.domain import Domain
    from xensim.toolstack.libxl import Libxl

ACTION_KEY = {
    ShutdownReason.POWEROFF: "on_poweroff",
    ShutdownReason.REBOOT: "on_reboot",
    ShutdownReason.CRASH: "on_crash",
    ShutdownReason.WATCHDOG: "on_watchdog",
}
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
            self.libxl.domain_rename(d, f"{d.name}--{d.domid}")
            d.info[HANDLED] = True
        else:
            self.libxl.domain_destroy(d)
            d.info[HANDLED] = True
        if action in ("restart", "rename-restart", "coredump-restart"):
            from xensim.toolstack.libxl import LibxlError

            try:
                nd = self.libxl.domain_create(cfg)
            except LibxlError as exc:
                self.hyp.log(f"xl: restarting {cfg.name} failed: {exc}")
                return
            d.info["restarted_as"] = nd.domid

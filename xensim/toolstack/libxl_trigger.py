"""Triggers and sysrq: ``xl trigger``, ``xl button-press``, ``xl sysrq``.

Mirrors: tools/libs/light/libxl_domain.c (``libxl_send_trigger``: one
XEN_DOMCTL_sendtrigger per trigger, ``s3resume`` through qemu's
``system_wakeup``; ``libxl_send_sysrq``: the letter written to the guest's
``control/sysrq``), xen/arch/x86/domctl.c (``XEN_DOMCTL_sendtrigger``: an
NMI for any guest, the ACPI power and sleep buttons for HVM guests only,
-EINVAL for a PV one, -ENOSYS for ``init`` and ``reset``, -ESRCH for a vCPU
that does not exist) and Linux's answers: drivers/xen/manage.c
(``sysrq_handler``) and drivers/tty/sysrq.c (the ``sysrq:`` lines).

A failed trigger is logged as libxl does and xl still exits 0 (main_trigger
ignores the result).  What the guest does is modelled at the level xl shows:
a power button is an orderly poweroff after :data:`GUEST_SHUTDOWN_ACK_NS`
(as ``xl shutdown -F``), a sleep button puts an HVM guest in ACPI S3 (its
vCPUs stop until ``s3resume``), an NMI prints Linux's "Uhhuh" lines; sysrq
``b``/``o``/``c`` reboot, power off or crash the guest (its ``on_*`` action
follows), the other letters print their ``sysrq:`` line.
"""

from __future__ import annotations

import errno
import os
from typing import TYPE_CHECKING

from simpy.events import Timeout

from xensim.domains.dom0.xenstore import XsError
from xensim.hypervisor.domain import ShutdownReason
from xensim.toolstack.libxl import GUEST_SHUTDOWN_ACK_NS
from xensim.toolstack.libxl_error import ERROR_FAIL, ERROR_INVAL, LibxlError, log_error

if TYPE_CHECKING:
    from xensim.hypervisor.domain import Domain
    from xensim.toolstack.libxl import Libxl

TRIGGERS = ("unknown", "power", "sleep", "nmi", "init", "reset", "s3resume")
"""libxl_trigger's names (libxl_trigger_from_string accepts these, case-blind)."""

S3 = "s3_suspended"
"""``d.info`` key of an HVM guest in ACPI S3 (Xen's ``is_s3_suspended``)."""

SYSRQ = {
    "b": "Resetting", "o": "Power Off", "c": "Trigger a crash", "s": "Emergency Sync",
    "u": "Emergency Remount R/O", "m": "Show Memory", "t": "Show State",
    "w": "Show Blocked State", "l": "Show backtrace of all active CPUs",
    "e": "Terminate All Tasks", "i": "Kill All Tasks", "p": "Show Regs",
    "q": "Show clockevent devices & pending hrtimers (no others)",
}
"""drivers/tty/sysrq.c's action messages for the keys a dom0 admin sends."""
SYSRQ_HELP = ("sysrq: HELP : loglevel(0-9) reboot(b) crash(c) terminate-all-tasks(e) "
              "memory-full-oom-kill(f) kill-all-tasks(i) thaw-filesystems(j) sak(k) "
              "show-backtrace-all-active-cpus(l) show-memory-usage(m) nice-all-RT-tasks(n) "
              "poweroff(o) show-registers(p) show-all-timers(q) unraw(r) sync(s) "
              "show-task-states(t) unmount(u) show-blocked-tasks(w) dump-ftrace-buffer(z)")


def trigger_from_string(name: str) -> str | None:
    low = name.lower()
    return low if low in TRIGGERS else None


def send_trigger(libxl: Libxl, d: Domain, trigger: str, vcpuid: int = 0) -> None:
    """Raise :class:`LibxlError` with libxl's log line if Xen refuses the trigger."""
    if trigger == "s3resume":
        if d.guest_type != "hvm":
            raise LibxlError("", ERROR_INVAL)  # libxl fails without a word
        if d.info.pop(S3, False):
            _printk(d, "ACPI: PM: Waking up from system sleep state S3")
            libxl.hyp.core.domain_unpause(d)
        return
    rc = _sendtrigger(libxl, d, trigger, vcpuid)
    if rc:
        raise LibxlError(log_error("libxl_domain.c", d.domid,
                                   f"Send trigger '{trigger}' failed: {os.strerror(-rc)}"),
                         ERROR_FAIL)


def _sendtrigger(libxl: Libxl, d: Domain, trigger: str, vcpuid: int) -> int:
    """XEN_DOMCTL_sendtrigger: 0 or -errno."""
    if not 0 <= vcpuid < d.max_vcpus:
        return -errno.ESRCH
    if trigger == "nmi":
        _printk(d, "Uhhuh. NMI received for unknown reason 00 on CPU %d." % vcpuid)
        _printk(d, "Dazed and confused, but trying to continue")
        return 0
    if trigger in ("power", "sleep"):
        if d.guest_type != "hvm":
            return -errno.EINVAL
        if trigger == "power":
            libxl._guest_ack_later(d, ShutdownReason.POWEROFF)
        else:
            _later(libxl, d, lambda: _s3_suspend(libxl, d))
        return 0
    return -errno.ENOSYS  # init, reset, unknown


def _s3_suspend(libxl: Libxl, d: Domain) -> None:
    """The guest's ACPI sleep: it writes SLP_TYP to PM1a_CNT and Xen pauses it."""
    if d.is_dying or d.is_shutdown or d.info.get(S3):
        return
    _printk(d, "PM: suspend entry (deep)")
    d.info[S3] = True
    libxl.hyp.core.domain_pause(d)


def send_sysrq(libxl: Libxl, d: Domain, key: str) -> None:
    """libxl_send_sysrq: write ``control/sysrq``; a guest with PV control reads it."""
    if libxl.io.xsd is None:
        return
    path = f"/local/domain/{d.domid}/control/sysrq"
    try:
        libxl.io.store.write(0, path, key)
        libxl.io.store.set_perms(0, path, [f"n{d.domid}"])  # control/ is the guest's to answer
    except XsError as exc:
        raise LibxlError(log_error("libxl_domain.c", d.domid, f"writing {path}: {exc}")) \
            from None
    cfg = d.info.get("config")
    if cfg is not None and cfg.type == "hvm" and not cfg.xen_platform_pci:
        return  # no PV drivers: nobody watches control/
    _later(libxl, d, lambda: _guest_sysrq(libxl, d, path))


def _guest_sysrq(libxl: Libxl, d: Domain, path: str) -> None:
    """Linux's sysrq_handler: read the key, write it back empty, handle it."""
    if d.is_dying or d.is_shutdown or libxl.hyp.domains.get(d.domid) is not d:
        return
    if d.pause_count > 0:  # a paused kernel reads nothing yet
        _later(libxl, d, lambda: _guest_sysrq(libxl, d, path))
        return
    store = libxl.io.store
    try:
        key = store.read(d.domid, path)
        store.write(d.domid, path, "")
    except XsError:
        return
    if not key:
        return
    action = SYSRQ.get(key[0])
    _printk(d, f"sysrq: {action}" if action else SYSRQ_HELP)
    if key[0] == "c":
        _printk(d, "Kernel panic - not syncing: sysrq triggered crash")
    reason = {"b": ShutdownReason.REBOOT, "o": ShutdownReason.POWEROFF,
              "c": ShutdownReason.CRASH}.get(key[0])
    if reason is not None:
        libxl.hyp.domain_shutdown(d, reason)


def _later(libxl: Libxl, d: Domain, fn: object) -> None:
    ev = Timeout(libxl.hyp.env, GUEST_SHUTDOWN_ACK_NS)
    ev.callbacks.append(lambda _e: fn())  # type: ignore[operator,union-attr]


def _printk(d: Domain, text: str) -> None:
    kernel = d.info.get("kernel")
    if kernel is not None:
        kernel.printk(text)

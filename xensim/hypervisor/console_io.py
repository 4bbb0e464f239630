"""console_io and xen_version: the guest's console and what Xen reports about itself.

Mirrors: xen/drivers/char/console.c (do_console_io: CONSOLEIO_write,
CONSOLEIO_read) and xen/common/kernel.c (do_xen_version).  A write appends
to the calling domain's console buffer, which ``xl console`` shows (Xen
departs here: a domU's writes go to Xen's own console in debug builds);
reading Xen's console ring is for the privileged domain only.  The buffer
is capped, as a real console ring is, so a chatty guest cannot grow the
host's memory without bound.  Where Xen copies a string out to the guest,
the handler appends it to a list the guest passes.
"""

from __future__ import annotations

import re
from enum import IntEnum
from typing import TYPE_CHECKING, Any

from xensim.hypervisor.errno import EFAULT, EINVAL, ENOSYS, EPERM
from xensim.hypervisor.hc_util import is_int
from xensim.hypervisor.hypercall import HC, register_hypercall

if TYPE_CHECKING:
    from xensim.hypervisor.hypervisor import Hypervisor
    from xensim.hypervisor.vcpu import VCPU

CONSOLE_BUFFER_MAX = 16384
"""Characters kept per domain (the newest ones), like a console ring."""


class CONSOLEIO(IntEnum):
    write = 0
    read = 1


class XENVER(IntEnum):
    version = 0
    extraversion = 1
    compile_info = 2
    capabilities = 3
    changeset = 4
    platform_parameters = 5
    get_features = 6
    pagesize = 7
    guest_handle = 8
    commandline = 9


def console_append(hyp: Hypervisor, domid: int, text: str) -> None:
    """Add *text* to the domain's console buffer, dropping the oldest beyond the cap."""
    lines = hyp.consoles.setdefault(domid, [])
    lines.append(text)
    total = sum(len(s) for s in lines)
    while total > CONSOLE_BUFFER_MAX and lines:
        gone = len(lines.pop(0))
        total -= gone
        hyp.console_dropped[domid] = hyp.console_dropped.get(domid, 0) + gone


_GUEST_PREFIX = re.compile(r"^\(d[0-9]+\) ")


def dmesg_line(msg: str, t: int | None = None) -> str:
    """One line of Xen's console as printk writes it: ``(XEN) `` for Xen's own messages,
    ``(d1) `` for a guest's (guest_printk, see :meth:`Hypervisor.guest_log`), then the
    timestamp (console_timestamps) if *t* is given."""
    m = _GUEST_PREFIX.match(msg)
    prefix, body = (m.group(0), msg[m.end():]) if m else ("(XEN) ", msg)
    stamp = f"[{t / 1e9:12.6f}] " if t is not None else ""
    return f"{prefix}{stamp}{body}"


def hc_console_io(hyp: Hypervisor, v: VCPU, cmd: int, count: Any = None,
                  buffer: Any = None) -> int:
    d = v.domain
    if cmd == CONSOLEIO.write:
        if not is_int(count) or count < 0 or not isinstance(buffer, str):
            return EFAULT
        console_append(hyp, d.domid, buffer[:count])
        return 0
    if cmd == CONSOLEIO.read:
        if not d.is_privileged:
            d.denied += 1
            return EPERM
        if not is_int(count) or count < 0 or type(buffer) is not list:
            return EFAULT
        text = "".join(dmesg_line(m) + "\n" for _, m in hyp.dmesg)[:count]
        buffer.append(text)
        return len(text)
    return ENOSYS if is_int(cmd) else EFAULT


def hc_xen_version(hyp: Hypervisor, v: VCPU, cmd: int, arg: Any = None) -> int:
    from xensim.hypervisor.hypervisor import XEN_VERSION

    major, minor = XEN_VERSION
    if cmd == XENVER.version:
        return (major << 16) | minor
    if cmd == XENVER.pagesize:
        return 4096
    out = {XENVER.extraversion: ".0", XENVER.capabilities: "xen-3.0-x86_64 hvm-3.0-x86_64",
           XENVER.changeset: "xensim", XENVER.compile_info: "xensim"}
    if cmd in out or cmd in (XENVER.commandline, XENVER.get_features):
        if type(arg) is not list:
            return EFAULT
        if cmd == XENVER.commandline:
            if not v.domain.is_privileged:
                v.domain.denied += 1
                return EPERM
            arg.append(f"sched={hyp.pools[0].sched.name}")
        elif cmd == XENVER.get_features:
            arg.append(0)
        else:
            arg.append(out[cmd])  # type: ignore[index]
        return 0
    return ENOSYS if is_int(cmd) else EINVAL


register_hypercall(HC.console_io, hc_console_io)
register_hypercall(HC.xen_version, hc_xen_version)

"""``xl console``: the guest's console, followed live through the host daemon.

Mirrors: tools/xl/xl_console.c (``-t pv|serial|vuart``, ``-n NUM``; an
unknown type prints the supported ones) and libxl_console.c, which execs
xenconsole on the console's tty.  xensim has no ttys: the console is the
guest's boot messages (made from the domain's config by
:mod:`xensim.toolstack.bootlog`: Linux's, Mini-OS's, nothing from Windows;
the text ``create -c`` shows) followed by whatever the guest wrote with
the ``console_io`` hypercall (the kernel's own messages, such as a
hot-plugged disk's ``blkfront:`` line or ``reboot: Power down``).

Through the daemon, the ``xl`` client follows the console as xenconsole
does (see :mod:`xensim.toolstack.xl.console_client`): it fetches what is
there, then polls with the hidden ``--poll=POS`` (a JSON answer: the text
after stream position POS, the new position, whether the domain lives),
until Ctrl-], the domain's death, or a signal.  In-process
(``host.xl("console d")``) and with ``create -c`` the command prints the
console so far and returns: nothing there can wait for more.

Which consoles exist: a PV (or PVH) guest has PV console 0 only; an HVM
guest's primary console is its emulated serial port, which exists only if
its config has ``serial=`` (``serial = "pty"``), as with real xl.
Asking for one that does not exist fails as xenconsole does when the tty
node is missing from xenstore.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from xensim.toolstack.bootlog import console_text
from xensim.toolstack.cnum import atoi
from xensim.toolstack.xl.context import XlContext
from xensim.toolstack.xl.getopt import getopt

if TYPE_CHECKING:
    from xensim.hypervisor.domain import Domain
    from xensim.hypervisor.hypervisor import Hypervisor

CONSOLE_TYPES = ("pv", "serial", "vuart")


def console_output(hyp: Hypervisor, d: Domain) -> str:
    """Boot banner (if the toolstack built the domain from a config) then console_io writes."""
    cfg = d.info.get("config")
    head = console_text(d, cfg) if cfg is not None and d.domid != 0 else ""
    return head + "".join(hyp.consoles.get(d.domid, []))


def main_console(ctx: XlContext, args: list[str]) -> int:
    opts, ops = getopt(args, "n:t:P:", {"poll": "P"}, cmd="console", reqargs=1)
    ctype, num, poll = None, 0, None
    for o, val in opts:
        if o == "t":
            if val not in CONSOLE_TYPES:
                ctx.err.write(f"console type supported are: {', '.join(CONSOLE_TYPES)}\n")
                return 1
            ctype = val
        elif o == "P":
            poll = atoi(val)
        else:
            num = atoi(val)
    if poll is not None and poll >= 0:  # the client following a console it already opened
        text, pos, alive = ctx.libxl.consoled.read(atoi(ops[0]), poll)
        ctx.out.write(json.dumps({"text": text, "pos": pos, "alive": alive}))
        return 0
    d = ctx.libxl.lookup(ops[0])
    cfg = d.info.get("config")
    hvm = cfg is not None and cfg.type == "hvm"
    if ctype == "vuart":  # Arm only: libxl_console_exec has no such console here
        ctx.err.write("Unable to attach console\n")
        return 1
    primary = "serial" if hvm else "pv"
    no_serial = hvm and not cfg.serial  # qemu got no -serial: no tty in xenstore
    if (ctype or primary) != primary or num != 0 or no_serial:
        ctx.err.write("xenconsole: Could not read tty from store: No such file or directory\n")
        return 1
    text = console_output(ctx.host.hv, d)
    if poll is None:
        ctx.out.write(text)
    else:  # the client's first look: everything so far, and where the stream ends
        ctx.out.write(json.dumps({"domid": d.domid, "text": text, "alive": True,
                                  "pos": ctx.libxl.consoled.position(d.domid)}))
    return 0

"""``xl console`` in the client: follow a guest's console live, as xenconsole does.

Mirrors: tools/console/client/main.c.  Interactive only when stdin and
stdout are both terminals: then the terminal goes raw, keys are read, and
Ctrl-] (0x1d) detaches; other keys are dropped (a simulated guest reads no
console input, where xenconsole would pass them on).  Otherwise stdin is
left alone and the output is followed until the domain dies or xl gets
SIGTERM (exit 0, like xenconsole) or SIGINT.  Either way, the domain's
death ends the session after its last output, with status 0.  Escape
characters in the guest's output are shown as ``.``, xenconsole's default
(XEN_CONSOLE_REPLACE_ESCAPE).

The daemon answers one request at a time, so the client polls every
:data:`POLL_S` with the hidden ``console --poll=POS DOMID`` (see
:mod:`xensim.toolstack.xl.xl_console`); the first request, ``--poll=-1``,
goes through the command's usual checks and errors.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import sys
import termios
import time
import tty
from collections.abc import Iterator
from typing import Any

from xensim.toolstack.hostd.client import request
from xensim.toolstack.hostd.runtime import HostPaths

ESCAPE_CHARACTER = 0x1D
"""Ctrl-]"""
POLL_S = 0.1


def _ask(paths: HostPaths, argv: list[str]) -> dict[str, Any]:
    return request(paths, {"op": "xl", "argv": argv, "cwd": os.getcwd()})


@contextlib.contextmanager
def _raw(fd: int) -> Iterator[None]:
    """cfmakeraw on the terminal for the session; restored however it ends."""
    old = termios.tcgetattr(fd)
    tty.setraw(fd)
    try:
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSANOW, old)


def follow(paths: HostPaths, xl_globals: list[str], args: list[str]) -> int:
    """Run ``xl [globals] console ARGS`` against the daemon; returns the exit status."""
    first = _ask(paths, [*xl_globals, "console", "--poll=-1", *args])
    if first.get("rc"):
        sys.stdout.write(first.get("stdout", ""))
        sys.stderr.write(first.get("stderr", ""))
        return int(first["rc"])
    state = json.loads(first["stdout"])
    interactive = sys.stdin.isatty() and sys.stdout.isatty()
    stop = {"flag": False}
    old_term = signal.signal(signal.SIGTERM, lambda *_: stop.update(flag=True))
    try:
        with _raw(sys.stdin.fileno()) if interactive else contextlib.nullcontext():
            _show(state["text"], interactive)
            while state["alive"] and not stop["flag"]:
                if _wait(interactive):
                    break
                reply = _ask(paths, [*xl_globals, "console", f"--poll={state['pos']}",
                                     str(state["domid"])])
                new = json.loads(reply["stdout"])
                state.update(pos=new["pos"], alive=new["alive"])
                _show(new["text"], interactive)
    finally:
        signal.signal(signal.SIGTERM, old_term)
    return 0


def _wait(interactive: bool) -> bool:
    """Sleep one poll period; True if the user pressed Ctrl-] meanwhile."""
    if not interactive:
        time.sleep(POLL_S)
        return False
    fd = sys.stdin.fileno()
    ready, _, _ = select.select([fd], [], [], POLL_S)
    return bool(ready) and ESCAPE_CHARACTER in os.read(fd, 60)


def _show(text: str, interactive: bool) -> None:
    if not text:
        return
    text = text.replace("\x1b", ".")
    if interactive:  # a raw terminal does not turn \n into \r\n itself
        text = text.replace("\n", "\r\n")
    sys.stdout.write(text)
    sys.stdout.flush()

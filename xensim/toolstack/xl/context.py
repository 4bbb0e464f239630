"""What an xl command implementation gets: the host, its toolstack, output streams, options."""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from xensim.host import Host
    from xensim.toolstack.libxl import Libxl
    from xensim.toolstack.xl.cmdtable import CmdSpec


class XlUsageError(Exception):
    """Bad arguments: xl prints the command's usage and exits non-zero."""


Waiter = Callable[[], "int | None"]
"""Polled as simulated time passes; returns the exit status once the wait is over."""


@dataclass
class XlContext:
    host: Host
    out: TextIO
    err: TextIO
    spec: CmdSpec | None = None
    cwd: str = "/"
    """The client's working directory: relative paths (``xl create vm.cfg``) resolve here."""
    live: bool = False
    """True inside the host daemon: simulated time follows the wall clock, so a command
    must not run the simulation itself (it sets :attr:`waiter` instead)."""
    dryrun: bool = False
    """Global ``-N``."""
    force: bool = False
    """Global ``-f``."""
    verbose: int = 0
    """Global ``-v`` count."""
    waiter: Waiter | None = None
    """Set by a command that must wait for the guest (``shutdown -w``)."""
    files_in: dict[str, bytes] = field(default_factory=dict)
    """User files the client read and sent with the command, by resolved path."""
    files_out: dict[str, bytes] = field(default_factory=dict)
    """Files a command running in the daemon wants written; the client writes them."""

    @property
    def libxl(self) -> Libxl:
        return self.host.toolstack

    def path(self, p: str) -> str:
        """*p* resolved against the client's working directory."""
        return p if os.path.isabs(p) else os.path.normpath(os.path.join(self.cwd, p))

    def read_user_file(self, p: str) -> bytes:
        """A file of the user's: what the client sent, else read here (in-process).
        Raises OSError as ``open`` does."""
        path = self.path(p)
        if path in self.files_in:
            return self.files_in[path]
        if self.live:  # the client could not read it: the daemon does not try
            raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), path)
        with open(path, "rb") as f:
            return f.read()

    def write_user_file(self, p: str, data: bytes) -> None:
        """Write a file of the user's: inside the daemon the client does it (the daemon
        never opens user paths); in-process, here.  Raises OSError as ``open`` does."""
        path = self.path(p)
        if self.live:
            self.files_out[path] = data
            return
        with open(path, "wb") as f:
            f.write(data)

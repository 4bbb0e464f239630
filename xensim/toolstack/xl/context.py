"""What an xl command implementation gets: the host, its toolstack, output streams, options.

Files: a command reads its input files with :meth:`XlContext.read_file` and writes its
output files with :meth:`XlContext.write_file`, never with ``open``.  In-process (a
scenario action, ``Host.xl``) they are the local disk; inside the host daemon they are
the bytes the ``xl`` client read and sent (:attr:`XlContext.files`), as real xl reads
its own config, so the daemon never opens a path a user names (a FIFO or ``/dev/zero``
is the client's problem, and bounded there).  A file the client did not send raises
:class:`NeedFiles`, which the daemon answers by asking the client for it: so a command
must read its files before it changes anything.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from xensim.host import Host
    from xensim.toolstack.libxl import Libxl
    from xensim.toolstack.xl.cmdtable import CmdSpec


class XlUsageError(Exception):
    """Bad arguments: xl prints the command's usage and exits non-zero."""


class NeedFiles(Exception):
    """The daemon needs these files from the client before the command can run."""

    def __init__(self, paths: list[str]) -> None:
        super().__init__(", ".join(paths))
        self.paths = paths


MAX_LOCAL_FILE = 8 << 20
"""In-process reads are bounded like the client's (``protocol.MAX_FILE``)."""


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
    files: dict[str, bytes | int] | None = None
    """In the daemon: the files the client sent, by absolute path (bytes, or the errno
    the client got); None in-process, where files are read from disk."""
    written: dict[str, bytes] | None = None
    """In the daemon: files for the client to write (see :meth:`write_file`)."""
    waiters_full: bool = False
    """The daemon has as many commands waiting as it allows: ``-w`` is refused."""

    @property
    def libxl(self) -> Libxl:
        return self.host.toolstack

    def path(self, p: str) -> str:
        """*p* resolved against the client's working directory."""
        return p if os.path.isabs(p) else os.path.normpath(os.path.join(self.cwd, p))

    def read_file(self, p: str) -> bytes:
        """The bytes of the file *p* names; :class:`OSError` with the reader's errno."""
        path = self.path(p)
        if self.files is None:
            with open(path, "rb") as f:
                data = f.read(MAX_LOCAL_FILE + 1)
            if len(data) > MAX_LOCAL_FILE:
                raise OSError(errno.EFBIG, os.strerror(errno.EFBIG), p)
            return data
        if path not in self.files:
            raise NeedFiles([path])
        got = self.files[path]
        if isinstance(got, int):
            raise OSError(got, os.strerror(got), p)
        return got

    def write_file(self, p: str, data: bytes) -> None:
        """Write *data* to *p*: at once in-process; by the client, after the answer, in
        the daemon."""
        path = self.path(p)
        if self.files is None:
            with open(path, "wb") as f:
                f.write(data)
            return
        if self.written is None:
            self.written = {}
        self.written[path] = data

"""What an xl command implementation gets: the host, its toolstack, output streams, options.

Files: a command reads the user's files with :meth:`XlContext.read_user_file` and writes
them with :meth:`XlContext.write_user_file`, never with ``open``.  In-process (a
scenario action, ``Host.xl``) they are the local disk; inside the host daemon they are
the bytes the ``xl`` client read and sent (:attr:`XlContext.files_in`), as real xl reads
its own config, so the daemon never opens a path a user names (a FIFO or ``/dev/zero``
is the client's problem, and bounded there).  A file the client did not send raises
:class:`NeedFiles`, which the daemon answers by asking the client for it: so a command
must read its files before it changes anything.
"""

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


class NeedFiles(Exception):
    """The daemon needs these files from the client before the command can run."""

    def __init__(self, paths: list[str]) -> None:
        super().__init__(", ".join(paths))
        self.paths = paths


MAX_LOCAL_FILE = 16 << 20
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
    files_in: dict[str, bytes | int] | None = None
    """In the daemon: the user's files the client read and sent with the command, by
    resolved path (bytes, or the errno the client got); None in-process, where files
    are read from disk."""
    files_out: dict[str, bytes] = field(default_factory=dict)
    """Files a command running in the daemon wants written; the client writes them."""
    waiters_full: bool = False
    """The daemon has as many commands waiting as it allows: ``-w`` is refused."""

    @property
    def libxl(self) -> Libxl:
        return self.host.toolstack

    def path(self, p: str) -> str:
        """*p* resolved against the client's working directory."""
        return p if os.path.isabs(p) else os.path.normpath(os.path.join(self.cwd, p))

    def read_user_file(self, p: str) -> bytes:
        """The bytes of the user's file *p*: in the daemon (:attr:`files_in` set), what
        the client sent, and :class:`NeedFiles` if it sent nothing for *p*; in-process,
        read here, bounded.
        Raises OSError with the reader's errno, as ``open`` does."""
        path = self.path(p)
        if self.files_in is None:  # in-process: the daemon always passes a dict
            with open(path, "rb") as f:
                data = f.read(MAX_LOCAL_FILE + 1)
            if len(data) > MAX_LOCAL_FILE:
                raise OSError(errno.EFBIG, os.strerror(errno.EFBIG), path)
            return data
        got = self.files_in.get(path)
        if got is None:
            raise NeedFiles([path])
        if isinstance(got, int):
            raise OSError(got, os.strerror(got), path)
        return got

    def read_config(self, filename: str) -> str | None:
        """An xl.cfg's text, or None after printing xl's "Failed to read config file"
        (or, for bytes that are not UTF-8, where they stop being text)."""
        try:
            return self.read_user_file(filename).decode("utf-8")
        except OSError as exc:
            self.err.write(f"Failed to read config file: {filename}: "
                           f"{os.strerror(exc.errno or 0)}\n")
        except UnicodeDecodeError as exc:
            self.err.write(f"{filename}: config file is not UTF-8 text (byte {exc.start})\n"
                           "Failed to parse config: Invalid argument\n")
        return None

    def write_user_file(self, p: str, data: bytes) -> None:
        """Write a file of the user's: inside the daemon the client does it (the daemon
        never opens user paths); in-process, here.  Raises OSError as ``open`` does."""
        path = self.path(p)
        if self.live:
            self.files_out[path] = data
            return
        with open(path, "wb") as f:
            f.write(data)

"""Where a host daemon lives on disk: one socket, pid file, lock and log per host name.

The runtime directory is per user, as for any session daemon:
``$XENSIM_RUNTIME_DIR`` if set (tests use it), else ``$XDG_RUNTIME_DIR/xensim``,
else ``/tmp/xensim-$UID``.  The host name comes from ``--host``, then
``$XENSIM_HOST``, then ``default``, so several named hosts coexist.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

DEFAULT_HOST = "default"
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class HostNameError(ValueError):
    """A host name that cannot name a socket file."""


def runtime_dir() -> Path:
    explicit = os.environ.get("XENSIM_RUNTIME_DIR")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if xdg:
        return Path(xdg) / "xensim"
    return Path(f"/tmp/xensim-{os.getuid()}")


def host_name(explicit: str | None = None) -> str:
    """The host a command talks to: *explicit*, else ``$XENSIM_HOST``, else ``default``."""
    name = explicit or os.environ.get("XENSIM_HOST") or DEFAULT_HOST
    if not _NAME_RE.match(name):
        raise HostNameError(f"invalid host name {name!r}: use letters, digits, '.', '_', '-'")
    return name


@dataclass(frozen=True)
class HostPaths:
    """The files of one named host in the runtime directory."""

    name: str
    dir: Path

    @classmethod
    def for_host(cls, name: str | None = None) -> HostPaths:
        return cls(host_name(name), runtime_dir())

    @property
    def socket(self) -> Path:
        return self.dir / f"{self.name}.sock"

    @property
    def pidfile(self) -> Path:
        return self.dir / f"{self.name}.pid"

    @property
    def lockfile(self) -> Path:
        return self.dir / f"{self.name}.lock"

    @property
    def logfile(self) -> Path:
        return self.dir / f"{self.name}.log"

    def ensure_dir(self) -> None:
        self.dir.mkdir(mode=0o700, parents=True, exist_ok=True)

    def read_pid(self) -> int | None:
        try:
            return int(self.pidfile.read_text().strip())
        except (OSError, ValueError):
            return None

"""Where a host daemon lives on disk, and who may use it: one socket, pid, lock, log and
checkpoint per host name, in a private per-user directory.

The runtime directory is ``$XENSIM_RUNTIME_DIR`` if set (tests use it), else
``$XDG_RUNTIME_DIR/xensim``, else ``/tmp/xensim-$UID``.  The host name comes from
``--host``, then ``$XENSIM_HOST``, then ``default``, so several named hosts coexist.

Security follows ssh-agent and tmux (tmux's ``expand_paths``/``server_create_socket``):
the directory must be a real directory (not a symlink), owned by the user and closed to
group and others, or nothing is read from or written to it; files are opened with
``O_NOFOLLOW`` and mode 0600, so another local user who pre-created ``/tmp/xensim-$UID``
can neither redirect the pid and log files, nor swap the socket, nor choose which
process ``xensim host stop`` signals.  The daemon also checks each peer's uid
(``SO_PEERCRED``), see :mod:`xensim.toolstack.hostd.server`.

Liveness is the daemon's ``flock`` on the lock file, never a ping that a busy host
can miss: :meth:`HostPaths.daemon_pid` answers "running, pid N" or "not running".
This module uses only the standard library (the thin ``xl`` client imports it).
"""

from __future__ import annotations

import errno
import fcntl
import os
import stat
from pathlib import Path

DEFAULT_HOST = "default"
_NAME_FIRST = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
_NAME_REST = _NAME_FIRST | frozenset("_.-")
PRIVATE_FILE = 0o600


class HostNameError(ValueError):
    """A host name that cannot name a socket file."""


class RuntimeDirError(OSError):
    """A runtime directory that is not safely the user's own: nothing is done in it."""


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
    if not (0 < len(name) <= 64 and name[0] in _NAME_FIRST
            and all(c in _NAME_REST for c in name)):
        raise HostNameError(f"invalid host name {name!r}: use letters, digits, '.', '_', '-'")
    return name


def check_private_dir(path: Path) -> None:
    """Refuse *path* unless it is a directory (not a symlink), owned by this user, with
    no access for group or others: tmux's check on its socket directory."""
    try:
        st = os.lstat(path)
    except OSError as exc:
        raise RuntimeDirError(exc.errno, f"runtime directory {path}: {exc.strerror}") from None
    uid = os.getuid()
    why = None
    if stat.S_ISLNK(st.st_mode):
        why = "is a symbolic link"
    elif not stat.S_ISDIR(st.st_mode):
        why = "is not a directory"
    elif st.st_uid != uid:
        why = f"is owned by uid {st.st_uid}, not by you (uid {uid})"
    elif st.st_mode & 0o077:
        why = f"is open to other users (mode {stat.S_IMODE(st.st_mode):04o}, want 0700)"
    if why is not None:
        raise RuntimeDirError(errno.EACCES, f"runtime directory {path} {why}; refusing to "
                              "use it (remove it, or set XDG_RUNTIME_DIR or "
                              "XENSIM_RUNTIME_DIR)")


def open_private(path: Path, flags: int) -> int:
    """``os.open`` for the daemon's own files: never through a symlink, created 0600,
    and refused if someone else owns the file."""
    fd = os.open(path, flags | os.O_NOFOLLOW | os.O_CLOEXEC, PRIVATE_FILE)
    st = os.fstat(fd)
    if st.st_uid != os.getuid() or not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise RuntimeDirError(errno.EACCES, f"{path} is not a regular file of yours")
    if stat.S_IMODE(st.st_mode) != PRIVATE_FILE:
        os.fchmod(fd, PRIVATE_FILE)
    return fd


class HostPaths:
    """The files of one named host in the runtime directory.  (A plain class, not a
    dataclass: the thin client does not import ``dataclasses``.)"""

    __slots__ = ("dir", "name")

    def __init__(self, name: str, dir: Path) -> None:
        self.name = name
        self.dir = dir

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

    @property
    def checkpoint(self) -> Path:
        return self.dir / f"{self.name}.checkpoint"

    def ensure_dir(self) -> None:
        """Create the directory 0700 if missing, then check it is privately ours."""
        try:
            self.dir.mkdir(mode=0o700, parents=True)
        except FileExistsError:
            pass
        check_private_dir(self.dir)

    def read_pid(self) -> int | None:
        try:
            fd = open_private(self.pidfile, os.O_RDONLY)
        except OSError:
            return None
        try:
            return int(os.read(fd, 64).decode().strip())
        except ValueError:
            return None
        finally:
            os.close(fd)

    def write_private(self, path: Path, data: bytes) -> None:
        fd = open_private(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)

    def daemon_pid(self) -> int | None:
        """The running daemon's pid (0 if it holds the lock but has not written its pid
        yet), or None if no daemon holds this host's lock.

        Probes with a shared lock, which fails while the daemon holds its exclusive one;
        a daemon that starts during the probe retries its lock for a moment
        (:func:`xensim.toolstack.hostd.lock.acquire`), so probing never stops a start.
        """
        if not self.dir.exists():
            return None
        check_private_dir(self.dir)
        try:
            fd = open_private(self.lockfile, os.O_RDONLY)
        except FileNotFoundError:
            return None
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return self.read_pid() or 0
            fcntl.flock(fd, fcntl.LOCK_UN)
            return None
        finally:
            os.close(fd)

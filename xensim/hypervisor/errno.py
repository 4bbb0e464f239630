"""Xen's error numbers (xen/include/public/errno.h): Linux-style, returned negated.

Hypercall handlers return ``0`` or ``-E*``; grant-table operations return
``GNTST_*`` status codes, which live beside the grant table.
"""

from __future__ import annotations

from enum import IntEnum


class Errno(IntEnum):
    EPERM = 1
    ENOENT = 2
    ESRCH = 3
    EINTR = 4
    EIO = 5
    ENXIO = 6
    E2BIG = 7
    EBADF = 9
    EAGAIN = 11
    ENOMEM = 12
    EACCES = 13
    EFAULT = 14
    EBUSY = 16
    EEXIST = 17
    EXDEV = 18
    ENODEV = 19
    ENOTDIR = 20
    EISDIR = 21
    EINVAL = 22
    ENOSPC = 28
    ERANGE = 34
    ENOSYS = 38
    ENOTEMPTY = 39
    EOPNOTSUPP = 95
    ETIMEDOUT = 110


EPERM = -Errno.EPERM
ENOENT = -Errno.ENOENT
ESRCH = -Errno.ESRCH
EAGAIN = -Errno.EAGAIN
ENOMEM = -Errno.ENOMEM
EFAULT = -Errno.EFAULT
EBUSY = -Errno.EBUSY
EEXIST = -Errno.EEXIST
EINVAL = -Errno.EINVAL
ENOSPC = -Errno.ENOSPC
ENOSYS = -Errno.ENOSYS
ENODEV = -Errno.ENODEV


def errno_name(rc: int) -> str:
    """``-22`` -> ``"-EINVAL"``; ``0`` -> ``"0"``; unknown codes print as numbers."""
    if rc >= 0:
        return str(rc)
    try:
        return "-" + Errno(-rc).name
    except ValueError:
        return str(rc)

"""xenstored errors travel as errno *names*, not numbers.

Mirrors: xen/include/public/io/xs_wire.h (xsd_errors); tools/xenstored/core.c
(send_error: anything not in the table is reported as EINVAL).
"""

from __future__ import annotations

XSD_ERRORS = (
    "EINVAL", "EACCES", "EEXIST", "EISDIR", "ENOENT", "ENOMEM", "ENOSPC", "EIO",
    "ENOTEMPTY", "ENOSYS", "EROFS", "EBUSY", "EAGAIN", "EISCONN", "E2BIG", "EPERM",
)  # fmt: skip
# EPERM is not in xs_wire.h's table, but do_set_perms returns it; send_error
# would turn it into EINVAL on the wire.  Callers of the Python API see EPERM.


class XsError(Exception):
    """A failed xenstore request; ``str(err)`` is the wire error string."""

    def __init__(self, name: str) -> None:
        if name not in XSD_ERRORS:
            name = "EINVAL"
        super().__init__(name)
        self.name = name

    def wire(self) -> str:
        """The string xenstored would put in an XS_ERROR reply."""
        return self.name if self.name != "EPERM" else "EINVAL"

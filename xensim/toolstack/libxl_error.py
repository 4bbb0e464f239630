"""libxl's error codes and error lines, shared by the control layer and its device layer.

Mirrors: tools/libs/light/libxl_types.idl (``libxl_error``: the numbers xl
prints as ``rc=``) and libxl_internal.h's LOGD(ERROR, domid, ...), which xl
shows on stderr as ``libxl: error: FILE:LINE:FUNCTION: Domain N:MESSAGE``;
xensim names the file only.
"""

from __future__ import annotations

ERROR_FAIL = -3
ERROR_NOMEM = -5
ERROR_INVAL = -6
ERROR_TIMEDOUT = -9
ERROR_NOPARAVIRT = -10
ERROR_DEVICE_EXISTS = -17
ERROR_DOMAIN_DESTROYED = -24


class LibxlError(Exception):
    """A failed toolstack operation; the message is what xl prints."""

    def __init__(self, message: str, rc: int = ERROR_FAIL) -> None:
        super().__init__(message)
        self.rc = rc


def log_error(where: str, domid: int | None, msg: str) -> str:
    """libxl's LOGD(ERROR, ...) line as xl shows it on stderr."""
    dom = f"Domain {domid}:" if domid is not None else ""
    return f"libxl: error: {where}: {dom}{msg}"

"""The xenstore wire protocol's message types, and one dispatch table over them.

Mirrors: xen/include/public/io/xs_wire.h (enum xsd_sockmsg_type) and
tools/xenstored/core.c (wire_funcs, process_message); simplified: payloads
are Python lists of strings instead of nul-separated bytes, and replies are
``(type, payload)`` tuples.  Privileged-only requests from a guest get
EACCES, unknown ones ENOSYS, as in process_message.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import IntEnum

from xensim.domains.dom0.xenstore import domain as xsdom
from xensim.domains.dom0.xenstore.errors import XsError
from xensim.domains.dom0.xenstore.store import XenStore


class XsType(IntEnum):
    CONTROL = 0  # was XS_DEBUG
    DIRECTORY = 1
    READ = 2
    GET_PERMS = 3
    WATCH = 4
    UNWATCH = 5
    TRANSACTION_START = 6
    TRANSACTION_END = 7
    INTRODUCE = 8
    RELEASE = 9
    GET_DOMAIN_PATH = 10
    WRITE = 11
    MKDIR = 12
    RM = 13
    SET_PERMS = 14
    WATCH_EVENT = 15
    ERROR = 16
    IS_DOMAIN_INTRODUCED = 17
    RESUME = 18
    SET_TARGET = 19
    RESET_WATCHES = 21
    DIRECTORY_PART = 22


Handler = Callable[[XenStore, int, int, list[str]], "str | list[str]"]


def _ok(_: object = None) -> str:
    return "OK"


XS_HANDLERS: dict[XsType, tuple[Handler, bool]] = {
    XsType.DIRECTORY: (lambda s, d, t, a: s.directory(d, a[0], t), False),
    XsType.READ: (lambda s, d, t, a: s.read(d, a[0], t), False),
    XsType.GET_PERMS: (lambda s, d, t, a: s.get_perms(d, a[0], t), False),
    XsType.WATCH: (lambda s, d, t, a: _ok(s.watch(d, a[0], a[1])), False),
    XsType.UNWATCH: (lambda s, d, t, a: _ok(s.unwatch(d, a[0], a[1])), False),
    XsType.TRANSACTION_START: (lambda s, d, t, a: str(s.transaction_start(d, t)), False),
    XsType.TRANSACTION_END: (lambda s, d, t, a: _ok(_end(s, d, t, a)), False),
    XsType.INTRODUCE: (lambda s, d, t, a: _ok(xsdom.introduce_domain(s, d, int(a[0]))), True),
    XsType.RELEASE: (lambda s, d, t, a: _ok(xsdom.release_domain(s, d, int(a[0]))), True),
    XsType.GET_DOMAIN_PATH: (lambda s, d, t, a: xsdom.get_domain_path(int(a[0])), False),
    XsType.WRITE: (lambda s, d, t, a: _ok(s.write(d, a[0], a[1], t)), False),
    XsType.MKDIR: (lambda s, d, t, a: _ok(s.mkdir(d, a[0], t)), False),
    XsType.RM: (lambda s, d, t, a: _ok(s.rm(d, a[0], t)), False),
    XsType.SET_PERMS: (lambda s, d, t, a: _ok(s.set_perms(d, a[0], a[1:], t)), False),
    XsType.IS_DOMAIN_INTRODUCED: (
        lambda s, d, t, a: "T" if xsdom.is_domain_introduced(s, int(a[0])) else "F",
        True,
    ),
}
"""type -> (handler, privileged only).  Handlers get (store, domid, tx_id, args)."""


def _end(store: XenStore, domid: int, tx: int, args: list[str]) -> None:
    if not args or args[0] not in ("T", "F"):
        raise XsError("EINVAL")
    store.transaction_end(domid, tx, commit=args[0] == "T")


def do_xs_request(
    store: XenStore, domid: int, msg_type: int, tx_id: int, args: list[str]
) -> tuple[XsType, str | list[str]]:
    """One request in, one reply out: the reply's type, or XS_ERROR and the errno name."""
    entry = XS_HANDLERS.get(msg_type)  # type: ignore[call-overload]
    if entry is None:
        return XsType.ERROR, "ENOSYS"
    handler, priv_only = entry
    if priv_only and not store.is_privileged(domid):
        return XsType.ERROR, "EACCES"
    try:
        return XsType(msg_type), handler(store, domid, tx_id, args)
    except XsError as err:
        return XsType.ERROR, err.wire()
    except (IndexError, ValueError):
        return XsType.ERROR, "EINVAL"

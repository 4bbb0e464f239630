"""``--web [ADDR:]PORT``: parsing the address and deciding whether it needs a token.

Standard library only, so a thin command-line client can check the option before it
starts anything.
"""

from __future__ import annotations

import ipaddress

DEFAULT_ADDR = "127.0.0.1"
"""A port alone binds the loopback address: the page is for this machine only."""


class BindError(ValueError):
    """A ``--web`` value that is not ``[ADDR:]PORT``."""


def parse_bind(spec: str) -> tuple[str, int]:
    """``8080`` -> (127.0.0.1, 8080); ``0.0.0.0:8080`` and ``[::1]:8080`` as written."""
    addr, sep, port = spec.rpartition(":")
    if not sep:
        addr = DEFAULT_ADDR
    addr = addr.strip("[]") or DEFAULT_ADDR
    if not port.isdigit() or not 0 <= int(port) <= 65535:
        raise BindError(f"{spec!r}: expected [ADDR:]PORT with PORT in 0..65535")
    return addr, int(port)


def is_loopback(addr: str) -> bool:
    if addr == "localhost":
        return True
    try:
        return ipaddress.ip_address(addr).is_loopback
    except ValueError:
        return False

"""Xen's runtime parameters: what ``xl set-parameters`` may change on a running host.

Mirrors: xen/common/kernel.c (``parse_params``: whitespace-separated
``name=value`` items, a ``no-`` prefix for booleans, one printk per bad
item and -EINVAL overall) and the ``*_runtime_param`` declarations of Xen
4.19 (grant_table.c, console.c, x86's pv/domain.c, kexec.c...).  Only the
runtime parameters exist here: a boot-only one (``sched=``) is "unknown",
as Xen answers for it after boot.

What changes behaviour: ``gnttab_max_frames`` / ``gnttab_max_maptrack_frames``
(the limits domains created from now on get).  The others are kept and
reported (``xl info``'s view is the command line, as in Xen), not modelled.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from xensim.hypervisor.errno import EINVAL

if TYPE_CHECKING:
    from xensim.hypervisor.hypervisor import Hypervisor

_TRUE = ("1", "yes", "on", "true", "enable")
_FALSE = ("0", "no", "off", "false", "disable")
_LOGLVLS = ("none", "error", "warning", "info", "debug", "all")


def _bool(value: str) -> bool | None:
    """parse_bool: None if *value* is not a boolean word."""
    if value in _TRUE or value == "":
        return True
    if value in _FALSE:
        return False
    return None


def _uint(value: str) -> int | None:
    try:
        n = int(value, 0)
    except ValueError:
        return None
    return n if n >= 0 else None


def _loglvl(value: str) -> str | None:
    lower, _, upper = value.partition("/")
    ok = lower in _LOGLVLS and (not upper or upper in _LOGLVLS)
    return value if ok else None


def _timestamps(value: str) -> str | None:
    return value if value in ("none", "date", "datems", "boot", "raw") else None


def _text(value: str) -> str:
    return value


Parser = Callable[[str], object]
RUNTIME_PARAMS: dict[str, tuple[str, Parser]] = {
    "gnttab_max_frames": ("uint", _uint),
    "gnttab_max_maptrack_frames": ("uint", _uint),
    "loglvl": ("custom", _loglvl),
    "guest_loglvl": ("custom", _loglvl),
    "console_timestamps": ("custom", _timestamps),
    "conswitch": ("str", _text),
    "global-pages": ("bool", _bool),
    "pcid": ("custom", _bool),
    "crash-debug-panic": ("str", _text),
    "crash-debug-hwdom": ("str", _text),
    "crash-debug-watchdog": ("str", _text),
    "crash-debug-kexeccmd": ("str", _text),
    "crash-debug-debugkey": ("str", _text),
}
"""Name -> (kind, parser): the parser returns the value, or None if it is invalid."""


def set_parameters(hyp: Hypervisor, params: str) -> int:
    """XEN_SYSCTL_set_parameter: apply each item; 0 or -EINVAL (after all of them, as
    parse_params goes on past a bad one and printks each)."""
    final = 0
    for item in params.split():
        key, _, value = item.partition("=")
        name, assert_ = (key[3:], False) if key.startswith("no-") else (key, True)
        spec = RUNTIME_PARAMS.get(name)
        if spec is None:
            hyp.log(f'parameter "{key}" unknown!')
            final = EINVAL
            continue
        kind, parse = spec
        parsed = parse(value)
        if kind == "bool" and isinstance(parsed, bool) and not assert_:
            parsed = not parsed
        if parsed is None or (not assert_ and kind != "bool"):
            hyp.log(f'parameter "{key}" has invalid value "{value}", rc={EINVAL}!')
            final = EINVAL
            continue
        hyp.params[name] = parsed
        _apply(hyp, name, parsed)
    return final


def _apply(hyp: Hypervisor, name: str, value: object) -> None:
    gnttab = hyp.gnttab
    if gnttab is None or not isinstance(value, int):
        return
    if name == "gnttab_max_frames":
        gnttab.max_grant_frames = value
    elif name == "gnttab_max_maptrack_frames":
        gnttab.max_maptrack_frames = value

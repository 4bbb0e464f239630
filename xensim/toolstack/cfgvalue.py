"""Typed reads of raw xl.cfg settings: int, bool, string, enum, string list.

Mirrors: tools/libs/util/libxlu_cfg.c (``xlu_cfg_get_long``,
``xlu_cfg_get_bounded_long``, ``xlu_cfg_get_defbool``, ``xlu_cfg_get_string``,
``xlu_cfg_get_list``).  As there, a number and a string are both text: a
quoted ``"512"`` is a fine integer and an unquoted ``123`` a fine string;
integers go through C's ``strtol(…, 0)``, so ``0x20`` is hex and a leading
``0`` means octal.  Where xl merely *warns* and falls back to the default
(wrong type, ``+=`` on a number, out of bounds) we raise instead, naming
file, line, column and key: a simulator user wants to know at once.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from xensim.toolstack.xlcfg import Atom, ListValue, Setting, Value, XlCfgError

__all__ = [
    "c_strtol",
    "describe",
    "fail",
    "get_bool",
    "get_enum",
    "get_int",
    "get_str",
    "get_str_list",
    "get_str_or_list",
]

_STRTOL = re.compile(r"\s*([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)")


def c_strtol(text: str) -> int | None:
    """The value of *text* read whole by ``strtol(text, &ep, 0)``, or None."""
    m = _STRTOL.fullmatch(text)
    if not m:
        return None
    sign, digits = m.groups()
    if digits[:2] in ("0x", "0X"):
        n = int(digits, 16)
    elif digits.startswith("0"):
        n = int(digits, 8) if len(digits) > 1 else 0
    else:
        n = int(digits)
    return -n if sign == "-" else n


def describe(value: Value) -> str:
    """``string "lots"``, ``number 12ab`` or ``a list``, for messages."""
    if isinstance(value, ListValue):
        return "a list"
    if value.kind == "string":
        return f'string "{value.text}"'
    return f"number {value.text}"


def fail(setting: Setting, message: str, at: Value | None = None) -> XlCfgError:
    """An error located at *at* (default: the setting's value)."""
    where = at if at is not None else setting.value
    return XlCfgError(setting.filename, where.line, where.column, f"{setting.key}: {message}")


def _atom(setting: Setting, wanted: str) -> Atom:
    if isinstance(setting.value, ListValue):
        raise fail(setting, f"expected {wanted}, got a list")
    return setting.value


def get_int(
    setting: Setting, unit: str | None = None, lo: int | None = None, hi: int | None = None
) -> int:
    """An integer in [*lo*, *hi*]; *unit* only decorates the message."""
    wanted = f"an integer ({unit})" if unit else "an integer"
    atom = _atom(setting, wanted)
    if setting.op == "+=":
        raise fail(setting, "can't use += with numbers")
    n = c_strtol(atom.text)
    if n is None:
        raise fail(setting, f"expected {wanted}, got {describe(atom)}")
    if (lo is not None and n < lo) or (hi is not None and n > hi):
        bounds = f"{lo if lo is not None else ''}..{hi if hi is not None else ''}"
        raise fail(setting, f"{n} is out of range ({bounds})")
    return n


def get_bool(setting: Setting) -> bool:
    """xl's defbool: any integer, non-zero meaning true (``hap = 1``)."""
    return get_int(setting, unit="0 or 1") != 0


def get_str(setting: Setting) -> str:
    return _atom(setting, "a string").text


def get_enum(setting: Setting, choices: Sequence[str], what: str = "value") -> str:
    text = get_str(setting)
    if text not in choices:
        raise fail(setting, f'unknown {what} "{text}" (expected one of: {", ".join(choices)})')
    return text


def get_str_list(setting: Setting) -> tuple[str, ...]:
    """A list whose items are all atoms (xl's ``xlu_cfg_get_listitem``)."""
    if not isinstance(setting.value, ListValue):
        raise fail(setting, f"expected a list, got {describe(setting.value)}")
    out = []
    for item in setting.value.items:
        if isinstance(item, ListValue):
            raise fail(setting, "expected a string in the list, got a list", at=item)
        out.append(item.text)
    return tuple(out)


def get_str_or_list(setting: Setting) -> str | tuple[str, ...]:
    """Keys such as ``cpus`` and ``serial`` take either form."""
    if isinstance(setting.value, ListValue):
        return get_str_list(setting)
    return get_str(setting)

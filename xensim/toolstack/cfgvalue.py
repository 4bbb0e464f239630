"""Typed reads of raw xl.cfg settings: int, bool, string, enum, string list.

Mirrors: tools/libs/util/libxlu_cfg.c (``xlu_cfg_get_long``,
``xlu_cfg_get_bounded_long``, ``xlu_cfg_get_defbool``, ``xlu_cfg_get_string``,
``xlu_cfg_get_list``).  As there, a number and a string are both text: a
quoted ``"512"`` is a fine integer and an unquoted ``123`` a fine string;
integers go through C's ``strtol(…, 0)`` on a 64-bit ``long``, so ``0x20`` is hex,
a leading ``0`` means octal and anything past ``LONG_MAX`` is ``ERANGE``.

Where libxlu only *warns* and xl goes on as if the key were absent (``memory =
"1G"``, ``+=`` on a number, a list where one value is wanted, a 5,000-digit
number) we raise :class:`CfgWarning` with libxlu's exact line; the builder prints
it and uses the default, as xl does.  Values xl accepts but xensim cannot model
(out of xensim's ranges, unknown enum words) raise :class:`XlCfgError` instead.
"""

from __future__ import annotations

from collections.abc import Sequence

from xensim.toolstack.cnum import strtol
from xensim.toolstack.xlcfg import Atom, ListValue, Setting, Value, XlCfgError

__all__ = [
    "CfgWarning",
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

class CfgWarning(Exception):
    """libxlu's warning for a setting xl then treats as absent; ``str()`` is the line."""


def c_strtol(text: str) -> int | None:
    """The value of *text* read whole by ``strtol(text, &ep, 0)``, or None.

    Raises :class:`OverflowError` where strtol sets ``ERANGE`` (libxlu checks that
    before it looks for rubbish after the digits).
    """
    got = strtol(text, 0)
    if got.erange:
        raise OverflowError
    return got.value if got.whole(text) else None


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


def _warn(setting: Setting, message: str) -> CfgWarning:
    return CfgWarning(f"{setting.filename}:{setting.line}: warning: {message}")


def _atom(setting: Setting) -> Atom:
    """``find_atom``: a list where one value is wanted is warned about and skipped."""
    if isinstance(setting.value, ListValue):
        raise _warn(setting, f"parameter `{setting.key}' is a list but should be a single value")
    return setting.value


def get_int(
    setting: Setting, unit: str | None = None, lo: int | None = None, hi: int | None = None
) -> int:
    """``xlu_cfg_get_long``, then xensim's own range [*lo*, *hi*] (*unit*: for readers)."""
    atom = _atom(setting)
    if setting.op == "+=":
        raise _warn(setting, f"can't use += with numbers for parameter `{setting.key}'")
    try:
        n = c_strtol(atom.text)
    except OverflowError:
        raise _warn(
            setting,
            f"parameter `{setting.key}' could not be parsed as a number: "
            "Numerical result out of range",
        ) from None
    if n is None:
        raise _warn(setting, f"parameter `{setting.key}' is not a valid number")
    if (lo is not None and n < lo) or (hi is not None and n > hi):
        bounds = f"{lo if lo is not None else ''}..{hi if hi is not None else ''}"
        raise fail(setting, f"{n} is out of range ({bounds})")
    return n


def get_bool(setting: Setting) -> bool:
    """xl's defbool: any integer, non-zero meaning true (``hap = 1``)."""
    return get_int(setting, unit="0 or 1") != 0


def get_str(setting: Setting) -> str:
    return _atom(setting).text


def get_enum(setting: Setting, choices: Sequence[str], what: str = "value") -> str:
    text = get_str(setting)
    if text not in choices:
        raise fail(setting, f'unknown {what} "{text}" (expected one of: {", ".join(choices)})')
    return text


def get_str_list(setting: Setting) -> tuple[str, ...]:
    """A list whose items are all atoms (xl's ``xlu_cfg_get_listitem``)."""
    if not isinstance(setting.value, ListValue):
        raise _warn(
            setting, f"parameter `{setting.key}' is a single value but should be a list"
        )
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

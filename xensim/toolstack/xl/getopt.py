"""Option parsing the way xl does it (getopt_long with SWITCH_FOREACH_OPT).

Short options may be glued (``-w512``) or separate (``-w 512``); long ones
take ``--weight=512`` or ``--weight 512``; options and operands may mix,
as GNU getopt permutes them.  An unknown option or a missing argument is a
usage error with xl's wording ("option `x' not supported."); too few
operands gives def_getopt's "'xl CMD' requires at least N arguments.".
Returns the options in order and the operands.
"""

from __future__ import annotations

from xensim.toolstack.xl.context import XlUsageError


def getopt(args: list[str], short: str, long: dict[str, str] | None = None, *,
           cmd: str = "", reqargs: int = 0) -> tuple[list[tuple[str, str | None]], list[str]]:
    """*short* is getopt's spec (``"d:w:c:s"``); *long* maps ``weight`` -> ``w`` (with
    its short letter's argument rule); *reqargs* operands are required for *cmd*."""
    long = long or {}
    takes_arg = {c: short[i + 1:i + 2] == ":" for i, c in enumerate(short) if c != ":"}
    opts: list[tuple[str, str | None]] = []
    operands: list[str] = []
    i = 0
    while i < len(args):
        a = args[i]
        if a == "--":
            operands.extend(args[i + 1:])
            break
        if a.startswith("--"):
            name, eq, val = a[2:].partition("=")
            letter = long.get(name)
            if letter is None:
                raise XlUsageError(f"option `{name}' not supported.")
            if takes_arg[letter]:
                if not eq:
                    i += 1
                    if i >= len(args):
                        raise XlUsageError(f"option `{name}' requires an argument.")
                    val = args[i]
                opts.append((letter, val))
            else:
                opts.append((letter, None))
        elif a.startswith("-") and len(a) > 1 and not _is_negative_number(a):
            j = 1
            while j < len(a):
                letter = a[j]
                if letter not in takes_arg:
                    raise XlUsageError(f"option `{letter}' not supported.")
                if takes_arg[letter]:
                    val = a[j + 1:]
                    if not val:
                        i += 1
                        if i >= len(args):
                            raise XlUsageError(f"option `{letter}' requires an argument.")
                        val = args[i]
                    opts.append((letter, val))
                    break
                opts.append((letter, None))
                j += 1
        else:
            operands.append(a)
        i += 1
    if len(operands) < reqargs:
        raise XlUsageError(f"'xl {cmd}' requires at least {reqargs} "
                           f"argument{'s' if reqargs > 1 else ''}.\n")
    return opts, operands


def _is_negative_number(a: str) -> bool:
    return a[1:].isdigit()

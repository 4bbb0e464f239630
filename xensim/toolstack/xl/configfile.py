"""Reading a user's xl.cfg for a command other than ``create`` (``restore``, ``config-update``).

Mirrors what xl does around ``parse_config_data``: the file is read
(``Failed to read config file: FILE: ERROR`` if it cannot be), parsed with
the trailing ``key=value`` overrides, and a parse error printed as the
parser words it.  The file comes through the context, so inside the
daemon it is the bytes the client sent.
"""

from __future__ import annotations

from xensim.toolstack.domconfig import DomainConfig
from xensim.toolstack.xl.context import XlContext, XlUsageError
from xensim.toolstack.xl.getopt import getopt
from xensim.toolstack.xlcfg import XlCfgError


def read_config(ctx: XlContext, filename: str, overrides: list[str] | None = None,
                *, announce: bool = False) -> DomainConfig | None:
    """The parsed config, or None once xl's error is printed.  *announce* prints
    "Parsing config from FILE" first, as create and restore do."""
    text = ctx.read_config(filename)
    if text is None:
        return None
    if announce:
        ctx.err.write(f"Parsing config from {filename}\n")
    try:
        cfg = DomainConfig.from_text(text, filename, overrides or [])
    except XlCfgError as exc:
        ctx.err.write(f"{exc}\n")
        return None
    for w in cfg.warnings:
        ctx.err.write(f"{w}\n")
    return cfg


def config_arguments(args: list[str], optstring: str, longopts: dict[str, str], cmd: str
                     ) -> tuple[dict[str, str], str | None, list[str]]:
    """Split ``[FILE] [OPTIONS] [FILE] [key=value ...]`` as ``xl create`` and ``xl
    config-update`` do: a first operand that is neither an option nor a ``key=value``
    is the file, ``-f`` names it too, later ``key=value`` operands are overrides.
    Returns (options, file or None, overrides); :class:`XlUsageError` for a second file."""
    filename: str | None = None
    if args and not args[0].startswith("-") and "=" not in args[0]:
        filename, args = args[0], args[1:]
    opts, ops = getopt(args, optstring, longopts, cmd=cmd)
    o = dict(opts)
    filename = o.get("f", filename)
    overrides: list[str] = []
    for op in ops:
        if "=" in op:
            overrides.append(op)
        elif filename is None:
            filename = op
        else:
            raise XlUsageError("")
    return o, filename, overrides

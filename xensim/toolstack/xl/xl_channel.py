"""``xl channel-list`` (tools/xl/xl_console.c's main_channellist).

A channel is a named console (docs/misc/channels.txt) given by the config's
``channel = ["name=org.qemu.guest_agent.0, connection=pty"]``.  xensim
models no channel driver in its guests, so each configured channel is
listed as libxl finds it then: its backend initialising (state 1) and no
event channel or ring from the guest (``-1``, what libxl_device_channel_getinfo
reads when the frontend wrote none).
"""

from __future__ import annotations

from xensim.toolstack.xl.context import XlContext
from xensim.toolstack.xl.getopt import getopt
from xensim.toolstack.xlcfg import ListValue, Value

HEADER = "%-3s %-2s %-5s %-6s %8s %-10s %-30s\n" % (
    "Idx", "BE", "state", "evt-ch", "ring-ref", "connection", "")
STATE_INITIALISING = 1


def channels(cfg: object) -> list[dict[str, str]]:
    """The config's channels as key=value maps (xl_parse.c's parse_channel_config)."""
    out: list[dict[str, str]] = []
    for key, value in getattr(cfg, "extra_keys", ()):
        if key != "channel":
            continue
        items: tuple[Value, ...] = value.items if isinstance(value, ListValue) else (value,)
        for item in items:
            if isinstance(item, ListValue):
                continue
            spec: dict[str, str] = {}
            for part in item.text.split(","):
                k, _, v = part.strip().partition("=")
                if k:
                    spec[k] = v
            out.append(spec)
    return out


def main_channellist(ctx: XlContext, args: list[str]) -> int:
    _, ops = getopt(args, "", cmd="channel-list", reqargs=1)
    ctx.out.write(HEADER)
    for ident in ops:
        d = ctx.libxl.lookup(ident)
        for devid, spec in enumerate(channels(d.info.get("config"))):
            connection = spec.get("connection", "pty")
            line = "%-3d %-2d %-5d %-6d %-8d %-10s " % (devid, 0, STATE_INITIALISING, -1, -1,
                                                       connection)
            if connection == "pty":
                line += "%-30s " % ""
            ctx.out.write(line + "\n")
    return 0

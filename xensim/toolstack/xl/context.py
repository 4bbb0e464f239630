"""What an xl command implementation gets: the host, its toolstack and output streams."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from xensim.host import Host
    from xensim.toolstack.xl.cmdtable import CmdSpec


class XlUsageError(Exception):
    """Bad arguments: xl prints the command's usage and exits non-zero."""


@dataclass
class XlContext:
    host: Host
    out: TextIO
    err: TextIO
    spec: CmdSpec | None = None

    @property
    def libxl(self):  # type: ignore[no-untyped-def]
        return self.host.toolstack

"""xl's diskspec: ``'/dev/vg/g,raw,xvda,rw'``, ``'vdev=hdc, devtype=cdrom, target=/x.iso'``.

Mirrors: tools/libs/util/libxlu_disk_l.l (the scanner that *is* the parser)
and libxlu_disk.c (defaults and final checks); documented in
docs/misc/xl-disk-configuration.txt.

The flex scanner picks, at each position, the longest matching rule and, on
a tie, the earlier one; :func:`_next_param` reproduces that for the rules
that can compete (a bare flag like ``cdrom`` against a positional
parameter).  ``target=`` eats the rest of the spec, so a target containing
commas must come last.  Deprecated prefixes (``phy:``, ``file:``,
``tap:aio:``, ``raw:`` …) are stripped; ``raw:``/``qcow2:``/``vhd:`` set the
format and ``iscsi:``-style ones set ``script=block-…``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

__all__ = ["DISK_BACKENDTYPES", "DISK_FORMATS", "DiskSpec", "DiskSpecError", "parse_diskspec"]

DISK_FORMATS = ("raw", "qcow", "qcow2", "vhd", "qed", "empty")
DISK_BACKENDTYPES = ("phy", "tap", "qdisk", "standalone")


class DiskSpecError(ValueError):
    """A diskspec xl rejects; *near* is the offending piece, if any."""

    def __init__(self, message: str, near: str | None = None) -> None:
        self.message, self.near = message, near
        super().__init__(message if near is None else f"{message}: near `{near}'")


@dataclass(frozen=True)
class DiskSpec:
    """One virtual block device, after xl's defaults were applied."""

    vdev: str
    target: str | None = None
    format: str = "raw"
    readwrite: bool = True
    is_cdrom: bool = False
    backendtype: str | None = None  # None: libxl chooses
    backend: str | None = None  # backend domain name; None: Domain-0
    script: str | None = None
    direct_io_safe: bool = False
    discard: bool | None = None

    @property
    def access(self) -> str:
        """``"rw"`` or ``"ro"``, as ``xl block-list`` shows it."""
        return "rw" if self.readwrite else "ro"

    def to_spec(self) -> str:
        """A canonical key=value diskspec that parses back to this object."""
        parts = [f"format={self.format}", f"vdev={self.vdev}", f"access={self.access}"]
        if self.is_cdrom:
            parts.append("devtype=cdrom")
        if self.backendtype:
            parts.append(f"backendtype={self.backendtype}")
        if self.backend:
            parts.append(f"backend={self.backend}")
        if self.script:
            parts.append(f"script={self.script}")
        if self.direct_io_safe:
            parts.append("direct-io-safe")
        if self.discard is not None:
            parts.append("discard" if self.discard else "no-discard")
        if self.target is not None:
            parts.append(f"target={self.target}")
        return ", ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "vdev": self.vdev,
            "target": self.target,
            "format": self.format,
            "access": self.access,
            "devtype": "cdrom" if self.is_cdrom else "disk",
            "backendtype": self.backendtype,
            "backend": self.backend,
            "script": self.script,
            "direct_io_safe": self.direct_io_safe,
            "discard": self.discard,
        }


# Key=value parameters whose value is a plain string, and the field they set.
_STRING_KEYS = {"vdev": "vdev", "script": "script", "backend": "backend"}
_FLAGS = {
    "cdrom": ("is_cdrom", True),
    "direct-io-safe": ("direct_io_safe", True),
    "discard": ("discard", True),
    "no-discard": ("discard", False),
}
_IGNORED_FLAGS = ("colo", "no-colo", "trusted", "untrusted")
_IGNORED_KEYS = (
    "specification",
    "colo-host",
    "colo-port",
    "colo-export",
    "active-disk",
    "hidden-disk",
    "grant_usage",
)
_FORMAT_PREFIX = re.compile(r"(raw|qcow2?|vhd):")
_SCRIPT_PREFIX = re.compile(r"(iscsi|e?nbd|drbd):")
_IGNORED_PREFIX = re.compile(r"(tapdisk|tap2?|aio|ioemu|file|phy):")
_UNKNOWN_PREFIX = re.compile(r"[a-z][a-z0-9]*:(?![a-z0-9])")
_KEYVAL = re.compile(r"([a-z][-a-z0-9_]*)=([^,]*),?")
_POSITIONAL = re.compile(r"[^=,]*,|[^=,]+")


class _State:
    def __init__(self) -> None:
        self.f: dict[str, Any] = {}
        self.had_depr_prefix = False
        self.access_set = False

    def save(self, name: str, value: str, what: str | None = None) -> None:
        """``savestring``: an empty earlier value may be overwritten, nothing else."""
        if self.f.get(name):
            raise DiskSpecError(f"{what or name} respecified", value)
        self.f[name] = value

    def set_format(self, value: str) -> None:
        fmt = value or "raw"
        if fmt not in DISK_FORMATS:
            raise DiskSpecError("unknown value for format", value)
        if self.f.get("format") not in (None, fmt):
            raise DiskSpecError("format respecified", value)
        self.f["format"] = fmt

    def set_access(self, value: str) -> None:
        if value in ("r", "ro"):
            self.f["readwrite"] = False
        elif value in ("w", "rw", ""):
            self.f["readwrite"] = True
        else:
            raise DiskSpecError("unknown value for access", value)

    def vdev_and_devtype(self, value: str) -> bool:
        """Old ``hdc:cdrom`` positional; True if it was one."""
        if ":" not in value:
            return False
        vdev, devtype = value.rsplit(":", 1)
        self.save("vdev", vdev)
        if devtype not in ("cdrom", "disk"):
            raise DiskSpecError("unknown deprecated type", devtype)
        self.f["is_cdrom"] = devtype == "cdrom"
        return True

    def positional(self, value: str) -> None:
        if "target" not in self.f:
            self.save("target", value)
        elif not self.had_depr_prefix and "format" not in self.f:
            if not self.f["target"] and self.vdev_and_devtype(value):
                self.f["format"] = "empty"
            else:
                self.set_format(value)
        elif "vdev" not in self.f:
            if not self.vdev_and_devtype(value):
                self.save("vdev", value)
        elif not self.access_set:
            self.access_set = True
            self.set_access(value)
        else:
            raise DiskSpecError("too many positional parameters", value)


def _flag_at(spec: str, p: int) -> tuple[str, int] | None:
    for name in (*_FLAGS, *_IGNORED_FLAGS):
        if spec.startswith(name, p):
            end = p + len(name)
            if end < len(spec) and spec[end] == ",":
                end += 1
            return name, end
    return None


def _next_param(st: _State, spec: str, p: int) -> int:
    """Consume one parameter at *p*; return the new position."""
    if spec.startswith("target=", p):
        st.save("target", spec[p + 7 :].removesuffix(","))
        return len(spec)
    if spec.startswith("devtype=", p):
        m = _KEYVAL.match(spec, p)
        assert m
        if m.group(2) not in ("cdrom", "disk"):
            raise DiskSpecError("unknown value for type", m.group(0))
        st.f["is_cdrom"] = m.group(2) == "cdrom"
        return m.end()
    m = _KEYVAL.match(spec, p)
    if m:
        key, value = m.group(1), m.group(2)
        if key == "format":
            st.set_format(value)
        elif key == "access":
            st.set_access(value)
        elif key == "backendtype":
            if value not in DISK_BACKENDTYPES:
                raise DiskSpecError("unknown value for backendtype", value)
            st.f["backendtype"] = value
        elif key in _STRING_KEYS:
            st.save(_STRING_KEYS[key], value)
        elif key not in _IGNORED_KEYS:
            raise DiskSpecError("unknown parameter", m.group(0))
        return m.end()
    for rx, kind in (
        (_FORMAT_PREFIX, "format"),
        (_SCRIPT_PREFIX, "script"),
        (_IGNORED_PREFIX, None),
    ):
        m = rx.match(spec, p)
        if m:
            st.had_depr_prefix = True
            if kind == "format":
                st.set_format(m.group(1))
            elif kind == "script":
                st.save("script", f"block-{m.group(1)}")
            return m.end()
    m = _UNKNOWN_PREFIX.match(spec, p)
    if m:
        raise DiskSpecError("unknown deprecated disk prefix", spec[p:])
    pos = _POSITIONAL.match(spec, p)
    flag = _flag_at(spec, p)
    # flex: longest match wins, and on a tie the earlier rule (the flag).
    if flag and (pos is None or flag[1] >= pos.end()):
        name, end = flag
        if name in _FLAGS:
            field_name, value = _FLAGS[name]
            st.f[field_name] = value
        return end
    if pos is None or pos.end() == p:
        raise DiskSpecError("bad disk syntax", spec[p:])
    st.positional(pos.group().removesuffix(","))
    return pos.end()


def parse_diskspec(spec: str) -> DiskSpec:
    """Parse one xl diskspec string; raise :class:`DiskSpecError`."""
    st = _State()
    p = 0
    while p < len(spec):
        ws = re.compile(r"[ \t\n]+").match(spec, p)
        if ws:
            p = ws.end()
            if p >= len(spec):
                break
        p = _next_param(st, spec, p)
    f = st.f
    fmt = f.get("format", "raw")
    is_cdrom = bool(f.get("is_cdrom", False))
    readwrite = bool(f.get("readwrite", True))
    target = f.get("target")
    if is_cdrom:  # libxlu_disk.c: a cdrom is removable and read-only
        readwrite = False
        if not target:
            fmt = "empty"
    if not f.get("vdev"):
        raise DiskSpecError("no vdev specified")
    if target is None and not is_cdrom:
        raise DiskSpecError("no target specified (and device not removable)")
    return DiskSpec(
        vdev=f["vdev"],
        target=target,
        format=fmt,
        readwrite=readwrite,
        is_cdrom=is_cdrom,
        backendtype=f.get("backendtype"),
        backend=f.get("backend"),
        script=f.get("script"),
        direct_io_safe=bool(f.get("direct_io_safe", False)),
        discard=f.get("discard"),
    )

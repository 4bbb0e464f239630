"""xl's save-file header: magic, byte order, flags, then the domain config as optional data.

Mirrors: tools/xl/xl.h (``struct save_file_header``, ``savefileheader_magic``,
``SAVEFILE_BYTEORDER_VALUE``, ``XL_MANDATORY_FLAG_JSON``/``_STREAMv2``) and
tools/xl/xl_saverestore.c / xl_vmcontrol.c (``save_domain_core_writeconfig``
and the restore side of ``create_domain``): 32 bytes of magic, four
uint32s in the writer's byte order (little-endian here, as on x86), then the
optional data: a uint32 length and the config, JSON with its trailing NUL.
The error texts are xl's own, as it prints them on stderr.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from xensim.toolstack.libxl_error import ERROR_INVAL, LibxlError

MAGIC = b"Xen saved domain, xl format\n \0 \r"
"""savefileheader_magic[32]: exactly the 32 characters of the literal (no final NUL)."""
BYTEORDER = 0x01020304
XL_MANDATORY_FLAG_JSON = 1 << 0
XL_MANDATORY_FLAG_STREAMv2 = 1 << 1
XL_MANDATORY_FLAG_ALL = XL_MANDATORY_FLAG_JSON | XL_MANDATORY_FLAG_STREAMv2
_FIXED = struct.Struct("<32sIIII")
HEADER_SIZE = _FIXED.size

assert len(MAGIC) == 32


class SaveFileError(LibxlError):
    """A save file xl refuses; the message is what xl prints, the exit status 1."""

    def __init__(self, message: str) -> None:
        super().__init__(message, ERROR_INVAL)


@dataclass(frozen=True)
class XlHeader:
    """The parsed header: flags and the config bytes (JSON text, NUL stripped)."""

    mandatory_flags: int
    optional_flags: int
    optional_data_len: int
    config: bytes | None

    @property
    def config_in_json(self) -> bool:
        return bool(self.mandatory_flags & XL_MANDATORY_FLAG_JSON)

    def info(self) -> str:
        """``0x3/0x0/NNN`` as xl prints it in its Saving/Loading lines."""
        return f"0x{self.mandatory_flags:x}/0x{self.optional_flags:x}/{self.optional_data_len}"


def pack_header(config_json: str) -> tuple[bytes, XlHeader]:
    """The header and optional data for *config_json* (save_domain_core_writeconfig)."""
    config = config_json.encode("utf-8") + b"\0"  # strlen + 1: the trailing NUL goes too
    optdata = struct.pack("<I", len(config)) + config
    flags = XL_MANDATORY_FLAG_STREAMv2 | XL_MANDATORY_FLAG_JSON
    hdr = XlHeader(flags, 0, len(optdata), config[:-1])
    return _FIXED.pack(MAGIC, BYTEORDER, flags, 0, len(optdata)) + optdata, hdr


def truncated(what: str, source: str) -> SaveFileError:
    """libxl_read_exactly hitting end of file, as xl reports it (CHK_ERRNOVAL: EPROTO)."""
    line = 713 if what == "header" else 740
    call = ('libxl_read_exactly( ctx, restore_fd, &hdr, sizeof(hdr), restore_source, "header")'
            if what == "header" else
            "libxl_read_exactly( ctx, restore_fd, optdata_begin, hdr.optional_data_len, "
            'restore_source, "optdata")')
    return SaveFileError(f"libxl: error: libxl_utils.c: file/stream truncated reading {what} "
                         f"from {source}\n"
                         f"xl: fatal error: xl_vmcontrol.c:{line}: Protocol error: {call}")


def parse_header(data: bytes, source: str) -> tuple[XlHeader, int, list[str]]:
    """The header of *data*, the offset where the stream starts, and the lines xl prints
    on stderr meanwhile.  Raises :class:`SaveFileError` with xl's message."""
    if len(data) < HEADER_SIZE:
        raise truncated("header", source)
    magic, order, mandatory, optional, optlen = _FIXED.unpack_from(data)
    if magic != MAGIC:
        raise SaveFileError("File has wrong magic number - corrupt or for a different tool?")
    if order != BYTEORDER:
        raise SaveFileError("File has wrong byte order")
    hdr = XlHeader(mandatory, optional, optlen, None)
    said = [f"Loading new save file {source} (new xl fmt info {hdr.info()})"]
    bad = mandatory & ~XL_MANDATORY_FLAG_ALL
    if bad:
        raise SaveFileError("\n".join(said) + f"\nSavefile has mandatory flag(s) 0x{bad:x} "
                            "which are not supported; need newer xl")
    end = HEADER_SIZE + optlen
    if len(data) < end:
        raise SaveFileError("\n".join(said) + "\n" + str(truncated("optdata", source)))
    opt = data[HEADER_SIZE:end]
    config = None
    if opt:
        said.append(" Savefile contains xl domain config"
                    + (" in JSON format" if hdr.config_in_json else ""))
        if len(opt) < 4:
            raise SaveFileError("\n".join(said) + "\nSavefile truncated.")
        (clen,) = struct.unpack_from("<I", opt)
        if len(opt) - 4 < clen:
            raise SaveFileError("\n".join(said) + "\nSavefile truncated.")
        config = opt[4:4 + clen].rstrip(b"\0")
    return XlHeader(mandatory, optional, optlen, config), end, said

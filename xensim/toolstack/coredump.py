"""``xl dump-core``: an ELF core file of a domain, laid out as Xen's dump-core format.

Mirrors: docs/misc/dump-core-format.txt and tools/libs/guest/xg_core.c
(``xc_domain_dumpcore``): an ELF64 file of type ET_CORE for EM_X86_64 with
no program headers and these sections: ``.shstrtab``; ``.note.Xen`` with
the notes XEN_ELFNOTE_DUMPCORE_NONE, _HEADER (magic 0xF00FEBED for a PV
guest, 0xF00FEBEE for HVM; vCPUs; pages; page size), _XEN_VERSION and
_FORMAT_VERSION (1); ``.xen_prstatus`` (the vCPUs' state) and
``.xen_pages``.  So ``file`` says "ELF 64-bit LSB core file, x86-64" and
``readelf -n`` shows Xen's notes.

Simplified: xensim models no guest memory contents or register files, so
``.xen_pages`` is an empty SHT_NOBITS section (its size says how much
memory the domain had) and ``.xen_prstatus`` holds xensim's own record of
each vCPU (the state :mod:`~xensim.toolstack.savefile.capture` takes), as
JSON, instead of ``vcpu_guest_context`` structures.
"""

from __future__ import annotations

import json
import struct
from typing import TYPE_CHECKING

from xensim.toolstack.savefile.capture import capture_domain

if TYPE_CHECKING:
    from xensim.hypervisor.domain import Domain
    from xensim.toolstack.libxl import Libxl

ET_CORE, EM_X86_64 = 4, 62
SHT_PROGBITS, SHT_NOTE, SHT_NOBITS, SHT_STRTAB = 1, 7, 8, 3
XEN_ELFNOTE_DUMPCORE_NONE = 0x2000000
XEN_ELFNOTE_DUMPCORE_HEADER = 0x2000001
XEN_ELFNOTE_DUMPCORE_XEN_VERSION = 0x2000002
XEN_ELFNOTE_DUMPCORE_FORMAT_VERSION = 0x2000003
XC_CORE_MAGIC, XC_CORE_MAGIC_HVM = 0xF00FEBED, 0xF00FEBEE
PAGE_SIZE = 4096
_EHDR = struct.Struct("<16sHHIQQQIHHHHHH")
_SHDR = struct.Struct("<IIQQQQIIQQ")


def _note(ntype: int, desc: bytes) -> bytes:
    name = b"Xen\0"
    return struct.pack("<III", len(name), len(desc), ntype) + name + desc + \
        b"\0" * (-len(desc) % 4)


def core_dump(libxl: Libxl, d: Domain) -> bytes:
    """The core file's bytes for *d* (which keeps running, as with xl dump-core)."""
    state = capture_domain(libxl, d)
    hvm = d.guest_type != "pv"
    pages = d.memory_kib * 1024 // PAGE_SIZE
    version = struct.pack("<QQ64s", 4, 19, b".0")  # major, minor, extra (xen_extraversion)
    notes = b"".join((
        _note(XEN_ELFNOTE_DUMPCORE_NONE, b""),
        _note(XEN_ELFNOTE_DUMPCORE_HEADER, struct.pack(
            "<QQQQ", XC_CORE_MAGIC_HVM if hvm else XC_CORE_MAGIC, d.max_vcpus, pages,
            PAGE_SIZE)),
        _note(XEN_ELFNOTE_DUMPCORE_XEN_VERSION, version),
        _note(XEN_ELFNOTE_DUMPCORE_FORMAT_VERSION, struct.pack("<Q", 1)),
    ))
    prstatus = json.dumps({"domid": d.domid, "name": d.name, "uuid": d.handle,
                           "vcpus": state["vcpus"]}, sort_keys=True).encode()
    names = [b"", b".shstrtab", b".note.Xen", b".xen_prstatus", b".xen_pages"]
    shstrtab = b"\0".join(names) + b"\0"
    offsets = [sum(len(n) + 1 for n in names[:i]) for i in range(len(names))]
    body_start = _EHDR.size
    blobs = [shstrtab, notes, prstatus]
    layout = []
    pos = body_start
    for blob in blobs:
        layout.append((pos, len(blob)))
        pos += len(blob) + (-len(blob) % 8)
    shoff = pos
    sections = [
        _SHDR.pack(0, 0, 0, 0, 0, 0, 0, 0, 0, 0),
        _SHDR.pack(offsets[1], SHT_STRTAB, 0, 0, *layout[0], 0, 0, 1, 0),
        _SHDR.pack(offsets[2], SHT_NOTE, 0, 0, *layout[1], 0, 0, 4, 0),
        _SHDR.pack(offsets[3], SHT_PROGBITS, 0, 0, *layout[2], 0, 0, 8, 0),
        _SHDR.pack(offsets[4], SHT_NOBITS, 0, 0, shoff, pages * PAGE_SIZE, 0, 0, PAGE_SIZE,
                   PAGE_SIZE),
    ]
    ident = b"\x7fELF" + bytes([2, 1, 1, 0]) + b"\0" * 8  # 64-bit, little-endian, v1, SysV
    ehdr = _EHDR.pack(ident, ET_CORE, EM_X86_64, 1, 0, 0, shoff, 0, _EHDR.size, 0, 0,
                      _SHDR.size, len(sections), 1)
    body = b"".join(blob + b"\0" * (-len(blob) % 8) for blob in blobs)
    return ehdr + body + b"".join(sections)

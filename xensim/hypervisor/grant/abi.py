"""The grant-table ABI (v1): GNTTABOP numbers, GTF/GNTMAP flags, GNTST statuses, op structs.

Mirrors: xen/include/public/grant_table.h.  Values are Xen's.  As there, a
batched op reports its result in its own ``status`` field (a GNTST_* value)
while the hypercall as a whole returns 0 or -errno; IN fields are
constructor arguments and OUT fields default to 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum, IntFlag

PAGE_SIZE = 4096
PAGE_SHIFT = 12
GRANT_ENTRY_V1_SIZE = 8  # {u16 flags, u16 domid, u32 frame}
GRANTS_PER_FRAME = PAGE_SIZE // GRANT_ENTRY_V1_SIZE  # 512
INITIAL_NR_GRANT_FRAMES = 1
DEFAULT_MAX_GRANT_FRAMES = 64  # gnttab_max_frames
DEFAULT_MAX_MAPTRACK_FRAMES = 1024  # gnttab_max_maptrack_frames
MAPTRACK_PER_PAGE = PAGE_SIZE // 16  # sizeof(struct grant_mapping) == 16
GNTTAB_NR_RESERVED_ENTRIES = 8  # refs 0..7 belong to the toolstack (console, xenstore)


class GNTTABOP(IntEnum):
    map_grant_ref = 0
    unmap_grant_ref = 1
    setup_table = 2
    dump_table = 3
    transfer = 4
    copy = 5
    query_size = 6
    unmap_and_replace = 7
    set_version = 8
    get_status_frames = 9
    get_version = 10
    swap_grant_ref = 11
    cache_flush = 12


class GTF(IntFlag):
    """Grant-entry flags: type in bits 0-1, then sub-flags."""

    invalid = 0
    permit_access = 1
    accept_transfer = 2
    transitive = 3
    readonly = 1 << 2
    reading = 1 << 3  # [XEN] mapped for reading
    writing = 1 << 4  # [XEN] mapped for writing
    PWT = 1 << 5
    PCD = 1 << 6
    PAT = 1 << 7
    sub_page = 1 << 8


GTF_type_mask = 3


class GNTMAP(IntFlag):
    device_map = 1 << 0
    host_map = 1 << 1
    readonly = 1 << 2
    application_map = 1 << 3
    contains_pte = 1 << 4


class GNTCOPY(IntFlag):
    source_gref = 1 << 0
    dest_gref = 1 << 1
    can_fail = 1 << 2


class GNTST(IntEnum):
    okay = 0
    general_error = -1
    bad_domain = -2
    bad_gntref = -3
    bad_handle = -4
    bad_virt_addr = -5
    bad_dev_addr = -6
    no_device_space = -7
    permission_denied = -8
    bad_page = -9
    bad_copy_arg = -10
    address_too_big = -11
    eagain = -12
    no_space = -13


@dataclass(slots=True)
class GnttabMapGrantRef:
    host_addr: int
    flags: int
    ref: int
    dom: int
    status: int = 0
    handle: int = 0
    dev_bus_addr: int = 0


@dataclass(slots=True)
class GnttabUnmapGrantRef:
    host_addr: int
    dev_bus_addr: int
    handle: int
    status: int = 0


@dataclass(slots=True)
class GnttabSetupTable:
    dom: int
    nr_frames: int
    status: int = 0
    frame_list: list[int] = field(default_factory=list)


@dataclass(slots=True)
class GnttabQuerySize:
    dom: int
    nr_frames: int = 0
    max_nr_frames: int = 0
    status: int = 0


@dataclass(slots=True)
class GnttabCopyPtr:
    """One side of a copy: ``ref`` when the GNTCOPY_*_gref flag is set, else ``gmfn``."""

    domid: int
    offset: int = 0
    ref: int = 0
    gmfn: int = 0


@dataclass(slots=True)
class GnttabCopy:
    source: GnttabCopyPtr
    dest: GnttabCopyPtr
    len: int
    flags: int
    status: int = 0

"""Save files: xl's on-disk format and a domain's state, captured and rebuilt on any host.

Mirrors: tools/xl/xl_saverestore.c (``xl save``: header, JSON config, then
libxl's stream; the domain is destroyed afterwards unless ``-c``) and the
restore half of xl_vmcontrol.c's ``create_domain``.  Layout of a file::

    struct save_file_header (xl.h)   "Xen saved domain, xl format\\n \\0 \\r",
                                     byte order 0x01020304, mandatory flags
                                     0x3 (JSON | STREAMv2), optional flags 0,
                                     optional data length
    optional data                    uint32 length, libxl_domain_config JSON + NUL
    stream (stream.py)               "LibxlFmt", version 2, then records:
                                     REC_XENSIM_PAGES (a round of pages),
                                     REC_XENSIM_DOMAIN (capture.py's state), END

Stable API (used by ``xl save``/``xl restore``, live migration and the
daemon's whole-host checkpoints; each takes the host's :class:`Libxl`, i.e.
``host.toolstack``):

``save_domain(libxl, d, *, checkpoint=False, leave_paused=False,
preserve_domid=False, config=None) -> SaveImage``
    Pause *d*, capture it and encode a file; then destroy it (xl's default),
    or with *checkpoint*/*leave_paused* let it run on / stay paused.
    ``SaveImage.data`` is the file's bytes, ``.header`` its :class:`XlHeader`
    (``.info()`` gives ``0x3/0x0/NNN`` for xl's "Saving to" line).
    *config* overrides the config stored in the file (``xl save d f CONFIG``).

``encode_image(config_json, state, page_rounds=1) -> (bytes, XlHeader)``
    The encoder alone: a migration sends the same bytes over its link, with
    as many page rounds as its pre-copy took.

``read_image(data, source) -> LoadedImage``
    Parse and check a whole file without touching any host: header, config
    (``.config`` a DomainConfig, from the JSON), ``.state`` and
    ``.messages`` (xl's "Loading new save file ..." lines).  Raises
    :class:`SaveFileError` (a :class:`LibxlError`) whose text is xl's, for a
    truncated, foreign or unreadable file.

``restore_domain(libxl, data, *, source="<stream>", paused=False,
config=None) -> Domain``
    ``read_image`` then :func:`rebuild_domain`: the domain comes back on this
    host with its name, uuid, config, CPU time and counters, unpaused unless
    *paused*; *config* (a DomainConfig) replaces the saved one, as ``xl
    restore CONFIG FILE`` does.  On any error the host is left as it was.

``capture_domain(libxl, d) -> dict`` / ``rebuild_domain(libxl, cfg, state,
paused=...)``
    The state alone, as JSON-able data, for a checkpoint that stores many.

What a restored workload is: the program restarts from its beginning with
its counters carried over (see :mod:`~xensim.toolstack.savefile.rebuild`);
docs/xl.md lists this among the simplifications.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from xensim.toolstack.savefile.capture import capture_domain
from xensim.toolstack.savefile.header import (
    XL_MANDATORY_FLAG_JSON,
    SaveFileError,
    XlHeader,
    pack_header,
    parse_header,
)
from xensim.toolstack.savefile.rebuild import check_state, rebuild_domain
from xensim.toolstack.savefile.stream import (
    REC_XENSIM_DOMAIN,
    REC_XENSIM_PAGES,
    json_record,
    read_stream,
    write_stream,
)

if TYPE_CHECKING:
    from xensim.hypervisor.domain import Domain
    from xensim.toolstack.domconfig import DomainConfig
    from xensim.toolstack.libxl import Libxl

__all__ = [
    "LoadedImage",
    "SaveFileError",
    "SaveImage",
    "XlHeader",
    "capture_domain",
    "encode_image",
    "read_image",
    "rebuild_domain",
    "restore_domain",
    "save_domain",
]


@dataclass(frozen=True)
class SaveImage:
    data: bytes
    header: XlHeader


@dataclass(frozen=True)
class LoadedImage:
    header: XlHeader
    config: DomainConfig | None
    """The saved config (None if the file has none: the caller must give one)."""
    state: dict[str, Any]
    messages: list[str] = field(default_factory=list)


def encode_image(config_json: dict[str, Any], state: dict[str, Any],
                 page_rounds: int = 1) -> tuple[bytes, XlHeader]:
    from xensim.toolstack.libxl_json import yajl_dumps

    head, hdr = pack_header(yajl_dumps(config_json))
    pages = state["memory"]["memory_kib"] // 4
    rounds = [json_record(REC_XENSIM_PAGES, {"round": i, "pages": pages, "dirty": i > 0})
              for i in range(page_rounds)]
    return head + write_stream(rounds + [json_record(REC_XENSIM_DOMAIN, state)]), hdr


def save_domain(libxl: Libxl, d: Domain, *, checkpoint: bool = False,
                leave_paused: bool = False, preserve_domid: bool = False,
                config: DomainConfig | None = None) -> SaveImage:
    from xensim.toolstack.libxl_json import domain_config_json

    cfg = config if config is not None else d.info.get("config")
    if cfg is None or d.domid == 0:
        raise SaveFileError("unable to retrieve domain configuration")
    libxl.hyp.core.domain_pause(d)  # libxl_domain_suspend: the guest stops first
    try:
        # save_domain_core_begin: the retrieved config, c_info.domid 0 unless -D
        cfg_json = domain_config_json(cfg, d if config is None else None, libxl,
                                      extensions=True,
                                      domid=None if config is not None else
                                      d.domid if preserve_domid else 0)
        data, hdr = encode_image(cfg_json, capture_domain(libxl, d))
    except BaseException:
        libxl.hyp.core.domain_unpause(d)
        raise
    if checkpoint or leave_paused:
        if not leave_paused:
            libxl.hyp.core.domain_unpause(d)
    else:
        libxl.domain_destroy(d)
    return SaveImage(data, hdr)


def read_image(data: bytes, source: str = "<stream>") -> LoadedImage:
    from xensim.toolstack.libxl_json import ConfigJsonError, config_from_json
    from xensim.toolstack.xlcfg import XlCfgError

    hdr, offset, said = parse_header(data, source)
    try:
        records = read_stream(data, offset)
    except SaveFileError as exc:
        raise SaveFileError("\n".join([*said, str(exc)])) from None
    states = [r for r in records if r.type == REC_XENSIM_DOMAIN]
    if len(states) != 1:
        raise SaveFileError("\n".join(said) + "\nlibxl: error: libxl_stream_read.c: expected "
                            f"one xensim domain record, found {len(states)}")
    try:
        state = states[0].json()
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SaveFileError("\n".join(said) + f"\nlibxl: error: libxl_stream_read.c: xensim "
                            f"domain record: {exc}") from None
    check_state(state)
    cfg = None
    if hdr.config is not None:
        if not hdr.mandatory_flags & XL_MANDATORY_FLAG_JSON:
            raise SaveFileError("\n".join(said) + "\nxensim: only JSON configs in save "
                                "files are read (give the config file to xl restore)")
        try:
            cfg = config_from_json(json.loads(hdr.config.decode("utf-8")))
        except (UnicodeDecodeError, json.JSONDecodeError, ConfigJsonError, XlCfgError) as exc:
            raise SaveFileError("\n".join(said) + f"\nlibxl: error: libxl_json.c: "
                                f"unable to parse the saved domain config: {exc}") from None
    return LoadedImage(hdr, cfg, state, said)


def restore_domain(libxl: Libxl, data: bytes, *, source: str = "<stream>",
                   paused: bool = False, config: DomainConfig | None = None) -> Domain:
    image = read_image(data, source)
    cfg = config if config is not None else image.config
    if cfg is None:
        raise SaveFileError("Config file not specified and none in save file")
    return rebuild_domain(libxl, cfg, image.state, paused=paused)

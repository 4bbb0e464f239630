"""A whole host's state on disk, so a crashed daemon loses nothing but the time since.

The daemon writes a checkpoint when it stops, every :data:`EVERY_S` wall seconds, and
before a risky command (:data:`RISKY`: those that build or rebuild domains); after a
crash (``kill -9``), the next ``xensim host start`` or ``xl`` auto-start finds the file
and rebuilds the host from it: the same :class:`HostSpec`, the clock set to the
checkpoint's simulated time, and every guest restored from its save image.

Format: one JSON object (version :data:`VERSION`) with the host spec, the simulated
time and, per guest, its name, whether it was paused, and the bytes of the save file
``xl save`` would write (:func:`xensim.toolstack.savefile.save_domain` with
``checkpoint=True``: the guest keeps running), in base64.  Written to a temporary file,
fsynced and renamed over the old one, mode 0600, so a crash while writing leaves the
previous checkpoint whole.

Simplified: what the save format keeps is what comes back (see
:mod:`xensim.toolstack.savefile`: a workload restarts from its beginning with its
counters carried over); domids are allocated afresh; device-model stub domains are
rebuilt by their guests, and guests that were shut down (``preserve``) are not kept.
"""

from __future__ import annotations

import base64
import json
import os
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from xensim.toolstack.hostd.runtime import HostPaths, open_private
from xensim.toolstack.hostd.spec import HostSpec, HostSpecError
from xensim.toolstack.libxl_error import LibxlError
from xensim.toolstack.savefile import restore_domain, save_domain

if TYPE_CHECKING:
    from xensim.host import Host

VERSION = 1
FORMAT = "xensim host checkpoint"
EVERY_S = 30.0
"""Wall seconds between periodic checkpoints."""
RISKY = frozenset({"create", "restore", "config-update", "cpupool-create", "migrate"})
"""Commands checkpointed before: they build domains from user input."""


class CheckpointError(Exception):
    """A checkpoint file that cannot be read back (the daemon starts empty and says so)."""


@dataclass
class Restored:
    """What a start recovered from a checkpoint."""

    sim_ns: int
    taken: float
    domains: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {"sim_ns": self.sim_ns, "taken": self.taken, "domains": len(self.domains),
                "names": self.domains, "failed": self.failed}


def guests(host: Host) -> list[Any]:
    """The domains a checkpoint keeps: running or paused guests, not Domain-0, not stub
    domains (their guest rebuilds them), not shut-down ones."""
    return [d for d in sorted(host.hv.domains.values(), key=lambda d: d.domid)
            if d.domid != 0 and "dm_of" not in d.info and not d.is_shutdown
            and not d.is_dying and d.info.get("config") is not None]


def encode(host: Host, spec: HostSpec) -> bytes:
    doms = []
    for d in guests(host):
        paused = d.pause_count > 0
        image = save_domain(host.toolstack, d, checkpoint=True)
        doms.append({"name": d.name, "domid": d.domid, "paused": paused,
                     "image": base64.b64encode(image.data).decode("ascii")})
    return json.dumps({"format": FORMAT, "version": VERSION, "spec": json.loads(spec.to_json()),
                       "sim_ns": host.now, "taken": time.time(), "domains": doms}).encode()


def write(paths: HostPaths, host: Host, spec: HostSpec) -> int:
    """Write the checkpoint atomically; returns the number of guests in it."""
    data = encode(host, spec)
    tmp = paths.checkpoint.with_name(paths.checkpoint.name + ".tmp")
    fd = open_private(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, paths.checkpoint)
    return len(json.loads(data)["domains"])


def load(paths: HostPaths) -> dict[str, Any] | None:
    """The checkpoint's content, None if there is none; :class:`CheckpointError` if it
    cannot be used."""
    try:
        fd = open_private(paths.checkpoint, os.O_RDONLY)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise CheckpointError(f"{paths.checkpoint}: {exc}") from None
    with os.fdopen(fd, "rb") as f:
        raw = f.read()
    try:
        ck = json.loads(raw)
        if not isinstance(ck, dict) or ck.get("format") != FORMAT \
                or ck.get("version") != VERSION:
            raise CheckpointError(f"{paths.checkpoint}: not a version-{VERSION} checkpoint")
        spec = HostSpec.from_json(json.dumps(ck["spec"]))
        sim_ns = ck["sim_ns"]
        if not isinstance(sim_ns, int) or sim_ns < 0 or not isinstance(ck["domains"], list):
            raise CheckpointError(f"{paths.checkpoint}: bad simulated time or domain list")
    except (ValueError, KeyError, TypeError, RecursionError, HostSpecError) as exc:
        raise CheckpointError(f"{paths.checkpoint}: unreadable: {exc}") from None
    ck["spec"] = spec
    return dict(ck)


def restore(host: Host, ck: dict[str, Any]) -> Restored:
    """Rebuild the checkpoint's guests on *host* (built from its spec and time).  A guest
    that cannot come back is named in ``failed``; the others are restored."""
    done = Restored(ck["sim_ns"], float(ck.get("taken", 0.0)))
    for entry in ck["domains"]:
        name = str(entry.get("name", "?")) if isinstance(entry, dict) else "?"
        try:
            data = base64.b64decode(entry["image"], validate=True)
            d = restore_domain(host.toolstack, data, source=f"checkpoint:{name}",
                               paused=bool(entry.get("paused")))
        except (LibxlError, KeyError, TypeError, ValueError) as exc:
            host.hv.log(f"xensim: could not restore {name} from the checkpoint: "
                        f"{str(exc).splitlines()[-1] if str(exc) else exc!r}")
            done.failed.append(name)
            continue
        done.domains.append(d.name)
    host.hv.log(f"xensim: restored {len(done.domains)} domains from the checkpoint; "
                f"simulated time resumes at {done.sim_ns / 1e9:.3f} s")
    return done

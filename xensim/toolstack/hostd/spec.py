"""What a host daemon is started with: one :class:`HostSpec`, checked once, passed as JSON.

``xensim host start`` builds a spec from its options, the client passes it to the
daemon as one ``--spec JSON`` argument, the daemon builds its
:class:`~xensim.host.Host` from :meth:`HostSpec.host_kwargs`, and the checkpoint stores
it so a restored host is the same machine.  A new host option (bridges, topology, a
web face...) is one field here, one line in :meth:`host_kwargs` and one ``add_argument``
in the CLI: nothing else in the daemon or the client changes.

Every value is checked here, before any process is spawned, so ``--memory -5`` or
``--speed nan`` is a one-line error, not a traceback or a frozen daemon.
Standard library only: the thin client imports it.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any

MAX_PCPUS = 4096
MAX_MEMORY_MIB = 1 << 24
"""16 TiB: far above any host xensim models, low enough to catch a typo."""
MAX_SPEED = 1e6


class HostSpecError(ValueError):
    """A host option out of range: the message names the option and what it accepts."""


@dataclass
class HostSpec:
    """The options of one simulated host (``xensim host start``)."""

    pcpus: int = 4
    memory: int = 16384
    """MiB of host RAM."""
    scheduler: str | None = None
    """Pool-0 policy; None means the host kind's default."""
    speed: float = 1.0
    """Simulated seconds per wall second."""
    seed: int = 0
    hypervisor: str = "xen"
    extra: dict[str, Any] = field(default_factory=dict)
    """Further :class:`~xensim.host.Host` keyword arguments added by other faces."""

    def validate(self) -> HostSpec:
        _int_in("--pcpus", self.pcpus, 1, MAX_PCPUS)
        _int_in("--memory", self.memory, 1, MAX_MEMORY_MIB)
        if isinstance(self.speed, bool) or not isinstance(self.speed, (int, float)) \
                or not math.isfinite(self.speed) or not 0 < self.speed <= MAX_SPEED:
            raise HostSpecError(f"--speed must be a finite number above 0 and at most "
                                f"{MAX_SPEED:g} (simulated seconds per wall second), "
                                f"not {self.speed!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) \
                or not 0 <= self.seed < 1 << 63:
            raise HostSpecError(f"--seed must be an integer from 0 to 2**63-1, not "
                                f"{self.seed!r}")
        return self

    def host_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for :class:`~xensim.host.Host`."""
        return {"pcpus": self.pcpus, "memory": self.memory, "scheduler": self.scheduler,
                "seed": self.seed, "hypervisor": self.hypervisor, **self.extra}

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> HostSpec:
        try:
            raw = json.loads(text)
        except (ValueError, RecursionError) as exc:
            raise HostSpecError(f"bad host spec: {exc}") from None
        if not isinstance(raw, dict):
            raise HostSpecError("bad host spec: not an object")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise HostSpecError(f"bad host spec: unknown option(s) {', '.join(unknown)}")
        return cls(**raw).validate()


def _int_in(option: str, value: object, lo: int, hi: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise HostSpecError(f"{option} must be an integer from {lo} to {hi}, not {value!r}")

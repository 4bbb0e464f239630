"""How fast each guest writes to its memory: the writable working set and the dirtying rate.

Live migration copies a guest's memory while it runs, so what decides its
rounds is how many pages the guest writes while a round is on the wire
(Clark et al., NSDI 2005, published-results 2.7: the *writable working set*,
the pages written so often that copying them before the last round is
wasted).  Each workload here has a profile: a writable working set (``wss``,
MiB) and a dirtying rate in MiB written per second of the domain's vCPU
running time.  Tying the rate to CPU time makes it emergent: a guest that
is starved, paused or idle writes nothing, a busier one writes more.

``memwrite:rate_mb_s=R,wss_mb=W`` is a synthetic guest for experiments: it
runs flat out and writes R MiB a second spread over W MiB.

No published figure gives per-workload rates for these models of the
workloads, so every profile is an estimate with its reasoning (R: verify
against Clark et al.'s figures 4-6 for SPECweb and the kernel build).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from xensim.domains.guest.guest_vcpu import Action, Compute, GuestVcpu
from xensim.domains.guest.workloads import Param, parse_workload, register_workload
from xensim.hypervisor.time import MILLISECS
from xensim.hypervisor.vcpu import RunState

if TYPE_CHECKING:
    from xensim.hypervisor.domain import Domain
    from xensim.hypervisor.logdirty import LogDirty

PAGE_KIB = 4


@dataclass(frozen=True, slots=True)
class DirtyProfile:
    """How a workload writes memory."""

    wss_mb: float
    """Writable working set: the pages its writes land on."""
    mb_per_cpu_s: float
    """MiB written per second of the domain's vCPU running time."""
    why: str


PROFILES: dict[str, DirtyProfile] = {
    "idle": DirtyProfile(1, 0, "an idle kernel writes nothing while it does not run"),
    "cpu": DirtyProfile(4, 2, "estimate: a compute loop works in its caches; a few "
                              "MiB of stack and heap, rarely written back"),
    "duty": DirtyProfile(4, 2, "as cpu"),
    "periodic": DirtyProfile(4, 2, "as cpu"),
    "web": DirtyProfile(48, 64, "estimate: each request writes its socket buffers, the "
                                "page-cache pages its disk read fills and its reply, and "
                                "the server's heap (~40 KiB a request at the default "
                                "0.5 ms of CPU); a 48 MiB working set of cache and "
                                "buffers, small beside memory as Clark et al. found for "
                                "SPECweb (published-results 2.7)"),
    "kernel-build": DirtyProfile(256, 48, "estimate: compilers allocate and write fresh "
                                          "heap for each unit and the object files go "
                                          "to the page cache: a large working set, "
                                          "written steadily"),
    "ping": DirtyProfile(2, 32, "estimate: socket buffers of the echo replies"),
    "net-stream": DirtyProfile(8, 128, "estimate: every packet is written into a socket "
                                       "buffer before it is sent"),
    "disk": DirtyProfile(64, 128, "estimate: each read fills page-cache pages"),
    "syscall": DirtyProfile(1, 1, "estimate: null system calls write almost nothing"),
    "pagetable": DirtyProfile(32, 64, "estimate: fork/exit churn writes page tables and "
                                      "copy-on-write pages"),
}
DEFAULT_PROFILE = DirtyProfile(8, 16, "estimate for a workload without a profile")


def profile_for(spec: str) -> DirtyProfile:
    """The dirtying profile of a workload spec string."""
    ws = parse_workload(spec)
    if ws.name == "memwrite":
        return DirtyProfile(ws.params["wss_mb"], ws.params["rate_mb_s"], "its parameters")
    return PROFILES.get(ws.name, DEFAULT_PROFILE)


class GuestMemory:
    """A domain's writes, reported to Xen's log-dirty mode as its vCPUs run."""

    def __init__(self, d: Domain, profile: DirtyProfile, now: int) -> None:
        self.d = d
        self.profile = profile
        self.wss_pages = int(profile.wss_mb * 1024) // PAGE_KIB
        self._cpu_seen = self._cpu_ns(now)

    def start(self, now: int) -> None:
        """Count writes from *now* on (log-dirty mode was just turned on)."""
        self._cpu_seen = self._cpu_ns(now)

    def _cpu_ns(self, now: int) -> int:
        return sum(v.runstate_snapshot(now)[RunState.RUNNING] for v in self.d.vcpus)

    def sync(self, logdirty: LogDirty, now: int) -> None:
        """Report the writes made since the last sync (from the CPU time run since)."""
        cpu = self._cpu_ns(now)
        delta, self._cpu_seen = cpu - self._cpu_seen, cpu
        writes = delta * self.profile.mb_per_cpu_s * 1024 / PAGE_KIB / 1e9
        logdirty.record_writes(writes, self.wss_pages)


@register_workload("memwrite", "a synthetic guest that runs flat out writing rate_mb_s MiB "
                               "a second over a wss_mb MiB working set (for migration)",
                   rate_mb_s=Param(float, 100.0, "MiB written per second of CPU", 0),
                   wss_mb=Param(float, 64.0, "writable working set in MiB", 0.004))
def _memwrite(g: GuestVcpu, p: dict[str, Any], rng: random.Random) -> Iterator[Action]:
    if g.vcpu.vcpu_id:
        return
    while True:
        yield Compute(MILLISECS(10))

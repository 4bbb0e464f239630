"""Workloads that do PV I/O: ping, net-stream, disk, web, and a hostile hypercall fuzzer.

Each runs on vCPU 0 of its guest (other vCPUs idle), waits until its
frontends are Connected, then drives them the way a PV Linux guest does:
requests go on the shared ring, the notify hypercall is issued only when
the ring says the backend asked for it, and completions arrive in the
upcall.  What they measure goes into the guest's stats as ``io_ops``,
``io_bytes`` and ``io_latency_ns`` (``xensim run --json`` reports them per
domain under ``io``).  Latency is measured where a user would: at the
external client for ping and web (as Ongaro et al. did), from submission
to completion for disk, from send to the sink for net-stream.

The fuzzer draws from the per-domain RNG the toolstack seeds, so a seed
fixes its sequence; it skips only calls that would stop itself for good
(block without a timer, shutdown, taking its own vCPU down), since a
fuzzer that blocks forever tests nothing.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from xensim.domains.dom0.physdev import EXTERNAL, ExternalNet, Packet
from xensim.domains.guest.guest_vcpu import (
    Action,
    Compute,
    GuestVcpu,
    Hypercall,
    SleepUntil,
    WaitEvent,
)
from xensim.domains.guest.workloads import Param, register_workload
from xensim.hypervisor.domctl import Domctl, Sysctl
from xensim.hypervisor.evtchn import abi as eva
from xensim.hypervisor.grant import abi as gta
from xensim.hypervisor.hypercall import HC
from xensim.hypervisor.memory_op import XenMemoryReservation
from xensim.hypervisor.sched_op import SCHEDOP
from xensim.hypervisor.time import MILLISECS, SECONDS

if TYPE_CHECKING:
    from xensim.domains.guest.kernel import GuestKernel

DEVICE_NEEDS: dict[str, tuple[str, ...]] = {
    "ping": ("vif",), "net-stream": ("vif",), "disk": ("vbd",), "web": ("vif", "vbd"),
    "kernel-build": ("vbd",),
}
"""workload name -> device kinds the toolstack adds when the config lists none."""
MTU = 1500


def size(text: str) -> int:
    """A byte count such as ``4096``, ``4k`` or ``1m``."""
    t = str(text).strip().lower()
    mult = {"k": 1024, "m": 1 << 20}.get(t[-1:], 1)
    n = int(t[:-1] if mult > 1 else t) * mult
    if n <= 0:
        raise ValueError(text)
    return n


def seq_or_rand(text: str) -> str:
    if text not in ("seq", "rand"):
        raise ValueError(text)
    return text


def record(stats: dict[str, Any], latency_ns: int, nbytes: int, ops: int = 1) -> None:
    """Count *ops* completed operations and one latency sample."""
    stats["io_ops"] = stats.get("io_ops", 0) + ops
    stats["io_bytes"] = stats.get("io_bytes", 0) + nbytes
    stats.setdefault("io_latency_ns", []).append(latency_ns)


def _kernel(g: GuestVcpu) -> GuestKernel:
    return g.vcpu.domain.info["kernel"]  # type: ignore[no-any-return]


def wait_connected(g: GuestVcpu) -> Iterator[Action]:
    """Wait until every device driver of the guest is ready."""
    fronts = _kernel(g).fronts  # type: ignore[attr-defined]
    yield WaitEvent(lambda: all(f.connected for f in fronts))


def _every(client: LanClient, gap: Callable[[], int], fn: Callable[[], None]) -> None:
    """An external source: call *fn* at intervals *gap()* while the client's guest lives
    (wherever it has moved to)."""
    env = client.ext.env

    def tick(_ev: object = None) -> None:
        if client.domain.is_dying:
            return
        fn()
        env.timeout(gap()).callbacks.append(tick)  # type: ignore[union-attr]

    env.timeout(gap()).callbacks.append(tick)  # type: ignore[union-attr]


class LanClient:
    """An external host on the LAN talking to one guest (the ``ping`` or ``web`` client).

    It names the guest by its uuid, which a migrated guest keeps, and sends to the
    host and domid where the guest last announced itself: a guest resumed on
    another host of a site sends a gratuitous ARP (:meth:`announce`) and the
    client's traffic follows it.  Packets sent in between reach the old host and
    are lost, as on a real LAN.  ``replies`` holds the time and latency of each
    completed reply, so the gap a migration leaves is measured where a user sees it.
    """

    def __init__(self, ext: ExternalNet, g: GuestVcpu, kind: str) -> None:
        self.ext = ext
        self.domain = g.vcpu.domain
        """The guest's domain now: the client runs while it lives (a migration moves it)."""
        self.routed = self.domain
        """The domain the LAN delivers to: the one that last announced the guest."""
        self.domid = self.domain.domid
        self.stats = g.stats
        """Where replies are recorded: the announcing domain's vCPU 0 stats."""
        self.flow = (kind, self.domain.handle)
        self.replies: list[tuple[int, int]] = []
        """(time, latency) of each completed reply, in ns."""
        self.inflight: dict[int, int] = {}
        """Requests sent and not yet answered: seq -> send time."""
        ext.clients[self.flow] = self

    def send(self, pkt: Packet) -> None:
        pkt.dst = self.domid
        self.ext.send(pkt)

    def record(self, latency_ns: int, nbytes: int) -> None:
        record(self.stats, latency_ns, nbytes)
        self.replies.append((self.ext.env.now, latency_ns))

    def announce(self, ext: ExternalNet, g: GuestVcpu) -> None:
        """The guest now answers as *g*'s domain behind *ext*'s NIC (gratuitous ARP)."""
        self.ext, self.routed = ext, g.vcpu.domain
        self.domain = self.routed
        self.domid, self.stats = self.routed.domid, g.stats


def lan_client(g: GuestVcpu, kind: str) -> tuple[LanClient, bool]:
    """The LAN's client of this guest: the one it had before a migration brought it here
    (announced to, and False), or a new one (True)."""
    ext = _kernel(g).io.lan_of(g.vcpu.domain.domid)
    old = ext.clients.get((kind, g.vcpu.domain.handle))
    if old is not None and old.domain is g.vcpu.domain and old.routed is not g.vcpu.domain:
        old.announce(ext, g)
        return old, False
    return LanClient(ext, g, kind), True


def _xmit(g: GuestVcpu, pkt: Packet) -> Iterator[Action]:
    """Send one packet from the program through whichever driver the guest has."""
    yield from _kernel(g).net.front.send(g, pkt)


def read_and_wait(g: GuestVcpu, disk: Any, sector: int, nbytes: int) -> Iterator[Action]:
    """Read synchronously: submit (waiting for room) and block until it completes."""
    done = [False]
    while not (yield from disk.request(g, sector, nbytes,
                                       lambda st, lat: done.__setitem__(0, True))):
        yield WaitEvent(disk.can_submit)
    yield WaitEvent(lambda: done[0])


def _block_device(g: GuestVcpu) -> Any:
    return next(f for f in _kernel(g).fronts if f.kind == "vbd")  # type: ignore[attr-defined]


@register_workload("ping", "an external client pings this guest over its vif; the latency "
                           "is measured at the client",
                   rate=Param(float, 10.0, "pings per second", 0.001, 100_000),
                   size=Param(int, 64, "bytes per ping", 1))
def _ping(g: GuestVcpu, p: dict[str, Any], rng: random.Random) -> Iterator[Action]:
    if g.vcpu.vcpu_id:
        return
    yield from wait_connected(g)
    client, new = lan_client(g, "ping")
    if new:
        _ping_client(client, p, rng)
    g.stats["_ping_inflight"] = client.inflight
    yield WaitEvent(lambda: False)  # the kernel answers; the task sleeps


def _ping_client(client: LanClient, p: dict[str, Any], rng: random.Random) -> None:
    env = client.ext.env
    period, seq = int(SECONDS(1) / p["rate"]), [0]
    inflight = client.inflight

    def answer(pkt: Packet) -> None:
        if inflight.pop(pkt.seq, None) is not None:
            client.record(env.now - pkt.t0, pkt.size)

    client.ext.receivers[client.flow] = answer

    def ping() -> None:
        seq[0] += 1
        client.stats["io_sent"] = seq[0]
        inflight[seq[0]] = env.now
        client.send(Packet(EXTERNAL, 0, p["size"], "echo", client.flow, env.now, seq[0]))

    # +-10% jitter: a real client's timer wanders, and exact periods phase-lock with
    # credit's 10 ms tick (dom0 then never looks busy at a tick, which no real host shows)
    first, jit = [rng.randrange(period) + 1], period // 10
    _every(client, lambda: first.pop() if first else period + rng.randrange(-jit, jit + 1),
           ping)


@register_workload("net-stream", "bulk send to an external sink over its vif (throughput)",
                   size=Param(int, MTU, "bytes per packet", 64),
                   mbps=Param(float, 0.0, "rate limit in Mbit/s; 0: as fast as the ring "
                                          "allows", 0))
def _stream(g: GuestVcpu, p: dict[str, Any], rng: random.Random) -> Iterator[Action]:
    if g.vcpu.vcpu_id:
        return
    yield from wait_connected(g)
    domid, env = g.vcpu.domain.domid, g.hyp.env
    ext = _kernel(g).io.lan_of(domid)
    flow = ("stream", g.vcpu.domain.handle)  # the sink on the LAN: a site's hosts share it
    ext.receivers[flow] = lambda pkt: record(g.stats, env.now - pkt.t0, pkt.size)
    gap = int(p["size"] * 8 * 1000 / p["mbps"]) if p["mbps"] else 0
    nxt = g.now
    while True:
        if gap:
            if g.now < nxt:
                yield SleepUntil(nxt)
            nxt = max(nxt + gap, g.now - 10 * gap)
        yield from _xmit(g, Packet(domid, EXTERNAL, p["size"], "data", flow, g.now))


@register_workload("disk", "reads its virtual disk with depth requests in flight (IOPS, latency)",
                   pattern=Param(seq_or_rand, "rand", "seq or rand"),
                   bs=Param(size, 4096, "bytes per request, e.g. 4k (up to 44k)"),
                   depth=Param(int, 1, "requests kept in flight", 1))
def _disk(g: GuestVcpu, p: dict[str, Any], rng: random.Random) -> Iterator[Action]:
    if g.vcpu.vcpu_id:
        return
    yield from wait_connected(g)
    bf = _block_device(g)
    depth, bs, inflight = p["depth"], p["bs"], [0]
    step, sector = max(1, bs // 512), 0

    def done(status: int, latency: int) -> None:
        inflight[0] -= 1
        if status == 0:
            record(g.stats, latency, bs)

    while True:
        while inflight[0] < depth and bf.can_submit():
            sector = sector + step if p["pattern"] == "seq" else rng.randrange(1 << 24) * step
            inflight[0] += 1
            if not (yield from bf.request(g, sector, bs, done)):
                inflight[0] -= 1
                break
        yield WaitEvent(lambda: inflight[0] < depth and bf.can_submit())


@register_workload("web", "serves requests arriving over its vif: compute, a disk read, a reply; "
                          "latency measured at the external client",
                   rate=Param(float, 50.0, "requests per second (Poisson arrivals)", 0.001,
                              100_000),
                   cpu_ms=Param(float, 0.5, "ms of computation per request", 0),
                   bs=Param(size, 16384, "bytes read from disk per request"),
                   reply=Param(size, 8192, "bytes of each reply"))
def _web(g: GuestVcpu, p: dict[str, Any], rng: random.Random) -> Iterator[Action]:
    if g.vcpu.vcpu_id:
        return
    yield from wait_connected(g)
    k = _kernel(g)
    domid = g.vcpu.domain.domid
    bf = _block_device(g)
    queue = deque[Packet]()
    npk = -(-p["reply"] // MTU)
    k.net.sockets["http-req"] = queue.append
    client, new = lan_client(g, "web")
    if new:
        _web_client(client, p, rng, npk)
    while True:
        yield WaitEvent(queue.__len__)
        req = queue.popleft()
        if p["cpu_ms"]:
            yield Compute(MILLISECS(p["cpu_ms"]))
        yield from read_and_wait(g, bf, rng.randrange(1 << 24) * 8, min(p["bs"], 11 * 4096))
        left = p["reply"]
        for _ in range(npk):
            chunk = min(MTU, left)
            left -= chunk
            yield from _xmit(g, Packet(domid, EXTERNAL, chunk, "http-rsp", req.flow, req.t0,
                                       req.seq))


def _web_client(client: LanClient, p: dict[str, Any], rng: random.Random, npk: int) -> None:
    env, seq = client.ext.env, [0]
    got: dict[int, int] = {}

    def reply_packet(pkt: Packet) -> None:
        got[pkt.seq] = got.get(pkt.seq, 0) + 1
        if got[pkt.seq] == npk:
            del got[pkt.seq]
            client.record(env.now - pkt.t0, p["reply"])

    client.ext.receivers[client.flow] = reply_packet

    def request() -> None:
        seq[0] += 1
        client.send(Packet(EXTERNAL, 0, 200, "http-req", client.flow, env.now, seq[0]))

    _every(client, lambda: max(1, int(rng.expovariate(p["rate"]) * SECONDS(1))), request)


# --- the hostile guest -------------------------------------------------------------------

_GARBAGE: tuple[Any, ...] = (None, -1, 0, 1, 7, 1 << 64, -(1 << 70), "x", 3.5, [], {}, (1, 2),
                             0x7FF0, 0x7FF1, 0x7FF2, 0x7FFF, 4095, 4096, 65536)
_EVTCHN_STRUCTS = (eva.EvtchnAllocUnbound, eva.EvtchnBindInterdomain, eva.EvtchnBindVirq,
                   eva.EvtchnBindIpi, eva.EvtchnClose, eva.EvtchnSend, eva.EvtchnStatus,
                   eva.EvtchnBindVcpu, eva.EvtchnUnmask, eva.EvtchnReset)
_GNT_STRUCTS = (gta.GnttabMapGrantRef, gta.GnttabUnmapGrantRef, gta.GnttabSetupTable,
                gta.GnttabQuerySize)


def _val(rng: random.Random) -> Any:
    r = rng.random()
    if r < 0.4:
        return rng.randrange(-3, 40)
    if r < 0.7:
        return rng.choice(_GARBAGE)
    return rng.getrandbits(rng.choice((8, 16, 32, 64)))


def _struct(rng: random.Random, classes: tuple[type, ...]) -> Any:
    if rng.random() < 0.1:
        return rng.choice(_GARBAGE)
    cls = rng.choice(classes)
    nargs = {eva.EvtchnAllocUnbound: 2, eva.EvtchnBindInterdomain: 2, eva.EvtchnBindVirq: 2,
             eva.EvtchnBindIpi: 1, eva.EvtchnClose: 1, eva.EvtchnSend: 1, eva.EvtchnStatus: 2,
             eva.EvtchnBindVcpu: 2, eva.EvtchnUnmask: 1, eva.EvtchnReset: 1,
             gta.GnttabMapGrantRef: 4, gta.GnttabUnmapGrantRef: 3, gta.GnttabSetupTable: 2,
             gta.GnttabQuerySize: 1}[cls]
    return cls(*[_val(rng) for _ in range(nargs)])


def _copy_op(rng: random.Random) -> gta.GnttabCopy:
    def ptr() -> gta.GnttabCopyPtr:
        return gta.GnttabCopyPtr(_val(rng), _val(rng), _val(rng), _val(rng))
    return gta.GnttabCopy(ptr(), ptr(), _val(rng), _val(rng))


def fuzz_call(rng: random.Random) -> tuple[int, tuple[Any, ...]]:
    """One random hypercall: a number (sometimes invalid) and arguments of any shape."""
    nr = rng.choice(list(HC) + [99, 250, -1])
    if nr == HC.event_channel_op:
        return nr, (rng.randrange(-1, 15), _struct(rng, _EVTCHN_STRUCTS))
    if nr == HC.grant_table_op:
        cmd = rng.randrange(-1, 14)
        ops = [(_copy_op(rng) if cmd == gta.GNTTABOP.copy else _struct(rng, _GNT_STRUCTS))
               for _ in range(rng.randrange(0, 4))]
        return nr, (cmd, ops, rng.choice((len(ops), _val(rng))))
    if nr == HC.memory_op:
        return nr, (rng.randrange(-1, 16), XenMemoryReservation(_val(rng), _val(rng), 0,
                                                                rng.choice((0x7FF0, 0, 1))))
    if nr == HC.vcpu_op:
        return nr, (rng.choice((0, 1, 3, 4, 5, 11, 99, "up")), _val(rng), _val(rng))
    if nr in (HC.domctl, HC.sysctl):
        op = Domctl(_val(rng), _val(rng)) if nr == HC.domctl else Sysctl(_val(rng))
        return nr, (op,)
    if nr == HC.console_io:
        return nr, (rng.randrange(-1, 3), _val(rng), rng.choice(("hi", "x" * 80, None, [])))
    if nr == HC.mmu_update:
        reqs = [(_val(rng), _val(rng)) for _ in range(rng.randrange(0, 64))]
        return nr, (reqs, rng.choice((len(reqs), _val(rng))), None, rng.choice((0x7FF0, 0)))
    if nr == HC.sched_op:  # block, shutdown, poll would stop the fuzzer itself
        return nr, (rng.choice((SCHEDOP.yield_, SCHEDOP.remote_shutdown, 5, 77)),
                    (rng.choice((0, 1, 2, 0x7FF0)), rng.randrange(0, 7)))
    if nr == HC.set_timer_op:
        return HC.xen_version, (rng.randrange(-1, 12), [])
    return nr, tuple(_val(rng) for _ in range(rng.randrange(0, 4)))


@register_workload("hypercall-fuzz", "a hostile guest issuing random, malformed and forbidden "
                                     "hypercalls (must only ever get error codes back)",
                   gap_us=Param(float, 5.0, "guest computation between two hypercalls (us)",
                                0))
def _fuzz(g: GuestVcpu, p: dict[str, Any], rng: random.Random) -> Iterator[Action]:
    stats = g.stats
    gap = int(p["gap_us"] * 1000)
    while True:
        if gap:
            yield Compute(gap)
        nr, args = fuzz_call(rng)
        rc = yield Hypercall(nr, args)
        stats["fuzz_calls"] = stats.get("fuzz_calls", 0) + 1
        if type(rc) is not int:
            stats["fuzz_bad_rc"] = stats.get("fuzz_bad_rc", 0) + 1
        elif rc < 0:
            stats["fuzz_errors"] = stats.get("fuzz_errors", 0) + 1

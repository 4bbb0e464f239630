"""The physical devices dom0 owns, its bridges, and the networks outside the host.

Models (not mirrors): a NIC with a link rate and a one-way latency to the
LAN, a disk with access time (sequential or random), transfer rate and a
queue depth, Linux's bridge in dom0 (vifs and the NIC as ports), and the
external hosts that source and sink traffic.  Prices come from the cost
table (``nic_*``, ``disk_*``).  A device's completion is an interrupt to
dom0: the device hands its completion work to a dom0 vCPU
(:meth:`~xensim.domains.dom0.services.Dom0Services.post`), which raises that vCPU's
port, so device completions too wait for dom0 to be scheduled.

Each in-flight packet or disk request is one SimPy timeout at the time it
completes; nothing polls.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from simpy import Environment

    from xensim.domains.dom0.services import Dom0Services
    from xensim.hypervisor.costs import CostModel

EXTERNAL = -1
"""The ``src``/``dst`` of a packet to or from a host outside this machine."""
NIC_IRQ_VCPU = 0
DISK_IRQ_VCPU = 0


@dataclass(slots=True)
class Packet:
    src: int
    dst: int
    size: int
    kind: str
    flow: Any = None
    t0: int = 0
    seq: int = 0


def _after(env: Environment, delay: int, fn: Callable[[], None]) -> None:
    ev = env.timeout(delay)
    ev.callbacks.append(lambda _e: fn())  # type: ignore[union-attr]


class ExternalNet:
    """Hosts on the LAN: they send through :meth:`send` and receive by flow."""

    def __init__(self, env: Environment, costs: CostModel) -> None:
        self.env = env
        self.latency = costs["nic_latency"]
        self.ns_per_kib = costs["nic_ns_per_kib"]
        self.nic: Nic | None = None
        self.receivers: dict[Any, Callable[[Packet], None]] = {}
        """flow -> the LAN client that takes its packets (shared by a site's hosts)."""
        self.clients: dict[Any, Any] = {}
        """flow -> the LAN client of a guest (``io_workloads.LanClient``), shared by a
        site's hosts so that a migrated guest finds its clients again."""
        self.dropped = 0

    def send(self, pkt: Packet) -> None:
        """A LAN host sends *pkt* into the host's NIC (its own link serialises it)."""
        delay = self.latency + pkt.size * self.ns_per_kib // 1024
        nic = self.nic
        if nic is not None:
            _after(self.env, delay, lambda: nic.receive(pkt))

    def receive(self, pkt: Packet) -> None:
        fn = self.receivers.get(pkt.flow)
        if fn is None:
            self.dropped += 1
        else:
            fn(pkt)


class Nic:
    """The physical NIC: transmit serialised at link rate, receive interrupts dom0."""

    BATCH = 64
    TXQUEUELEN = 1000
    """Packets the transmit queue holds (Linux's default txqueuelen); beyond, tail drop."""

    def __init__(self, env: Environment, costs: CostModel, svc: Dom0Services,
                 ext: ExternalNet, name: str = "eth0") -> None:
        self.env = env
        self.name = name
        self.svc = svc
        self.ext = ext
        ext.nic = self
        self.latency = costs["nic_latency"]
        self.ns_per_kib = costs["nic_ns_per_kib"]
        self.rx_cost = costs["nic_rx_packet"]
        self.tx_free = 0
        self.rx: deque[Packet] = deque()
        self.rx_scheduled = False
        self.bridge: Bridge | None = None
        self.owner: Callable[[Packet], None] | None = None
        """A guest's driver when the NIC is passed through to it: receive goes there,
        not to dom0 (see :mod:`xensim.domains.guest.passthrough`)."""
        self.owner_domid: int | None = None
        self.tx_packets = self.rx_packets = 0
        self.tx_dropped = 0
        self._max_backlog = self.TXQUEUELEN * 1500 * self.ns_per_kib // 1024

    def transmit(self, pkt: Packet) -> None:
        now = self.env.now
        if self.tx_free - now > self._max_backlog:  # the qdisc is full: a UDP blast drops
            self.tx_dropped += 1
            return
        start = max(now, self.tx_free)
        self.tx_free = start + pkt.size * self.ns_per_kib // 1024
        self.tx_packets += 1
        _after(self.env, self.tx_free + self.latency - now, lambda: self.ext.receive(pkt))

    def receive(self, pkt: Packet) -> None:
        self.rx_packets += 1
        if self.owner is not None:  # passed through: the guest's driver takes it
            self.owner(pkt)
            return
        self.rx.append(pkt)
        if not self.rx_scheduled:  # NAPI: one interrupt, then poll the batch
            self.rx_scheduled = True
            self.svc.post(NIC_IRQ_VCPU, self._rx_work)

    def _rx_work(self) -> tuple[int, Callable[[], None]]:
        batch = [self.rx.popleft() for _ in range(min(self.BATCH, len(self.rx)))]

        def finish() -> None:
            bridge = self.bridge
            for pkt in batch:
                if bridge is not None:
                    bridge.forward(pkt)
            if self.rx:
                self.svc.post(NIC_IRQ_VCPU, self._rx_work)
            else:
                self.rx_scheduled = False

        return len(batch) * self.rx_cost, finish


class Bridge:
    """A software bridge in dom0: vifs by domid, everything else to its uplink NIC.

    *kind* is ``linux`` (brctl/iproute2, what ``vif-bridge`` drives) or
    ``openvswitch`` (what ``vif-openvswitch`` drives); both forward alike
    here, the kind only decides which hotplug script can attach a vif.  A
    bridge without an uplink (*nic* None) is host-only: packets for the LAN
    are dropped.  A packet for a guest whose vif is on another bridge is
    dropped too, which is what keeps guests on different bridges apart.

    A guest may have several vifs on the bridge (hot-plugged ones too); packets
    for it go to the first still attached, so detaching one vif never cuts off
    another.
    """

    def __init__(self, nic: Nic | None, name: str = "xenbr0", kind: str = "linux") -> None:
        self.nic = nic
        self.name = name
        self.kind = kind
        if nic is not None:
            nic.bridge = self
        self.ports: dict[int, Callable[[Packet], None]] = {}
        """domid -> the port packets for that guest go to (its first attached vif)."""
        self._vifs: dict[int, list[Callable[[Packet], None]]] = {}
        self.ifnames: dict[Callable[[Packet], None], str] = {}
        """port -> its interface name in dom0 (``vif1.0``), for listings."""
        self.dropped = 0

    def attach(self, domid: int, port: Callable[[Packet], None], ifname: str = "") -> None:
        vifs = self._vifs.setdefault(domid, [])
        vifs.append(port)
        self.ports[domid] = vifs[0]
        self.ifnames[port] = ifname or f"vif{domid}.{len(vifs) - 1}"

    def detach(self, domid: int, port: Callable[[Packet], None]) -> None:
        vifs = self._vifs.get(domid, [])
        if port in vifs:
            vifs.remove(port)
        self.ifnames.pop(port, None)
        if vifs:
            self.ports[domid] = vifs[0]
        else:
            self._vifs.pop(domid, None)
            self.ports.pop(domid, None)

    def drop(self, domid: int) -> None:
        """Every port of *domid* goes (the domain is being destroyed)."""
        for port in self._vifs.pop(domid, []) + [self.ports.pop(domid, None)]:
            self.ifnames.pop(port, None)  # type: ignore[arg-type]

    def interfaces(self) -> list[str]:
        """The bridge's ports as ``brctl show`` lists them: the uplink, then the vifs."""
        uplink = [self.nic.name] if self.nic is not None else []
        return uplink + sorted(self.ifnames.values())

    def forward(self, pkt: Packet) -> None:
        if pkt.dst == EXTERNAL:
            if self.nic is None:
                self.dropped += 1
            else:
                self.nic.transmit(pkt)
            return
        port = self.ports.get(pkt.dst)
        if port is None:
            self.dropped += 1
        else:
            port(pkt)


@dataclass(slots=True)
class DiskRequest:
    sector: int
    nbytes: int
    done: Callable[[], None]


class Disk:
    """A disk with *queue_depth* requests in service at once (an SSD's channels)."""

    SECTOR = 512

    def __init__(self, env: Environment, costs: CostModel, queue_depth: int = 4,
                 sectors: int = 1 << 31) -> None:
        self.env = env
        self.seq_ns = costs["disk_seq_access"]
        self.rand_ns = costs["disk_rand_access"]
        self.ns_per_kib = costs["disk_ns_per_kib"]
        self.queue_depth = queue_depth
        self.sectors = sectors
        self.busy = 0
        self.queue: deque[DiskRequest] = deque()
        self.last_end = -1
        self.completed = 0

    def submit(self, req: DiskRequest) -> None:
        if self.busy < self.queue_depth:
            self._start(req)
        else:
            self.queue.append(req)

    def _start(self, req: DiskRequest) -> None:
        self.busy += 1
        access = self.seq_ns if req.sector == self.last_end else self.rand_ns
        self.last_end = req.sector + req.nbytes // self.SECTOR
        _after(self.env, access + req.nbytes * self.ns_per_kib // 1024,
               lambda: self._complete(req))

    def _complete(self, req: DiskRequest) -> None:
        self.busy -= 1
        self.completed += 1
        if self.queue:
            self._start(self.queue.popleft())
        req.done()

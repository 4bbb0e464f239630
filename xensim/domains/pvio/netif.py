"""netfront and netback: packets over two shared rings, data moved by grant copy.

Mirrors: Linux drivers/net/xen-netfront.c (xennet_start_xmit,
xennet_tx_buf_gc with its "notify me at half the outstanding" rsp_event,
xennet_alloc_rx_buffers, xennet_poll) and drivers/net/xen-netback
(xenvif_tx_action builds a batch of GNTTABOP_copy from the guest's pages,
xenvif_rx_action copies into the guest's posted buffers; both push
responses with RING_PUSH_RESPONSES_AND_CHECK_NOTIFY and re-arm with
RING_FINAL_CHECK_FOR_REQUESTS).  Simplified: one queue, one event channel
for both rings (no feature-split-event-channels), one slot per packet (no
scatter-gather, packets up to a page), no rate limiting.

Backend work runs as dom0 work items on the vif's "home" dom0 vCPU; the
guest's side runs in its upcall handler (kernel work on its vCPU).

Hot-unplug (see :mod:`~xensim.domains.pvio.xenbus`): netfront closes at once
(packets still on its tx ring are dropped, as xennet_release_tx_bufs does),
netback leaves the bridge when it disconnects, and the guest's stack moves
to its next vif, if any.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from xensim.domains.dom0.physdev import EXTERNAL, Packet
from xensim.domains.dom0.xenstore import XsError
from xensim.domains.guest.guest_vcpu import Action, Compute, WaitEvent, send_event
from xensim.domains.pvio.ring import BackRing, FrontRing, SharedRing, idx
from xensim.domains.pvio.xenbus import BackendDevice, FrontendDevice
from xensim.hypervisor.domctx import DOMID_SELF
from xensim.hypervisor.grant.abi import (
    GNTCOPY,
    GNTMAP,
    GNTST,
    GNTTABOP,
    PAGE_SIZE,
    GnttabCopy,
    GnttabCopyPtr,
    GnttabMapGrantRef,
    GnttabUnmapGrantRef,
)
from xensim.hypervisor.hypercall import HC

if TYPE_CHECKING:
    from xensim.domains.dom0.iosys import IoSystem
    from xensim.domains.dom0.xenstored import Dom0XsClient, XenbusClient
    from xensim.domains.guest.guest_vcpu import GuestVcpu
    from xensim.domains.guest.kernel import GuestKernel

NET_RING_SIZE = 256  # NET_TX_RING_SIZE / NET_RX_RING_SIZE for a 4 KiB page
BATCH = 64
RX_BACKLOG = 512


class NetStack:
    """The guest's network stack above netfront: answers pings, hands the rest to sockets."""

    def __init__(self, kernel: GuestKernel) -> None:
        self.kernel = kernel
        self.front: NetFront | None = None
        """The vif the stack sends on (the first one still attached)."""
        self.sockets: dict[str, Callable[[Packet], None]] = {}
        self.backlog: deque[Packet] = deque()
        self.cost = kernel.hyp.costs["netfront_packet"]
        self.dropped = 0

    def deliver(self, g: GuestVcpu, pkt: Packet) -> int:
        """A received packet, in the upcall; returns its kernel cost."""
        if pkt.kind == "echo":  # ICMP echo is answered by the kernel itself
            reply = Packet(pkt.dst, pkt.src, pkt.size, "echo-reply", pkt.flow, pkt.t0, pkt.seq)
            g.after_upcall.append(lambda: self.send_kernel(reply, g))
            return self.cost + self.kernel.hc_cost
        sock = self.sockets.get(pkt.kind)
        if sock is None:
            self.dropped += 1
        else:
            g.after_upcall.append(lambda: sock(pkt))
        return 0

    def send_kernel(self, pkt: Packet, g: GuestVcpu | None = None) -> None:
        """Transmit from kernel context (its cost is part of the handler's)."""
        nf = self.front
        if nf is None or self.backlog:
            self.backlog.append(pkt)
            return
        notify = nf.xmit(pkt)
        if notify is None:
            self.backlog.append(pkt)
        elif notify:
            self.kernel.notify(nf.port, g.vcpu if g is not None else None)

    def remove(self, nf: NetFront) -> None:
        """*nf* is going away: send on the guest's next vif from now on, if it has one."""
        if self.front is nf:
            self.front = next((f for f in self.kernel.fronts if isinstance(f, NetFront)
                               and f is not nf and not f.released), None)

    def flush_backlog(self, g: GuestVcpu) -> None:
        nf = self.front
        notify = False
        while nf is not None and self.backlog:
            r = nf.xmit(self.backlog[0])
            if r is None:
                break
            self.backlog.popleft()
            notify |= r
        if notify and nf is not None:
            self.kernel.notify(nf.port, g.vcpu)


class NetFront(FrontendDevice):
    def __init__(self, io: IoSystem, kernel: GuestKernel, xs: XenbusClient, devid: int,
                 stack: NetStack, *, hotplugged: bool = False) -> None:
        super().__init__(io, kernel, xs, "vif", devid, hotplugged=hotplugged)
        self.stack = stack
        self.tx: FrontRing = None  # type: ignore[assignment]
        self.rx: FrontRing = None  # type: ignore[assignment]
        self.cost = kernel.hyp.costs["netfront_packet"]
        self.tx_packets = self.rx_packets = 0
        stack.front = stack.front or self

    def setup(self) -> dict[str, str]:
        k = self.kernel
        refs = []
        for name in ("tx", "rx"):
            sring = SharedRing(NET_RING_SIZE)
            refs.append(self.share_page(sring))
            setattr(self, name, FrontRing(sring))
        self.port = k.alloc_unbound(0)
        k.bind(self.port, self._on_event)
        self._post_rx_buffers()
        return {"tx-ring-ref": str(refs[0]), "rx-ring-ref": str(refs[1]),
                "event-channel": str(self.port), "request-rx-copy": "1"}

    def _post_rx_buffers(self) -> bool:
        k, rx = self.kernel, self.rx
        while not rx.full():
            ref = self.grant(k.alloc_frame())
            if ref < 0:
                break
            rx.put_request(ref)
        return rx.push_requests_and_check_notify()

    def xmit(self, pkt: Packet) -> bool | None:
        """Queue *pkt* on the tx ring: None if it cannot take it, else whether to notify."""
        if not self.connected:
            return None
        self._gc_tx()
        if self.tx.full():
            return None
        ref = self.grant(0x100000, True)
        if ref < 0:
            return None
        self.tx.put_request((ref, pkt))
        self.tx_packets += 1
        return self.tx.push_requests_and_check_notify()

    def tx_full(self) -> bool:
        return not self.connected or self.tx.full()

    def send(self, g: GuestVcpu, pkt: Packet) -> Iterator[Action]:
        """Send from a task: stack cost, the ring (waiting while it is full), notify if asked."""
        yield Compute(self.kernel.hyp.costs["netfront_packet"], "kernel")
        while True:
            notify = self.xmit(pkt)
            if notify is not None:
                break
            yield WaitEvent(lambda: not self.tx_full())
        if notify:
            yield send_event(self.port)

    def _gc_tx(self) -> None:
        """xennet_tx_buf_gc: reclaim sent slots; ask to be told when half the rest are done."""
        tx, s = self.tx, self.tx.sring
        while True:
            prod = s.rsp_prod
            while tx.rsp_cons != prod:
                self.end_grant(tx.get_response())
            s.rsp_event = idx(prod + (idx(s.req_prod - prod) >> 1) + 1)
            if s.rsp_prod == prod:
                break

    def _on_event(self, g: GuestVcpu, port: int) -> int:
        if self.released:
            return 0
        self._gc_tx()
        rx, k = self.rx, self.kernel
        pkts: list[Packet] = []
        while True:
            while rx.unconsumed_responses():
                ref, pkt = rx.get_response()
                self.end_grant(ref)
                if pkt is not None:
                    pkts.append(pkt)
            if not rx.final_check_for_responses():
                break
        ns = len(pkts) * self.cost
        self.rx_packets += len(pkts)
        if pkts and self._post_rx_buffers():
            ns += k.notify(self.port, g.vcpu)
        for pkt in pkts:
            ns += self.stack.deliver(g, pkt)
        if self.stack.backlog:
            g.after_upcall.append(lambda: self.stack.flush_backlog(g))
        return ns

    def teardown(self) -> None:
        self.stack.remove(self)


class NetBack(BackendDevice):
    ring_keys = ("tx-ring-ref", "rx-ring-ref", "event-channel")

    def __init__(self, io: IoSystem, xs: Dom0XsClient, domid: int, devid: int) -> None:
        super().__init__(io, xs, "vif", domid, devid)
        self.svc = io.svc
        self.k0 = io.kernel0
        self.home = domid % self.svc.nr_vcpus
        self.v0 = self.svc.dom0.vcpus[self.home]
        costs = io.hyp.costs
        self.pkt_cost = costs["netback_packet"]
        self.hc_cost = costs["hypercall"]
        self.port = 0
        self.handles: list[tuple[int, int]] = []
        self.txb: BackRing = None  # type: ignore[assignment]
        self.rxb: BackRing = None  # type: ignore[assignment]
        self.rx_queue: deque[Packet] = deque()
        self.tx_sched = self.rx_sched = False
        self.bridge = io.bridge
        """The bridge the hotplug script put this vif on (its ``bridge`` node)."""
        self.dropped = 0
        self.copies = 0

    def connect(self, values: dict[str, str]) -> bool:
        rings = []
        for key in ("tx-ring-ref", "rx-ring-ref"):
            ref = int(values[key])
            op = GnttabMapGrantRef(host_va(self.domid, ref), GNTMAP.host_map, ref, self.domid)
            self.k0.hypercall(self.v0, HC.grant_table_op, GNTTABOP.map_grant_ref, [op], 1)
            if op.status != GNTST.okay:
                return False
            self.handles.append((op.handle, op.host_addr))
            sring = self.io.pages.get((self.domid, op.dev_bus_addr >> 12))
            if sring is None:
                return False
            rings.append(BackRing(sring))
        self.txb, self.rxb = rings
        port = self.k0.bind_interdomain(self.domid, int(values["event-channel"]))
        if port < 0:
            return False
        self.port = port
        self.k0.bind(port, self._on_event, self.home)
        self.bridge = self.io.bridge_named(_read(self.io, self.be + "/bridge"))
        self.bridge.attach(self.domid, self.deliver, self.ifname)
        return True

    @property
    def ifname(self) -> str:
        """The vif's name in dom0: ``vif<domid>.<devid>`` or the config's ``vifname``."""
        return _read(self.io, self.be + "/vifname") or f"vif{self.domid}.{self.devid}"

    def disconnect(self) -> None:
        self.connected = False
        self.bridge.detach(self.domid, self.deliver)
        unmap_all(self.k0, self.v0, self.handles)
        self.handles = []
        if self.port:
            self.k0.close(self.port)
            self.port = 0
        self.rx_queue.clear()

    def held_handles(self) -> int:
        return len(self.handles)

    # --- events and work ----------------------------------------------------------
    def _on_event(self, g: GuestVcpu, port: int) -> int:
        if self.connected:
            if not self.tx_sched and self.txb.unconsumed_requests():
                self.tx_sched = True
                self.svc.post(self.home, self._tx_work)
            if self.rx_queue and not self.rx_sched:
                self.rx_sched = True
                self.svc.post(self.home, self._rx_work)
        return 0

    def _tx_work(self) -> tuple[int, Callable[[], None] | None]:
        if not self.connected:
            self.tx_sched = False
            return 0, None
        txb = self.txb
        batch = [txb.get_request() for _ in range(min(BATCH, txb.unconsumed_requests()))]
        ops = [GnttabCopy(GnttabCopyPtr(self.domid, 0, ref), GnttabCopyPtr(DOMID_SELF, 0, 0, 1),
                          min(pkt.size, PAGE_SIZE), GNTCOPY.source_gref) for ref, pkt in batch]
        _, hc_ns = self.k0.hypercall(self.v0, HC.grant_table_op, GNTTABOP.copy, ops, len(ops))
        self.copies += len(ops)

        def finish() -> None:
            if not self.connected:
                self.tx_sched = False
                return
            bridge = self.bridge
            for (ref, pkt), op in zip(batch, ops, strict=True):
                txb.put_response(ref)
                if op.status == GNTST.okay:
                    pkt.src = self.domid
                    bridge.forward(pkt)
            if txb.push_responses_and_check_notify():
                self.k0.notify(self.port, self.v0)
            if txb.final_check_for_requests():
                self.svc.post(self.home, self._tx_work)
            else:
                self.tx_sched = False

        return len(batch) * self.pkt_cost + hc_ns + self.hc_cost, finish

    def deliver(self, pkt: Packet) -> None:
        """The bridge hands us a packet for our guest (dom0 context)."""
        if len(self.rx_queue) >= RX_BACKLOG:
            self.dropped += 1
            return
        self.rx_queue.append(pkt)
        if not self.rx_sched:
            self.rx_sched = True
            self.svc.post(self.home, self._rx_work)

    def _rx_work(self) -> tuple[int, Callable[[], None] | None]:
        if not self.connected:
            self.rx_sched = False
            return 0, None
        rxb = self.rxb
        n = min(BATCH, len(self.rx_queue), rxb.unconsumed_requests())
        if n == 0:
            if self.rx_queue and rxb.final_check_for_requests():
                self.svc.post(self.home, self._rx_work)
            else:
                self.rx_sched = False  # the guest's next buffer post notifies us
            return 0, None
        pkts = [self.rx_queue.popleft() for _ in range(n)]
        refs = [rxb.get_request() for _ in range(n)]
        ops = [GnttabCopy(GnttabCopyPtr(DOMID_SELF, 0, 0, 1), GnttabCopyPtr(self.domid, 0, ref),
                          min(pkt.size, PAGE_SIZE), GNTCOPY.dest_gref)
               for ref, pkt in zip(refs, pkts, strict=True)]
        _, hc_ns = self.k0.hypercall(self.v0, HC.grant_table_op, GNTTABOP.copy, ops, n)
        self.copies += n

        def finish() -> None:
            if not self.connected:
                self.rx_sched = False
                return
            for ref, pkt, op in zip(refs, pkts, ops, strict=True):
                rxb.put_response((ref, pkt if op.status == GNTST.okay else None))
            if rxb.push_responses_and_check_notify():
                self.k0.notify(self.port, self.v0)
            if self.rx_queue:
                self.svc.post(self.home, self._rx_work)
            else:
                self.rx_sched = False

        return n * self.pkt_cost + hc_ns + self.hc_cost, finish


def host_va(domid: int, ref: int) -> int:
    """Where dom0 maps a guest's grant: one distinct page per (domain, ref)."""
    return 0x7F00_0000_0000 | (domid << 24) | (ref << 12)


def unmap_all(k0: GuestKernel, v: Any, handles: list[tuple[int, int]]) -> int:
    """Unmap ``(handle, host_addr)`` pairs in one batch; returns the ns it cost."""
    if not handles:
        return 0
    ops = [GnttabUnmapGrantRef(addr, 0, h) for h, addr in handles]
    return k0.hypercall(v, HC.grant_table_op, GNTTABOP.unmap_grant_ref, ops, len(ops))[1]


__all__ = ["EXTERNAL", "NetBack", "NetFront", "NetStack", "unmap_all"]


def _read(io: IoSystem, path: str) -> str | None:
    """A backend node as the hotplug script reads it (None if absent)."""
    try:
        return io.store.read(0, path)
    except XsError:
        return None

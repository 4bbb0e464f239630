"""blkfront and blkback: block requests on one shared ring, data pages granted and mapped.

Mirrors: Linux drivers/block/xen-blkfront.c (blkif_queue_rq grants each
segment to the backend, flush_requests pushes with
RING_PUSH_REQUESTS_AND_CHECK_NOTIFY, blkif_interrupt completes responses
and ends foreign access) and drivers/block/xen-blkback/blkback.c
(do_block_io_op consumes a batch, xen_blkbk_map maps the segments with
GNTTABOP_map_grant_ref, the bio completes on the physical disk,
xen_blkbk_unmap and make_response push the reply and notify).
Simplified: reads only (the workloads need no writes), no persistent
grants, no indirect descriptors, up to 11 segments of 4 KiB per request.

Disk completions are interrupts to dom0: their unmap-and-respond work is a
dom0 work item on the vbd's home vCPU, so a starved dom0 delays them too.

Hot-unplug (see :mod:`~xensim.domains.pvio.xenbus`): blkfront stops issuing
requests and stays Closing until blkback has answered every request in
flight, so a detach waits for them; when the device node goes, responses
still on the ring complete normally and requests never answered (a forced
removal) fail with BLKIF_RSP_ERROR, their callbacks run, and their grants
are ended.  Departure: blkback does not wait for the disk to finish
requests of a frontend that vanished; it unmaps at once (no data moves in
the model, so nothing is corrupted).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from xensim.domains.dom0.physdev import DiskRequest
from xensim.domains.guest.guest_vcpu import Action, Compute, send_event
from xensim.domains.pvio.netif import host_va, unmap_all
from xensim.domains.pvio.ring import BackRing, FrontRing, SharedRing
from xensim.domains.pvio.xenbus import BackendDevice, FrontendDevice, XenbusState
from xensim.hypervisor.grant.abi import GNTMAP, GNTST, GNTTABOP, GnttabMapGrantRef
from xensim.hypervisor.hypercall import HC

if TYPE_CHECKING:
    from xensim.domains.dom0.iosys import IoSystem
    from xensim.domains.dom0.xenstored import Dom0XsClient, XenbusClient
    from xensim.domains.guest.guest_vcpu import GuestVcpu
    from xensim.domains.guest.kernel import GuestKernel

BLK_RING_SIZE = 32  # __CONST_RING_SIZE(blkif, 4096)
MAX_SEGMENTS = 11  # BLKIF_MAX_SEGMENTS_PER_REQUEST
SEG = 4096
BLKIF_RSP_OKAY, BLKIF_RSP_ERROR = 0, -1
EXTENDED = 1 << 28  # a vdev beyond xvdp or with more than 15 partitions


@dataclass(slots=True)
class BlkRequest:
    id: int
    sector: int
    nbytes: int
    refs: list[int]


@dataclass(slots=True)
class Inflight:
    refs: list[int]
    t0: int
    nbytes: int
    done: Callable[[int, int], None] | None


def vbd_name(devid: int) -> str:
    """The disk's name in the guest (Linux blkfront's xlbd_major_info naming):
    51712 -> xvda, 51729 -> xvdb1, 768 -> hda, 2048 -> sda."""
    if devid & EXTENDED:
        prefix, disk, part = "xvd", (devid & ~EXTENDED) >> 8, devid & 0xFF
    else:
        major, minor = devid >> 8, devid & 0xFF
        prefix = {202: "xvd", 3: "hd", 22: "hd", 8: "sd"}.get(major, "xvd")
        shift = 6 if prefix == "hd" else 4
        disk, part = minor >> shift, minor & ((1 << shift) - 1)
        if major == 22:
            disk += 2
    letters = ""
    disk += 1
    while disk:
        disk, r = divmod(disk - 1, 26)
        letters = chr(ord("a") + r) + letters
    return prefix + letters + (str(part) if part else "")


class BlkFront(FrontendDevice):
    def __init__(self, io: IoSystem, kernel: GuestKernel, xs: XenbusClient, devid: int, *,
                 hotplugged: bool = False) -> None:
        super().__init__(io, kernel, xs, "vbd", devid, hotplugged=hotplugged)
        self.ring: FrontRing = None  # type: ignore[assignment]
        self.inflight: dict[int, Inflight] = {}
        self.next_id = 0
        self.cost = kernel.hyp.costs["blkfront_request"]

    def setup(self) -> dict[str, str]:
        k = self.kernel
        sring = SharedRing(BLK_RING_SIZE)
        ref = self.share_page(sring)
        self.ring = FrontRing(sring)
        self.port = k.alloc_unbound(0)
        k.bind(self.port, self._on_event)
        return {"ring-ref": str(ref), "event-channel": str(self.port),
                "protocol": "x86_64-abi"}

    def can_submit(self) -> bool:
        return self.connected and not self.ring.full()

    def submit(self, sector: int, nbytes: int,
               done: Callable[[int, int], None] | None = None) -> bool | None:
        """Queue a read: None if the ring is full, else whether the backend must be notified.
        *done(status, latency_ns)* runs in the completion upcall's bottom half."""
        if not self.can_submit():
            return None
        k = self.kernel
        nseg = min(MAX_SEGMENTS, max(1, -(-nbytes // SEG)))
        refs = [self.grant(k.alloc_frame()) for _ in range(nseg)]
        if min(refs) < 0:
            for r in refs:
                if r >= 0:
                    self.end_grant(r)
            return None
        rid = self.next_id
        self.next_id += 1
        self.inflight[rid] = Inflight(refs, k.hyp.env.now, nseg * SEG, done)
        self.ring.put_request(BlkRequest(rid, sector, nseg * SEG, refs))
        return self.ring.push_requests_and_check_notify()

    def request(self, g: GuestVcpu, sector: int, nbytes: int,
                done: Callable[[int, int], None]) -> Iterator[Action]:
        """Issue one read from a task; returns False (issuing nothing) if the ring is full."""
        yield Compute(self.kernel.hyp.costs["blkfront_request"], "kernel")
        notify = self.submit(sector, nbytes, done)
        if notify is None:
            return False
        if notify:
            yield send_event(self.port)
        return True

    def _on_event(self, g: GuestVcpu, port: int) -> int:
        if self.released:
            return 0
        done = self._reap()
        for cb, status, lat in done:
            g.after_upcall.append(lambda cb=cb, st=status, lat=lat: cb(st, lat))
        if self.state == XenbusState.Closing:
            g.after_upcall.append(self.drained)
        return len(done) * self.cost

    def _reap(self) -> list[tuple[Callable[[int, int], None], int, int]]:
        """Take every response off the ring, end its grants; the callbacks to run."""
        ring = self.ring
        now = self.kernel.hyp.env.now
        out = []
        while True:
            while ring.unconsumed_responses():
                rid, status = ring.get_response()
                req = self.inflight.pop(rid, None)
                if req is None:
                    continue
                for ref in req.refs:
                    self.end_grant(ref)
                if req.done is not None:
                    out.append((req.done, status, now - req.t0))
            if not ring.final_check_for_responses():
                break
        return out

    def idle(self) -> bool:
        return not self.inflight

    def teardown(self) -> None:
        """Answered requests complete; the rest fail (their grants go in release)."""
        if self.ring is None:
            return
        done = self._reap()
        now = self.kernel.hyp.env.now
        for req in self.inflight.values():
            if req.done is not None:
                done.append((req.done, BLKIF_RSP_ERROR, now - req.t0))
        self.inflight.clear()
        for cb, status, lat in done:
            cb(status, lat)

    def on_connect(self) -> None:
        self.kernel.printk(f"blkfront: {vbd_name(self.devid)}: barrier or flush: disabled; "
                           "persistent grants: disabled; indirect descriptors: disabled; "
                           "bounce buffer: disabled;")


class BlkBack(BackendDevice):
    ring_keys = ("ring-ref", "event-channel")

    def __init__(self, io: IoSystem, xs: Dom0XsClient, domid: int, devid: int) -> None:
        super().__init__(io, xs, "vbd", domid, devid)
        self.svc = io.svc
        self.k0 = io.kernel0
        self.home = domid % self.svc.nr_vcpus
        self.v0 = self.svc.dom0.vcpus[self.home]
        self.req_cost = io.hyp.costs["blkback_request"]
        self.hc_cost = io.hyp.costs["hypercall"]
        self.ring_handle: list[tuple[int, int]] = []
        self.ring: BackRing = None  # type: ignore[assignment]
        self.port = 0
        self.sched = self.comp_sched = False
        self.mapped: dict[int, list[tuple[int, int]]] = {}
        """Request id -> its segments' (handle, host_addr) while the disk works on it."""
        self.completed: list[tuple[int, int]] = []
        self.base = domid << 28  # where this guest's image sits on the physical disk
        self.maps = 0

    def connect(self, values: dict[str, str]) -> bool:
        ref = int(values["ring-ref"])
        op = GnttabMapGrantRef(host_va(self.domid, ref), GNTMAP.host_map, ref, self.domid)
        self.k0.hypercall(self.v0, HC.grant_table_op, GNTTABOP.map_grant_ref, [op], 1)
        if op.status != GNTST.okay:
            return False
        self.ring_handle = [(op.handle, op.host_addr)]
        sring = self.io.pages.get((self.domid, op.dev_bus_addr >> 12))
        port = self.k0.bind_interdomain(self.domid, int(values["event-channel"]))
        if sring is None or port < 0:
            return False
        self.ring = BackRing(sring)
        self.port = port
        self.k0.bind(port, self._on_event, self.home)
        return True

    def disconnect(self) -> None:
        self.connected = False
        handles = self.ring_handle + [h for hs in self.mapped.values() for h in hs]
        unmap_all(self.k0, self.v0, handles)
        self.ring_handle, self.mapped, self.completed = [], {}, []
        if self.port:
            self.k0.close(self.port)
            self.port = 0

    def held_handles(self) -> int:
        return len(self.ring_handle) + sum(len(hs) for hs in self.mapped.values())

    def _on_event(self, g: GuestVcpu, port: int) -> int:
        if self.connected and not self.sched and self.ring.unconsumed_requests():
            self.sched = True
            self.svc.post(self.home, self._work)
        return 0

    def _work(self) -> tuple[int, Callable[[], None] | None]:
        if not self.connected:
            self.sched = False
            return 0, None
        ring = self.ring
        batch: list[BlkRequest] = [ring.get_request()
                                   for _ in range(ring.unconsumed_requests())]
        ops = [GnttabMapGrantRef(host_va(self.domid, ref), GNTMAP.host_map, ref, self.domid)
               for req in batch for ref in req.refs]
        _, hc_ns = self.k0.hypercall(self.v0, HC.grant_table_op, GNTTABOP.map_grant_ref,
                                     ops, len(ops))
        self.maps += len(ops)
        it = iter(ops)
        per_req = [[next(it) for _ in req.refs] for req in batch]

        def finish() -> None:
            if not self.connected:
                self.sched = False
                return
            disk = self.io.disk
            for req, mops in zip(batch, per_req, strict=True):
                ok = [(o.handle, o.host_addr) for o in mops if o.status == GNTST.okay]
                self.mapped[req.id] = ok
                if len(ok) != len(mops):  # a bad grant: fail the request
                    self._io_done(req.id, BLKIF_RSP_ERROR)
                    continue
                disk.submit(DiskRequest(self.base + req.sector, req.nbytes,
                                        lambda rid=req.id: self._io_done(rid, BLKIF_RSP_OKAY)))
            if ring.final_check_for_requests():
                self.svc.post(self.home, self._work)
            else:
                self.sched = False

        return len(batch) * self.req_cost + hc_ns, finish

    def _io_done(self, rid: int, status: int) -> None:
        """The disk's completion interrupt (or an early failure): respond from dom0."""
        if not self.connected:
            return
        self.completed.append((rid, status))
        if not self.comp_sched:
            self.comp_sched = True
            self.svc.post(self.home, self._complete)

    def _complete(self) -> tuple[int, Callable[[], None] | None]:
        self.comp_sched = False
        if not self.connected or not self.completed:
            return 0, None
        done, self.completed = self.completed, []
        handles = [h for rid, _ in done for h in self.mapped.pop(rid, [])]
        ns = unmap_all(self.k0, self.v0, handles)

        def finish() -> None:
            if not self.connected:
                return
            for rid, status in done:
                self.ring.put_response((rid, status))
            if self.ring.push_responses_and_check_notify():
                self.k0.notify(self.port, self.v0)

        return ns + len(done) * self.hc_cost + self.hc_cost, finish

"""virtio-net and virtio-blk with in-kernel kicks: the paravirtual I/O path of a KVM guest.

Mirrors: Linux drivers/virtio/virtio_ring.c (virtqueue_add, virtqueue_kick_prepare
with VIRTIO_RING_F_EVENT_IDX, virtqueue_enable_cb_delayed), drivers/net/virtio_net.c
(start_xmit, free_old_xmit_skbs, virtnet_poll, try_fill_recv),
drivers/block/virtio_blk.c (virtio_queue_rq, virtblk_done), drivers/vhost/net.c
(handle_tx, handle_rx: a host kernel thread per device) and QEMU's virtio-blk
dataplane (an iothread waiting on the queue's ioeventfd).

A virtqueue is Xen's shared ring (:mod:`xensim.domains.pvio.ring`): the avail ring
is the request side, the used ring the response side, and virtio's event
index (``avail_event``/``used_event``) is the very test of ``req_event``/
``rsp_event``: a producer notifies only when it moves past the index the
consumer asked to be woken at.  So a busy backend is not kicked and a
busy driver is not interrupted, and batches need few of either.

The differences from Xen's split drivers are all in *where things run*:

- a kick is one MMIO write that KVM answers in the kernel (an ioeventfd,
  :meth:`~xensim.hypervisor.kvm.vm.KvmVm.ioeventfd`), waking the backend:
  no hypercall, no event channel, no user space;
- the backend is a host task (kind ``dom0``: vhost-net, a kernel thread;
  kind ``qemu``: QEMU's virtio-blk iothread) that reads and writes guest
  memory directly, since the guest's RAM is mapped in QEMU's address
  space: no grants to map or copy;
- completion is an irqfd: an MSI injected into vCPU 0, taken by the
  driver's interrupt handler (a nested program), which touches no device
  register.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from xensim.domains.dom0.physdev import DiskRequest, Packet
from xensim.domains.guest.emul_drivers import mmio_write, run_deferred
from xensim.domains.guest.guest_vcpu import Action, Compute, WaitEvent
from xensim.domains.pvio.ring import BackRing, FrontRing, SharedRing, idx

if TYPE_CHECKING:
    from xensim.domains.dom0.iosys import IoSystem
    from xensim.domains.dom0.services import Dom0Services
    from xensim.domains.guest.guest_vcpu import GuestVcpu
    from xensim.domains.guest.kernel import GuestKernel
    from xensim.domains.pvio.netif import NetStack
    from xensim.hypervisor.kvm.vm import KvmVm

VIRTQ_SIZE = 256
BATCH = 64
"""Descriptors a backend takes per pass (vhost's VHOST_NET_WEIGHT is larger; a pass here
is one work item)."""
NOTIFY_BASE = 0xFE00_3000
"""virtio-pci notify area: queue *q* of device *n* kicks at ``NOTIFY_BASE + 0x1000*n + 4*q``."""
MSI_BASE = 24
"""Interrupt vector of device *n*: ``MSI_BASE + n`` (edge, one per device)."""

Program = Iterator[Action]
Finish = Callable[[], None]


class Virtqueue:
    """One queue: the shared rings, the driver's and the device's views, its doorbell."""

    def __init__(self, notify_addr: int) -> None:
        self.sring = SharedRing(VIRTQ_SIZE)
        self.driver = FrontRing(self.sring)
        self.device = BackRing(self.sring)
        self.notify_addr = notify_addr
        self.kicks = 0
        self.interrupts = 0

    def kick(self) -> Action:
        """The driver's doorbell: a write of the queue index to its notify address."""
        self.kicks += 1
        return mmio_write(self.notify_addr, 0, 2)


class VirtioDevice:
    """What a virtio device is to the host: queues, an ioeventfd each, an irqfd."""

    kind = "vif"

    def __init__(self, io: IoSystem, vm: KvmVm, index: int, nqueues: int) -> None:
        self.io = io
        self.vm = vm
        self.svc: Dom0Services = io.svc
        self.home = (vm.d.domid + index) % self.svc.nr_vcpus
        """The host vCPU the backend's task runs on."""
        self.irq = MSI_BASE + index
        self.queues = [Virtqueue(NOTIFY_BASE + 0x1000 * index + 4 * q) for q in range(nqueues)]
        self.interrupt = vm.irqfd(self.irq)
        self.connected = True

    def bind(self, q: int, on_kick: Callable[[int], None]) -> None:
        vm = self.vm
        vm.ioeventfd(self.queues[q].notify_addr, on_kick)

    def signal(self, vq: Virtqueue) -> None:
        """Publish used buffers; inject the interrupt if the driver asked for it."""
        if vq.device.push_responses_and_check_notify():
            vq.interrupts += 1
            self.interrupt()


# --- virtio-net -----------------------------------------------------------------------------
class VhostNet(VirtioDevice):
    """vhost-net: a host kernel thread moving packets between the queues and the tap."""

    def __init__(self, io: IoSystem, vm: KvmVm, index: int) -> None:
        super().__init__(io, vm, index, 2)
        self.rx, self.tx = self.queues
        self.pkt_ns = io.hyp.costs["vhost_net_packet"]
        self.rx_queue: deque[Packet] = deque()
        self.tx_sched = self.rx_sched = False
        self.dropped = 0
        self.bind(0, lambda _v: self._kick_rx())
        self.bind(1, lambda _v: self._kick_tx())
        io.bridge.ports[vm.d.domid] = self.deliver

    def _kick_tx(self) -> None:
        if not self.tx_sched:
            self.tx_sched = True
            self.svc.post(self.home, self._tx_work)

    def _kick_rx(self) -> None:
        if self.rx_queue and not self.rx_sched:
            self.rx_sched = True
            self.svc.post(self.home, self._rx_work)

    def _tx_work(self) -> tuple[int, Finish | None]:
        dev = self.tx.device
        batch = [dev.get_request() for _ in range(min(BATCH, dev.unconsumed_requests()))]

        def finish() -> None:
            for pkt in batch:
                dev.put_response(None)
                pkt.src = self.vm.d.domid
                self.io.bridge.forward(pkt)
            self.signal(self.tx)
            if dev.final_check_for_requests():
                self.svc.post(self.home, self._tx_work)
            else:
                self.tx_sched = False

        return len(batch) * self.pkt_ns, finish

    def deliver(self, pkt: Packet) -> None:
        """The bridge hands over a packet for the guest (tap -> vhost)."""
        if len(self.rx_queue) >= VIRTQ_SIZE * 2:
            self.dropped += 1
            return
        self.rx_queue.append(pkt)
        self._kick_rx()

    def _rx_work(self) -> tuple[int, Finish | None]:
        dev = self.rx.device
        n = min(BATCH, len(self.rx_queue), dev.unconsumed_requests())
        pkts = [self.rx_queue.popleft() for _ in range(n)]
        for _ in pkts:
            dev.get_request()

        def finish() -> None:
            for pkt in pkts:
                dev.put_response(pkt)
            self.signal(self.rx)
            if self.rx_queue and (n or dev.final_check_for_requests()):
                self.svc.post(self.home, self._rx_work)
            else:
                self.rx_sched = False  # the guest's refill kick wakes us

        return n * self.pkt_ns, finish


class VirtioNetDriver:
    """virtio_net in the guest: same interface as netfront for the network stack."""

    kind = "vif"
    port = None

    def __init__(self, kernel: GuestKernel, dev: VhostNet, stack: NetStack) -> None:
        self.kernel = kernel
        self.dev = dev
        self.stack = stack
        self.rx, self.tx = dev.rx.driver, dev.tx.driver
        self.connected = True
        self.kick_tx = False
        self.cost = kernel.hyp.costs["netfront_packet"]
        self.tx_packets = self.rx_packets = 0
        kernel.irq_handlers[dev.irq] = self.isr
        stack.front = self
        self._fill_rx()

    def _fill_rx(self) -> bool:
        """try_fill_recv: post empty buffers; True when the device wants a kick."""
        while not self.rx.full():
            self.rx.put_request(None)
        return self.rx.push_requests_and_check_notify()

    def _free_old_xmit(self) -> None:
        tx, s = self.tx, self.tx.sring
        while tx.unconsumed_responses():
            tx.get_response()
        if tx.full():  # netif_stop_queue + virtqueue_enable_cb_delayed: wake at 3/4 done
            s.rsp_event = idx(tx.rsp_cons + (idx(s.req_prod - tx.rsp_cons) * 3 >> 2))

    def tx_full(self) -> bool:
        self._free_old_xmit()
        return self.tx.full()

    def xmit(self, pkt: Packet) -> bool | None:
        """start_xmit from kernel context: queue it; the kick waits for the handler's end."""
        if self.tx_full():
            return None
        self.tx.put_request(pkt)
        self.tx_packets += 1
        self.kick_tx |= self.tx.push_requests_and_check_notify()
        return False

    def send(self, g: GuestVcpu, pkt: Packet) -> Program:
        yield Compute(self.cost, "kernel")
        while self.xmit(pkt) is None:
            yield WaitEvent(lambda: not self.tx_full())
        if self.kick_tx:
            self.kick_tx = False
            yield self.dev.tx.kick()

    def isr(self, g: GuestVcpu) -> Program:
        """vring_interrupt -> virtnet_poll: no register to read, only the used rings."""
        self._free_old_xmit()
        rx = self.rx
        while True:
            ns = 0
            while rx.unconsumed_responses():
                pkt = rx.get_response()
                self.rx_packets += 1
                ns += self.cost + self.stack.deliver(g, pkt)
            if ns:
                yield Compute(ns, "kernel")
                run_deferred(g)
            if not rx.final_check_for_responses():  # virtqueue_enable_cb
                break
        if self._fill_rx():
            yield self.dev.rx.kick()
        if self.kick_tx:
            self.kick_tx = False
            yield self.dev.tx.kick()


# --- virtio-blk -----------------------------------------------------------------------------
class VirtioBlkBackend(VirtioDevice):
    """QEMU's virtio-blk dataplane: an iothread (kind ``qemu``) woken by the ioeventfd."""

    kind = "vbd"

    def __init__(self, io: IoSystem, vm: KvmVm, index: int) -> None:
        super().__init__(io, vm, index, 1)
        self.vq = self.queues[0]
        self.req_ns = io.hyp.costs["virtio_blk_request"]
        self.base = vm.d.domid << 28
        self.sched = self.comp_sched = False
        self.completed: list[Any] = []
        self.bind(0, lambda _v: self._kick())

    def _kick(self) -> None:
        if not self.sched:
            self.sched = True
            self.svc.post(self.home, self._work, "qemu")

    def _work(self) -> tuple[int, Finish | None]:
        dev = self.vq.device
        batch = [dev.get_request() for _ in range(dev.unconsumed_requests())]

        def finish() -> None:
            for req in batch:
                rid, sector, nbytes = req
                self.io.disk.submit(DiskRequest(self.base + sector, nbytes,
                                                lambda rid=rid: self._io_done(rid)))
            if dev.final_check_for_requests():
                self.svc.post(self.home, self._work, "qemu")
            else:
                self.sched = False

        return len(batch) * self.req_ns, finish

    def _io_done(self, rid: int) -> None:
        """The AIO completion: the iothread puts it on the used ring."""
        self.completed.append(rid)
        if not self.comp_sched:
            self.comp_sched = True
            self.svc.post(self.home, self._complete, "qemu")

    def _complete(self) -> tuple[int, Finish | None]:
        self.comp_sched = False
        done, self.completed = self.completed, []

        def finish() -> None:
            for rid in done:
                self.vq.device.put_response(rid)
            self.signal(self.vq)

        return 0, finish


class VirtioBlkDriver:
    """virtio_blk in the guest: same interface as blkfront for the workloads."""

    kind = "vbd"

    def __init__(self, kernel: GuestKernel, dev: VirtioBlkBackend) -> None:
        self.kernel = kernel
        self.dev = dev
        self.ring = dev.vq.driver
        self.connected = True
        self.next_id = 0
        self.inflight: dict[int, tuple[int, Callable[[int, int], None]]] = {}
        self.cost = kernel.hyp.costs["blkfront_request"]
        kernel.irq_handlers[dev.irq] = self.isr

    def can_submit(self) -> bool:
        return not self.ring.full()

    def request(self, g: GuestVcpu, sector: int, nbytes: int,
                done: Callable[[int, int], None]) -> Iterator[Action]:
        """virtio_queue_rq; returns False (issuing nothing) while the queue is full."""
        if self.ring.full():
            return False
        yield Compute(self.cost, "kernel")
        rid = self.next_id
        self.next_id += 1
        self.inflight[rid] = (g.now, done)
        self.ring.put_request((rid, sector, nbytes))
        if self.ring.push_requests_and_check_notify():
            yield self.dev.vq.kick()
        return True

    def isr(self, g: GuestVcpu) -> Program:
        """virtblk_done: complete every used request, then re-enable the callback."""
        ring = self.ring
        while True:
            finished = []
            while ring.unconsumed_responses():
                finished.append(self.inflight.pop(ring.get_response()))
            if finished:
                yield Compute(len(finished) * self.cost, "kernel")
                for t0, done in finished:
                    done(0, g.now - t0)
            if not ring.final_check_for_responses():
                break

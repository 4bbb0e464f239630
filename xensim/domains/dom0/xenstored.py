"""xenstored as a dom0 task, and the xenbus clients that talk to it.

Mirrors: tools/xenstored (domain.c: one connection per guest over the
xenstore ring page and an interdomain event channel; core.c: read a
request, process it, write the reply, notify), Linux drivers/xen/xenbus
(xenbus_xs.c: request ids, replies matched to waiters, watch events
dispatched by token; xenwatch runs the callbacks).

The database is the merged pure :class:`~xensim.domains.dom0.xenstore.XenStore`;
this module only adds *where and when* it runs: each request is a work item
on dom0 vCPU :data:`XENSTORED_VCPU` costing ``xenstored_request``, so a
starved dom0 also stalls xenstore (and with it device setup).  A guest's
connection is two message queues standing for the ring page plus its event
channel; xenstored always notifies after writing replies (the xenstore ring
protocol has no notification avoidance).  dom0's own clients (backends,
xenwatch) reach xenstored locally, like a unix socket: a work item, no port.
Departure: the toolstack's own requests (libxl's writes at domain creation,
device hot-plug and destruction, and the watches it waits on) are applied
directly (the toolstack's time is not simulated); its watch callbacks run
just after the change that fired them, never inside it.

:func:`xs_run` drives a small generator "script" of requests, each
receiving the ``(type, payload)`` reply, so multi-step protocols such as a
transaction retried on ``EAGAIN`` read top to bottom.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from xensim.domains.dom0.xenstore import XenStore, XsType, do_xs_request, introduce_domain
from xensim.domains.dom0.xenstore import release_domain as xs_release

if TYPE_CHECKING:
    from xensim.domains.dom0.services import Dom0Services
    from xensim.domains.guest.guest_vcpu import GuestVcpu
    from xensim.domains.guest.kernel import GuestKernel
    from xensim.hypervisor.domain import Domain

XENSTORED_VCPU = 0
Reply = tuple[XsType, Any]
ReplyFn = Callable[[Reply], None]
WatchFn = Callable[[str], None]
Request = tuple[Any, ...]
Script = Generator[Request, Reply, None]


class XsClient(Protocol):
    def request(self, t: XsType, args: list[str], tx: int, cb: ReplyFn) -> None: ...
    def watch(self, path: str, token: str, cb: WatchFn) -> None: ...


def xs_run(client: XsClient, script: Script, done: Callable[[], None] | None = None) -> None:
    """Run *script*: each yielded ``(type, args[, tx])`` is sent, its reply sent back in."""

    def step(reply: Reply | None) -> None:
        try:
            req = script.send(reply)  # type: ignore[arg-type]
        except StopIteration:
            if done is not None:
                done()
            return
        client.request(req[0], list(req[1]), req[2] if len(req) > 2 else 0, step)

    step(None)


@dataclass
class XsConn:
    """One guest's connection: the ring page's two directions and both ports."""

    domid: int
    guest_port: int
    dom0_port: int
    req: deque[tuple[int, int, int, list[str]]] = field(default_factory=deque)
    rsp: deque[tuple[XsType, int, Any]] = field(default_factory=deque)
    queued: bool = False


class Xenstored:
    """The xenstored process in dom0."""

    def __init__(self, svc: Dom0Services, kernel0: GuestKernel) -> None:
        self.svc = svc
        self.kernel0 = kernel0
        self.hyp = svc.hyp
        self.store = XenStore(deliver=self._deliver)
        self.conns: dict[int, XsConn] = {}
        self.by_port: dict[int, XsConn] = {}
        self.dom0_watches: dict[str, WatchFn] = {}
        self.toolstack_watches: dict[str, WatchFn] = {}
        """libxl's own watches (dom0 user space, not simulated): token -> callback."""
        self.dirty: dict[int, None] = {}
        self.cost = self.hyp.costs["xenstored_request"]
        self.irq_cost = self.hyp.costs["evtchn_irq"]
        self.requests = 0

    # --- toolstack side -----------------------------------------------------------
    def introduce(self, d: Domain) -> XsConn | None:
        """libxl: make the home path, allocate the store port, XS_INTRODUCE."""
        introduce_domain(self.store, 0, d.domid, d.name)
        if d.domid == 0:
            return None
        from xensim.hypervisor.evtchn import event_channel as ev

        k0 = self.kernel0
        op = ev.EvtchnAllocUnbound(d.domid, 0)  # in the guest's table, for dom0
        if k0.evtchn_op(ev.EVTCHNOP.alloc_unbound, op) != 0:
            return None
        port0 = k0.bind_interdomain(d.domid, op.port)
        conn = XsConn(d.domid, op.port, port0)
        k0.bind(port0, self._on_port, XENSTORED_VCPU)
        self.conns[d.domid] = conn
        self.by_port[port0] = conn
        return conn

    def release(self, domid: int) -> None:
        conn = self.conns.pop(domid, None)
        if conn is not None:
            self.by_port.pop(conn.dom0_port, None)
            self.kernel0.close(conn.dom0_port)
        if domid in self.store.introduced:
            xs_release(self.store, 0, domid)
        self.flush()

    # --- dom0's local clients -----------------------------------------------------
    def request0(self, t: XsType, args: list[str], tx: int, cb: ReplyFn) -> None:
        def start() -> tuple[int, Callable[[], None]]:
            def finish() -> None:
                self.requests += 1
                reply = do_xs_request(self.store, 0, t, tx, args)
                self.flush()
                cb(reply)
            return self.cost, finish
        self.svc.post(XENSTORED_VCPU, start)

    # --- the toolstack's watches ------------------------------------------------------
    def watch_toolstack(self, path: str, token: str, cb: WatchFn) -> None:
        """libxl__ev_xswatch_register: fires once now, then on each change at or below."""
        self.toolstack_watches[token] = cb
        self.store.watch(0, path, token)

    def unwatch_toolstack(self, path: str, token: str) -> None:
        self.toolstack_watches.pop(token, None)
        w = self.store.watches.find(0, path, token)
        if w is not None:
            self.store.watches.remove(w)

    def _deliver(self, domid: int, path: str, token: str) -> None:
        if domid == 0 and token in self.toolstack_watches:
            cb = self.toolstack_watches[token]
            ev = self.hyp.env.timeout(0)  # after the change that fired it, not inside it
            ev.callbacks.append(lambda _e: cb(path) if token in self.toolstack_watches  # type: ignore[union-attr]
                                else None)
            return
        if domid == 0:
            cb = self.dom0_watches.get(token)
            if cb is not None:  # xenwatch runs the callback, as dom0 kernel work
                self.svc.post(XENSTORED_VCPU, lambda: (self.irq_cost, lambda: cb(path)))
            return
        conn = self.conns.get(domid)
        if conn is not None:
            conn.rsp.append((XsType.WATCH_EVENT, 0, [path, token]))
            self.dirty[domid] = None

    def flush(self) -> None:
        """Notify every guest connection that has new replies or events."""
        for domid in list(self.dirty):
            conn = self.conns.get(domid)
            if conn is not None:
                self.kernel0.notify(conn.dom0_port, self.svc.dom0.vcpus[XENSTORED_VCPU])
        self.dirty.clear()

    # --- guest connections --------------------------------------------------------
    def _on_port(self, g: GuestVcpu, port: int) -> int:
        conn = self.by_port.get(port)
        if conn is not None and conn.req and not conn.queued:
            conn.queued = True
            self.svc.post(XENSTORED_VCPU, lambda: self._serve(conn))
        return 0

    def _serve(self, conn: XsConn) -> tuple[int, Callable[[], None] | None]:
        batch = [conn.req.popleft() for _ in range(min(16, len(conn.req)))]
        conn.queued = False

        def finish() -> None:
            if conn.domid not in self.conns:
                return
            for rid, t, tx, args in batch:
                self.requests += 1
                typ, payload = do_xs_request(self.store, conn.domid, t, tx, args)
                conn.rsp.append((typ, rid, payload))
            self.dirty[conn.domid] = None
            self.flush()
            if conn.req and not conn.queued:
                conn.queued = True
                self.svc.post(XENSTORED_VCPU, lambda: self._serve(conn))

        return len(batch) * self.cost + self.kernel0.hc_cost, finish


class Dom0XsClient:
    """dom0 kernel's xenbus client (backends, xenwatch): local to xenstored."""

    def __init__(self, xsd: Xenstored) -> None:
        self.xsd = xsd

    def request(self, t: XsType, args: list[str], tx: int, cb: ReplyFn) -> None:
        self.xsd.request0(t, args, tx, cb)

    def watch(self, path: str, token: str, cb: WatchFn) -> None:
        self.xsd.dom0_watches[token] = cb
        self.xsd.request0(XsType.WATCH, [path, token], 0, _ignore)

    def unwatch_now(self, path: str, token: str) -> None:
        """Teardown: drop the watch at once (the device is being destroyed)."""
        self.xsd.dom0_watches.pop(token, None)
        w = self.xsd.store.watches.find(0, path, token)
        if w is not None:
            self.xsd.store.watches.remove(w)


class XenbusClient:
    """A guest kernel's xenbus: requests over its connection, replies and watch events
    dispatched from the store port's upcall."""

    def __init__(self, kernel: GuestKernel, conn: XsConn) -> None:
        self.kernel = kernel
        self.conn = conn
        self.next_id = 1
        self.pending: dict[int, ReplyFn] = {}
        self.watches: dict[str, WatchFn] = {}
        kernel.bind(conn.guest_port, self._on_port)

    def request(self, t: XsType, args: list[str], tx: int, cb: ReplyFn) -> None:
        rid = self.next_id
        self.next_id += 1
        self.pending[rid] = cb
        self.conn.req.append((rid, int(t), tx, args))
        self.kernel.notify(self.conn.guest_port)

    def watch(self, path: str, token: str, cb: WatchFn) -> None:
        self.watches[token] = cb
        self.request(XsType.WATCH, [path, token], 0, _ignore)

    def unwatch(self, path: str, token: str) -> None:
        """XS_UNWATCH; events already queued for *token* are dropped on arrival."""
        self.watches.pop(token, None)
        self.request(XsType.UNWATCH, [path, token], 0, _ignore)

    def _on_port(self, g: GuestVcpu, port: int) -> int:
        rsp = self.conn.rsp
        n = len(rsp)
        while rsp:
            typ, rid, payload = rsp.popleft()
            if typ == XsType.WATCH_EVENT:
                cb = self.watches.get(payload[1])
                if cb is not None:
                    g.after_upcall.append(lambda cb=cb, p=payload[0]: cb(p))
            else:
                rcb = self.pending.pop(rid, None)
                if rcb is not None:
                    g.after_upcall.append(lambda rcb=rcb, r=(typ, payload): rcb(r))
        return n * self.kernel.irq_cost


def _ignore(reply: Reply) -> None:
    pass

"""Split-driver negotiation through xenstore: XenbusState on both ends, from probe to removal.

Mirrors: Linux drivers/xen/xenbus/xenbus_probe_backend.c and
xenbus_probe_frontend.c (a backend driver watches
``/local/domain/0/backend/<kind>``, a frontend its device's ``backend``
path), xenbus_client.c (xenbus_switch_state, xenbus_grant_ring,
xenbus_alloc_evtchn, xenbus_frontend_closed), blkback's and netback's
``frontend_changed`` and include/xen/interface/io/xenbus.h.

Connecting, as blkfront/blkback do it: the toolstack writes both
directories with state Initialising (1); the backend probes and moves to
InitWait (2); the frontend sees that, sets up its rings (grants, an unbound
port) and writes ``*-ring-ref``, ``event-channel`` and Initialised (3) in
one transaction, retried on EAGAIN; the backend maps the rings, binds the
port and goes Connected (4); the frontend follows to Connected.

Hot-unplug (libxl__initiate_device_generic_remove): the toolstack writes
``online = 0`` and backend state Closing (5).  The frontend stops issuing
requests and goes Closing, then Closed (6) once its requests in flight have
been answered (the backend still serves them).  The backend, seeing the
frontend Closed, unmaps its rings and unbinds its port, goes Closed and,
since it is no longer online, unregisters (Linux's device_unregister).  The
toolstack, seeing the backend Closed, removes both directories; the guest's
xenbus notices its device node gone and the frontend releases everything
(ends its grants, closes its port), which is safe because the backend has
unmapped by then.  A frontend that vanishes without closing (forced
removal) looks to the backend like state Unknown (0): it closes all the
same.  Both ends check that their device still exists before writing
state, as xenbus_switch_state does, so a late write never resurrects a
removed directory.

Subclasses supply the ring keys, ``setup`` / ``teardown`` / ``idle``
(frontend) and ``connect`` / ``disconnect`` / ``held_handles`` (backend).
"""

from __future__ import annotations

from enum import IntEnum
from typing import TYPE_CHECKING

from xensim.domains.dom0.xenstore import XsType
from xensim.domains.dom0.xenstored import Script, xs_run

if TYPE_CHECKING:
    from xensim.domains.dom0.iosys import IoSystem
    from xensim.domains.dom0.xenstored import Dom0XsClient, XenbusClient
    from xensim.domains.guest.kernel import GuestKernel


class XenbusState(IntEnum):
    Unknown = 0
    Initialising = 1
    InitWait = 2
    Initialised = 3
    Connected = 4
    Closing = 5
    Closed = 6
    Reconfiguring = 7
    Reconfigured = 8


def backend_path(kind: str, domid: int, devid: int) -> str:
    return f"/local/domain/0/backend/{kind}/{domid}/{devid}"


def frontend_path(kind: str, domid: int, devid: int) -> str:
    return f"/local/domain/{domid}/device/{kind}/{devid}"


def _state(typ: XsType, val: str) -> XenbusState:
    """A state node's value; a missing or garbled node reads as Unknown."""
    if typ == XsType.ERROR or not val.isdigit() or int(val) > XenbusState.Reconfigured:
        return XenbusState.Unknown
    return XenbusState(int(val))


class BackendDevice:
    """The dom0 end of one device."""

    ring_keys: tuple[str, ...] = ()

    def __init__(self, io: IoSystem, xs: Dom0XsClient, kind: str, domid: int,
                 devid: int) -> None:
        self.io = io
        self.xs = xs
        self.kind = kind
        self.domid = domid
        self.devid = devid
        self.be = backend_path(kind, domid, devid)
        self.fe = frontend_path(kind, domid, devid)
        self.state = XenbusState.Initialising
        self.connected = False
        self.dead = False
        """Unregistered: every script still in flight stops at its next step."""
        self.token = f"be:{kind}:{domid}:{devid}"

    @property
    def key(self) -> tuple[str, int, int]:
        return (self.kind, self.domid, self.devid)

    def probe(self) -> None:
        """xenbus_probe_node: bind the driver if the device's directory still exists."""
        xs_run(self.xs, self._probe())

    def _probe(self) -> Script:
        typ, fe = yield (XsType.READ, [self.be + "/frontend"])
        if typ == XsType.ERROR or self.dead:
            self.io.be_bus.missing(self)
            return
        self.fe = fe
        self.io.be_bus.found(self)
        yield from self._switch(XenbusState.InitWait)
        self.xs.watch(self.fe + "/state", self.token, lambda p: xs_run(self.xs, self._changed()))

    def _switch(self, state: XenbusState) -> Script:
        """xenbus_switch_state: write our state, unless the device has gone meanwhile."""
        typ, _ = yield (XsType.READ, [self.be + "/state"])
        if typ == XsType.ERROR or self.dead:
            return
        self.state = state
        yield (XsType.WRITE, [self.be + "/state", str(int(state))])

    def _changed(self) -> Script:
        typ, val = yield (XsType.READ, [self.fe + "/state"])
        if self.dead:
            return
        st = _state(typ, val)
        if st == XenbusState.Initialised and not self.connected:
            values: dict[str, str] = {}
            for key in self.ring_keys:
                typ, v = yield (XsType.READ, [f"{self.fe}/{key}"])
                if typ == XsType.ERROR:
                    return
                values[key] = v
            if self.dead or not self.connect(values):
                return
            self.connected = True
            yield from self._switch(XenbusState.Connected)
        elif st in (XenbusState.Closed, XenbusState.Unknown) and \
                self.state != XenbusState.Closed:
            # The frontend is done with the device, or vanished (forced removal).
            if self.connected:
                self.connected = False
                self.disconnect()
            yield from self._switch(XenbusState.Closed)
            typ, online = yield (XsType.READ, [self.be + "/online"])
            if not self.dead and (typ == XsType.ERROR or online != "1"):
                self.unregister()

    def unregister(self) -> None:
        """device_unregister: let go of the guest's pages and port, stop watching, and
        forget the device (synchronous: dom0's own xenstore client is local)."""
        if self.dead:
            return
        self.dead = True
        if self.connected:
            self.connected = False
            self.disconnect()
        self.xs.unwatch_now(self.fe + "/state", self.token)
        self.io.be_bus.forget(self)

    def connect(self, values: dict[str, str]) -> bool:
        raise NotImplementedError

    def disconnect(self) -> None:
        raise NotImplementedError

    def held_handles(self) -> int:
        """Grant mappings of the guest's pages this backend holds right now."""
        raise NotImplementedError


class FrontendDevice:
    """The guest end of one device."""

    def __init__(self, io: IoSystem, kernel: GuestKernel, xs: XenbusClient, kind: str,
                 devid: int, *, hotplugged: bool = False) -> None:
        self.io = io
        self.kernel = kernel
        self.xs = xs
        self.kind = kind
        self.devid = devid
        self.fe = frontend_path(kind, kernel.d.domid, devid)
        self.be = ""
        self.state = XenbusState.Initialising
        self.connected = False
        """Accepting new requests (Connected and not closing)."""
        self.released = False
        self.hotplugged = hotplugged
        """Appeared after boot: the kernel logs it on the console when it connects."""
        self.port = 0
        self.refs: set[int] = set()
        """Grant refs this device holds (rings, buffers, requests in flight)."""
        self.frames: list[int] = []
        """Its pages shared with the backend (in ``io.pages``)."""
        self.tx_retries = 0
        self.token = f"fe:{kind}:{devid}"

    # --- grants and shared pages ----------------------------------------------------------
    def grant(self, frame: int, readonly: bool = False) -> int:
        ref = self.kernel.grant(0, frame, readonly)
        if ref >= 0:
            self.refs.add(ref)
        return ref

    def end_grant(self, ref: int) -> None:
        if self.kernel.end_grant(ref):
            self.refs.discard(ref)

    def share_page(self, obj: object) -> int:
        """A new page holding *obj* (a shared ring), granted to the backend: its ref."""
        k = self.kernel
        frame = k.alloc_frame()
        self.io.pages[(k.d.domid, frame)] = obj
        self.frames.append(frame)
        return self.grant(frame)

    # --- the state machine ------------------------------------------------------------------
    def start(self, backend: str | None = None) -> None:
        """Begin watching the backend (its path is read unless the bus already did)."""
        xs_run(self.xs, self._start(backend))

    def _start(self, backend: str | None) -> Script:
        if backend is None:
            typ, backend = yield (XsType.READ, [self.fe + "/backend"])
            if typ == XsType.ERROR:
                return
        if self.released:
            return
        self.be = backend
        self.xs.watch(backend + "/state", self.token, lambda p: xs_run(self.xs, self._changed()))

    def _switch(self, state: XenbusState) -> Script:
        self.state = state
        typ, _ = yield (XsType.READ, [self.fe + "/state"])
        if typ != XsType.ERROR and not self.released:
            yield (XsType.WRITE, [self.fe + "/state", str(int(state))])

    def _changed(self) -> Script:
        typ, val = yield (XsType.READ, [self.be + "/state"])
        if typ == XsType.ERROR or self.released:
            return
        st = _state(typ, val)
        if st == XenbusState.InitWait and self.state == XenbusState.Initialising:
            self.state = XenbusState.Initialised
            values = self.setup()
            while True:  # one transaction, retried on EAGAIN (xenbus_transaction_end)
                typ, tx = yield (XsType.TRANSACTION_START, [])
                t = int(tx)
                for key, v in values.items():
                    yield (XsType.WRITE, [f"{self.fe}/{key}", v], t)
                yield (XsType.WRITE, [self.fe + "/state", str(int(XenbusState.Initialised))], t)
                typ, r = yield (XsType.TRANSACTION_END, ["T"], t)
                if typ == XsType.ERROR and r == "EAGAIN":
                    self.tx_retries += 1
                    continue
                break
        elif st == XenbusState.Connected and self.state == XenbusState.Initialised:
            yield from self._switch(XenbusState.Connected)
            self.connected = True
            if self.hotplugged:
                self.on_connect()
        elif st in (XenbusState.Closing, XenbusState.Closed) and \
                self.state not in (XenbusState.Closing, XenbusState.Closed):
            self.connected = False  # no new requests from here on
            if st == XenbusState.Closing and not self.idle():
                yield from self._switch(XenbusState.Closing)  # the rest as they drain
            else:
                yield from self._switch(XenbusState.Closed)

    def drained(self) -> None:
        """Called as requests complete: a closing device goes Closed once idle."""
        if self.state == XenbusState.Closing and self.idle():
            xs_run(self.xs, self._switch(XenbusState.Closed))

    def release(self) -> None:
        """The device node is gone (xenbus remove): end every grant, close the port,
        free the shared pages and stop watching the backend."""
        if self.released:
            return
        self.released = True
        self.connected = False
        self.teardown()
        k = self.kernel
        for ref in sorted(self.refs):
            k.end_grant_deferred(ref)
        self.refs.clear()
        if self.port:
            k.close(self.port)
            self.port = 0
        for frame in self.frames:
            self.io.pages.pop((k.d.domid, frame), None)
        self.frames.clear()
        if self.be:
            self.xs.unwatch(self.be + "/state", self.token)

    # --- what each driver supplies ------------------------------------------------------------
    def setup(self) -> dict[str, str]:
        raise NotImplementedError

    def idle(self) -> bool:
        """No request in flight (nothing for the backend still to answer)."""
        return True

    def teardown(self) -> None:
        """Finish or fail what is in flight, before the grants and port go."""

    def on_connect(self) -> None:
        """A hot-plugged device is up (the driver may log it)."""

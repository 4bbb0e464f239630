"""Split-driver negotiation through xenstore: XenbusState on both ends.

Mirrors: Linux drivers/xen/xenbus/xenbus_probe_backend.c and
xenbus_probe_frontend.c (a backend driver watches
``/local/domain/0/backend/<kind>``, a frontend its device's ``backend``
path), xenbus_client.c (xenbus_switch_state, xenbus_grant_ring,
xenbus_alloc_evtchn) and include/xen/interface/io/xenbus.h.

The handshake, as blkfront/blkback do it: the toolstack writes both
directories with state Initialising (1); the backend probes and moves to
InitWait (2); the frontend sees that, sets up its rings (grants, an unbound
port) and writes ``*-ring-ref``, ``event-channel`` and Initialised (3) in
one transaction, retried on EAGAIN; the backend maps the rings, binds the
port and goes Connected (4); the frontend follows to Connected.  On
destruction the backend goes Closing (5) and Closed (6).  Subclasses supply
the ring keys, ``setup`` (frontend) and ``connect``/``disconnect`` (backend).
"""

from __future__ import annotations

from enum import IntEnum
from typing import TYPE_CHECKING

from xensim.domains.xenstore import XsType
from xensim.domains.xenstored import Script, xs_run

if TYPE_CHECKING:
    from xensim.domains.xenstored import Dom0XsClient, XenbusClient


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


class BackendDevice:
    """The dom0 end of one device."""

    ring_keys: tuple[str, ...] = ()

    def __init__(self, xs: Dom0XsClient, kind: str, domid: int, devid: int) -> None:
        self.xs = xs
        self.kind = kind
        self.domid = domid
        self.devid = devid
        self.be = backend_path(kind, domid, devid)
        self.fe = frontend_path(kind, domid, devid)
        self.state = XenbusState.Initialising
        self.connected = False
        self.dead = False
        self.token = f"be:{kind}:{domid}:{devid}"

    def probe(self) -> None:
        xs_run(self.xs, self._probe())

    def _probe(self) -> Script:
        typ, fe = yield (XsType.READ, [self.be + "/frontend"])
        if typ == XsType.ERROR or self.dead:
            return
        self.fe = fe
        yield (XsType.WRITE, [self.be + "/state", str(int(XenbusState.InitWait))])
        self.state = XenbusState.InitWait
        self.xs.watch(self.fe + "/state", self.token, lambda p: xs_run(self.xs, self._changed()))

    def _changed(self) -> Script:
        typ, val = yield (XsType.READ, [self.fe + "/state"])
        if typ == XsType.ERROR or self.dead:
            return
        st = int(val)
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
            yield (XsType.WRITE, [self.be + "/state", str(int(XenbusState.Connected))])
            self.state = XenbusState.Connected
        elif st in (XenbusState.Closing, XenbusState.Closed) and self.connected:
            self.disconnect()
            yield (XsType.WRITE, [self.be + "/state", str(int(XenbusState.Closed))])
            self.state = XenbusState.Closed

    def destroy(self) -> None:
        """Toolstack-driven teardown of a dying frontend domain (synchronous)."""
        self.dead = True
        if self.connected:
            self.disconnect()
        self.connected = False
        self.xs.unwatch_now(self.fe + "/state", self.token)

    def connect(self, values: dict[str, str]) -> bool:
        raise NotImplementedError

    def disconnect(self) -> None:
        raise NotImplementedError


class FrontendDevice:
    """The guest end of one device."""

    def __init__(self, xs: XenbusClient, kind: str, domid: int, devid: int) -> None:
        self.xs = xs
        self.kind = kind
        self.devid = devid
        self.fe = frontend_path(kind, domid, devid)
        self.be = ""
        self.state = XenbusState.Initialising
        self.connected = False
        self.tx_retries = 0

    def start(self) -> None:
        xs_run(self.xs, self._start())

    def _start(self) -> Script:
        typ, be = yield (XsType.READ, [self.fe + "/backend"])
        if typ == XsType.ERROR:
            return
        self.be = be
        self.xs.watch(be + "/state", f"fe:{self.kind}:{self.devid}",
                      lambda p: xs_run(self.xs, self._changed()))

    def _changed(self) -> Script:
        typ, val = yield (XsType.READ, [self.be + "/state"])
        if typ == XsType.ERROR:
            return
        st = int(val)
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
            yield (XsType.WRITE, [self.fe + "/state", str(int(XenbusState.Connected))])
            self.state = XenbusState.Connected
            self.connected = True

    def setup(self) -> dict[str, str]:
        raise NotImplementedError

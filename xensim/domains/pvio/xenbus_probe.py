"""xenbus's two device buses: dom0's backend bus and each guest's frontend bus.

Mirrors: Linux drivers/xen/xenbus/xenbus_probe.c (``xenbus_dev_changed``: a
watch event under the bus's root names a device; a device the bus does not
know is probed if its node exists, a known device whose node has gone is
unregistered), xenbus_probe_backend.c (dom0 watches
``backend/<kind>``; its first firing enumerates what already exists) and
xenbus_probe_frontend.c (a guest watches its own ``device`` directory).

This is what makes hot-plug work: ``xl network-attach`` only writes two
directories in xenstore; the backend bus in dom0 and the guest's frontend bus
notice them and bind the drivers, which then negotiate.  ``xl
network-detach`` ends with both directories removed, and each bus lets its
end of the device go.  Events for nodes below a device the bus already knows
(the drivers' own state writes) need no request at all; only the device's
own node, or a new device, is looked up.

A guest's devices present at creation are found by its kernel's boot-time
enumeration, which reads xenstore directly, and its watch is set the same
way (the boot is not simulated).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from xensim.domains.dom0.xenstore import XsError, XsType
from xensim.domains.dom0.xenstored import Script, xs_run
from xensim.domains.pvio.xenbus import XenbusState, frontend_path

if TYPE_CHECKING:
    from xensim.domains.dom0.iosys import IoSystem
    from xensim.domains.dom0.xenstored import Dom0XsClient, XenbusClient
    from xensim.domains.guest.kernel import GuestKernel
    from xensim.domains.pvio.xenbus import BackendDevice, FrontendDevice

BackendKey = tuple[str, int, int]
KINDS = ("vif", "vbd")


class BackendBus:
    """dom0's backend drivers: one watch per kind, devices by (kind, domid, devid)."""

    def __init__(self, io: IoSystem, xs: Dom0XsClient,
                 make: Callable[[str, int, int], BackendDevice]) -> None:
        self.io = io
        self.xs = xs
        self.make = make
        self.devices: dict[BackendKey, BackendDevice] = {}
        self.probing: dict[BackendKey, BackendDevice] = {}

    def watch(self) -> None:
        for kind in KINDS:
            self.xs.watch(f"/local/domain/0/backend/{kind}", f"backend:{kind}",
                          lambda path, kind=kind: self.changed(kind, path))

    def changed(self, kind: str, path: str) -> None:
        parts = path.split("/")
        if len(parts) == 6:  # the watch's first firing: enumerate what exists already
            xs_run(self.xs, self._enumerate(kind, path))
            return
        if len(parts) < 8 or not parts[6].isdigit() or not parts[7].isdigit():
            return
        key = (kind, int(parts[6]), int(parts[7]))
        dev = self.devices.get(key)
        if dev is not None:
            if len(parts) == 8:  # the device's own node: created, or removed
                xs_run(self.xs, self._check_gone(dev))
            return
        d = self.io.hyp.domains.get(key[1])
        if key in self.probing or d is None or d.is_dying:
            return
        dev = self.probing[key] = self.make(*key)
        dev.probe()

    def _enumerate(self, kind: str, top: str) -> Script:
        """xenbus_probe_devices: list backend/<kind>/<domid>/<devid> and probe each."""
        typ, doms = yield (XsType.DIRECTORY, [top])
        if typ == XsType.ERROR:
            return
        for domid in doms:
            typ, devs = yield (XsType.DIRECTORY, [f"{top}/{domid}"])
            if typ != XsType.ERROR:
                for devid in devs:
                    self.changed(kind, f"{top}/{domid}/{devid}")

    def _check_gone(self, dev: BackendDevice) -> Script:
        typ, _ = yield (XsType.READ, [dev.be])
        if typ == XsType.ERROR:
            dev.unregister()

    # --- called by the devices --------------------------------------------------------------
    def found(self, dev: BackendDevice) -> None:
        self.probing.pop(dev.key, None)
        self.devices[dev.key] = dev

    def missing(self, dev: BackendDevice) -> None:
        if self.probing.get(dev.key) is dev:
            del self.probing[dev.key]

    def forget(self, dev: BackendDevice) -> None:
        self.missing(dev)
        if self.devices.get(dev.key) is dev:
            del self.devices[dev.key]


class FrontendBus:
    """One guest kernel's frontends, by (kind, devid); :meth:`changed` is the callback
    of its watch on ``device`` (set at boot)."""

    WATCH = ("device", "fe-bus")

    def __init__(self, io: IoSystem, kernel: GuestKernel, xs: XenbusClient) -> None:
        self.io = io
        self.kernel = kernel
        self.xs = xs
        self.fronts: dict[tuple[str, int], FrontendDevice] = {}
        self.probing: set[tuple[str, int]] = set()

    def boot(self) -> list[FrontendDevice]:
        """The kernel's boot-time enumeration of ``device/<kind>/*`` (read directly)."""
        st, domid = self.io.xsd.store, self.kernel.d.domid
        found = []
        for kind in KINDS:
            try:
                devids = st.directory(0, f"/local/domain/{domid}/device/{kind}")
            except XsError:
                continue
            for devid in sorted((int(x) for x in devids if x.isdigit())):
                found.append(self._add(kind, devid, hotplugged=False))
        return found

    def changed(self, path: str) -> None:
        parts = path.split("/")
        if len(parts) < 3 or parts[0] != "device" or parts[1] not in KINDS or \
                not parts[2].isdigit():
            return  # the watch's first firing, or not a device
        key = (parts[1], int(parts[2]))
        front = self.fronts.get(key)
        if front is not None:
            if len(parts) == 3 or front.state == XenbusState.Closed:
                xs_run(self.xs, self._check(front))
            return
        if key not in self.probing and not self.kernel.d.is_dying:
            self.probing.add(key)
            xs_run(self.xs, self._probe(*key))

    def _probe(self, kind: str, devid: int) -> Script:
        typ, backend = yield (XsType.READ, [frontend_path(kind, self.kernel.d.domid, devid)
                                            + "/backend"])
        self.probing.discard((kind, devid))
        if typ == XsType.ERROR or (kind, devid) in self.fronts:
            return
        self._add(kind, devid, hotplugged=True).start(backend)

    def _check(self, front: FrontendDevice) -> Script:
        """Is the device still there?  Gone: release it.  Back in Initialising after
        we left it: a new device with the same id replaced ours, so release the old
        one and probe the new."""
        typ, val = yield (XsType.READ, [front.fe + "/state"])
        key = (front.kind, front.devid)
        if self.fronts.get(key) is not front:
            return
        replaced = typ != XsType.ERROR and val == str(int(XenbusState.Initialising)) and \
            front.state != XenbusState.Initialising
        if typ == XsType.ERROR or replaced:
            self._remove(front)
        if replaced:
            self.changed(f"device/{front.kind}/{front.devid}")

    def _add(self, kind: str, devid: int, *, hotplugged: bool) -> FrontendDevice:
        front = self.io.make_front(self.kernel, self.xs, kind, devid, hotplugged=hotplugged)
        self.fronts[(kind, devid)] = front
        self.kernel.fronts.append(front)
        return front

    def _remove(self, front: FrontendDevice) -> None:
        del self.fronts[(front.kind, front.devid)]
        self.kernel.fronts.remove(front)
        front.release()

"""libxl's device layer: what a vif's and a vbd's directories hold, device ids, and the
asynchronous add and remove that ``xl network-attach`` and friends wait on.

Mirrors: tools/libs/light/libxl_device.c (libxl__device_add_async,
libxl__wait_device_connection, libxl__initiate_device_generic_remove,
device_backend_callback, device_hotplug_done, libxl__device_destroy,
libxl__device_disk_dev_number, libxl__device_nextid), libxl_nic.c and
libxl_disk.c (the xenstore entries of each kind), and
tools/hotplug/Linux/vif-bridge and vif-openvswitch (each fails when its
bridge does not exist or is of the other kind; the line xl prints is the
script's ``hotplug-error``).

Add: both directories are written in one transaction (state Initialising);
libxl then waits, up to LIBXL_INIT_TIMEOUT, for the backend to reach
InitWait, and runs the hotplug script.  The guest's own negotiation to
Connected happens afterwards; as in Xen, xl does not wait for it.

Remove: libxl writes ``online = 0`` and backend state Closing and waits, up
to LIBXL_DESTROY_TIMEOUT, for the backend to reach Closed (which it does
once the frontend has closed, see :mod:`xensim.domains.pvio.xenbus`); then both
directories go.  The *force* mode says what a timeout does: OFF
(``block-detach``'s safe remove) fails and leaves the device; AUTO
(``network-detach``) retries forced; ON (``block-detach -f``) removes the
frontend's directory first, so the backend closes without the guest.

libxl waits with a xenstore watch on the backend's state and a timer, both
in simulated time.  Departures: no ``/libxl/<domid>/device`` copy (the
frontend directories are the list of devices); a generated MAC is random
from the toolstack's seeded generator (see :func:`random_mac`), so a seeded
run repeats; a failed hotplug script removes the half-added device (libxl
leaves it).
"""

from __future__ import annotations

import itertools
import random
import re
from dataclasses import replace
from enum import Enum
from typing import TYPE_CHECKING

from xensim.domains.dom0.iosys import DeviceNodes, path_cleanup
from xensim.domains.dom0.xenstore import XsError
from xensim.domains.guest.io_workloads import DEVICE_NEEDS
from xensim.domains.pvio.xenbus import XenbusState, backend_path, frontend_path
from xensim.hypervisor.time import SECONDS
from xensim.toolstack.cnum import ascii_uint, strtoul
from xensim.toolstack.diskspec import DiskSpec
from xensim.toolstack.libxl_error import (
    ERROR_DEVICE_EXISTS,
    ERROR_DOMAIN_DESTROYED,
    ERROR_FAIL,
    ERROR_TIMEDOUT,
    log_error,
)
from xensim.toolstack.vifspec import VifSpec

if TYPE_CHECKING:
    from xensim.domains.dom0.iosys import IoSystem
    from xensim.hypervisor.domain import Domain
    from xensim.toolstack.domconfig import DomainConfig
    from xensim.toolstack.libxl import Libxl

LIBXL_INIT_TIMEOUT_NS = SECONDS(10)
LIBXL_DESTROY_TIMEOUT_NS = SECONDS(10)

_TOKENS = itertools.count(1)


# --- ids ----------------------------------------------------------------------------------
def _virtdisk(vdev: str, prefix: str, max_index: int, max_part: int) -> tuple[int, int] | None:
    """device_virtdisk_matches: letters as base 26 (a=0, z=25, aa=26...), then a partition."""
    m = re.fullmatch(prefix + r"([a-z]+)([1-9][0-9]*)?", vdev)
    if m is None:
        return None
    index = -1
    for c in m.group(1):
        index = (index + 1) * 26 + ord(c) - ord("a")
        if index > max_index:
            return None
    part = int(m.group(2) or 0)
    return (index, part) if part <= max_part else None


def disk_dev_number(vdev: str) -> int:
    """libxl__device_disk_dev_number: xvda -> 51712, hdc -> 5632, sdb -> 2064, d0p1 or a
    plain number as itself; -1 for what libxl does not understand."""
    m = re.fullmatch(r"d([0-9]+)p([0-9]+)", vdev)
    xvd = (int(m.group(1)), int(m.group(2))) if m else _virtdisk(vdev, "xvd", (1 << 20) - 1, 255)
    if xvd is not None and xvd[0] < (1 << 20) and xvd[1] < 256:
        disk, part = xvd
        if disk <= 15 and part <= 15:
            return (202 << 8) | (disk << 4) | part
        return (1 << 28) | (disk << 8) | part
    if re.fullmatch(r"(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)", vdev):  # strtoul(.., 0)
        n = strtoul(vdev, 0).value
        return n if n <= 0x7FFFFFFF else -1
    hd = _virtdisk(vdev, "hd", 3, 63)
    if hd is not None:
        disk, part = hd
        return ((3 if disk < 2 else 22) << 8) | ((disk & 1) << 6) | part
    sd = _virtdisk(vdev, "sd", 15, 15)
    if sd is not None:
        return (8 << 8) | (sd[0] << 4) | sd[1]
    return -1


def random_mac(rng: random.Random) -> str:
    """libxl__device_nic_setdefault: Xen's OUI 00:16:3e, then the first three bytes of
    a fresh random UUID, the first with its top bit cleared (``r[0] & 0x7f``)."""
    r = rng.getrandbits(128).to_bytes(16, "big")
    return f"00:16:3e:{r[0] & 0x7F:02x}:{r[1]:02x}:{r[2]:02x}"


def devices(io: IoSystem, domid: int, kind: str) -> dict[int, dict[str, str]]:
    """libxl__device_list: each device of *kind* by devid, with its frontend's keys."""
    st, top = io.store, frontend_path(kind, domid, 0).rpartition("/")[0]
    try:
        devids = st.directory(0, top)
    except XsError:
        return {}
    out: dict[int, dict[str, str]] = {}
    for devid in sorted(n for x in devids if (n := ascii_uint(x)) is not None):
        try:
            out[devid] = {k: st.read(0, f"{top}/{devid}/{k}")
                          for k in st.directory(0, f"{top}/{devid}")}
        except XsError:
            continue  # removed while we looked: libxl skips it too
    return out


def nic_nextid(io: IoSystem, domid: int) -> int:
    """libxl__device_nextid: one past the highest vif devid in use."""
    return max(devices(io, domid, "vif"), default=-1) + 1


# --- what goes in xenstore -------------------------------------------------------------------
def nic_nodes(domid: int, devid: int, vif: VifSpec) -> DeviceNodes:
    """libxl__set_xenstore_nic (the MAC was chosen already: :func:`random_mac`)."""
    mac = vif.mac or "00:00:00:00:00:00"
    back = {"script": vif.script, "mac": mac, "bridge": vif.bridge, "handle": str(devid),
            "type": "vif_ioemu" if vif.type == "ioemu" else "vif"}
    if vif.ip:
        back["ip"] = vif.ip
    if vif.vifname:
        back["vifname"] = vif.vifname
    if vif.rate_bytes_per_sec is not None and vif.rate_interval_us is not None:
        per_interval = vif.rate_bytes_per_sec * vif.rate_interval_us // 1_000_000
        back["rate"] = f"{per_interval},{vif.rate_interval_us}"
    return DeviceNodes("vif", devid, {"handle": str(devid), "mac": mac}, back)


def disk_nodes(devid: int, disk: DiskSpec) -> DeviceNodes:
    """libxl__set_xenstore_disk (plus the size blkback would report)."""
    devtype = "cdrom" if disk.is_cdrom else "disk"
    back = {"params": disk.target or "", "type": disk.backendtype or "phy",
            "mode": "w" if disk.readwrite else "r", "device-type": devtype,
            "removable": "1" if disk.is_cdrom else "0", "bootable": "1", "dev": disk.vdev,
            "sectors": str(1 << 24), "sector-size": "512"}
    return DeviceNodes("vbd", devid, {"virtual-device": str(devid), "device-type": devtype},
                       back)


_OVS_BRIDGE_RE = re.compile(r"^([^.:]+)(\.([0-9]+))?(:([0-9]+(:[0-9]+)*))?$")
"""vif-openvswitch's ``bridge[.tag][:trunk:trunk...]``."""


def hotplug_error(io: IoSystem, vif: VifSpec, d: Domain, devid: int) -> list[str]:
    """What the vif's hotplug script says when it fails ``online`` (empty if it works):
    ``vif-bridge`` needs a Linux bridge of that name (on an OVS bridge its ``brctl
    addif`` fails and the script's ERR trap fires), ``vif-openvswitch`` an OVS bridge
    (``ovs-vsctl add-port`` fails on anything else).  Other scripts (``vif-route``,
    ``vif-nat``) route through dom0 and need no bridge."""
    script = vif.script.rpartition("/")[2]
    bridge = io.bridges.get(vif.bridge)
    dev = vif.vifname or f"vif{d.domid}.{devid}"
    if script == "vif-bridge":
        if bridge is None:
            why = f"Could not find bridge device {vif.bridge}"
        elif bridge.kind != "linux":
            why = "/etc/xen/scripts/vif-bridge failed; error detected."
        else:
            return []
    elif script == "vif-openvswitch":
        m = _OVS_BRIDGE_RE.match(vif.bridge)
        if m is None:
            why = "No valid bridge was specified"
        else:
            bridge = io.bridges.get(m.group(1))
            if bridge is not None and bridge.kind == "openvswitch":
                return []
            tag = f" tag={m.group(3)}" if m.group(3) else ""
            trunk = f" trunk={m.group(5).replace(':', ',')}" if m.group(5) else ""
            ids = "".join(f' -- set interface {dev} external-ids:"{k}"="{v}"' for k, v in (
                ("xen-vm-name", d.name), ("xen-vm-uuid", d.handle), ("attached-mac", vif.mac)))
            why = (f"ovs-vsctl --timeout=30 -- --if-exists del-port {dev} -- add-port "
                   f"{m.group(1)} {dev}{tag}{trunk}{ids} failed")
    else:
        return []
    return [log_error("libxl_exec.c", None, f"/etc/xen/scripts/{script} online exited "
                      "with error status 1"),
            log_error("libxl_device.c", None, f"device_hotplug_child_death_cb: script: {why}")]


VIRTIO_BLK_MAJOR = 253
"""Linux's (dynamic, but in practice) major for virtio-blk ``vd*`` disks."""


def config_devices(io: IoSystem, cfg: DomainConfig, workload: str
                   ) -> tuple[list[VifSpec], list[tuple[int, DiskSpec]]]:
    """The vifs and (devid, disk)s a new domain gets: its config's, plus one of each kind
    its workload needs (no vif when it has a PCI device: its passed-through NIC).
    Raises ValueError with libxl's lines if one cannot be added.
    On a hosted (KVM, QEMU) host a ``vd*`` disk is a virtio-blk disk, which Xen's
    libxl would refuse."""
    needs = DEVICE_NEEDS.get(workload, ())
    vifs = list(cfg.vifs) or ([VifSpec()] if "vif" in needs and not cfg.pci else [])
    disks = list(cfg.disks) or ([DiskSpec("xvda", f"/dev/xensim/{cfg.name}", readwrite=False)]
                                if "vbd" in needs else [])
    numbered: list[tuple[int, DiskSpec]] = []
    hosted = io.hyp.kind.hosted
    for disk in disks:
        devid = disk_dev_number(disk.vdev)
        vd = _virtdisk(disk.vdev, "vd", 15, 15) if hosted and devid < 0 else None
        if vd is not None:
            devid = VIRTIO_BLK_MAJOR << 8 | vd[0] << 4 | vd[1]
        if devid < 0:
            raise ValueError(log_error("libxl_disk.c", None, "Invalid or unsupported virtual "
                                       f"disk identifier {disk.vdev}"))
        if devid in (n for n, _ in numbered):
            raise ValueError(log_error("libxl_device.c", None,
                                       f"device already exists in xenstore: {disk.vdev}"))
        numbered.append((devid, disk))
    return vifs, numbered


# --- the asynchronous operations --------------------------------------------------------------
class Force(Enum):
    """LIBXL__FORCE_*: what a remove does when the guest does not let go in time."""

    OFF = 0
    AUTO = 1
    ON = 2


class DeviceOp:
    """One libxl__ao_device in progress: done when :attr:`rc` is set (0 or libxl's error),
    with :attr:`errors` holding the lines xl prints."""

    def __init__(self, libxl: Libxl, d: Domain, kind: str, devid: int, action: str) -> None:
        self.libxl = libxl
        self.io = libxl.io
        self.d = d
        self.kind = kind
        self.devid = devid
        self.action = action
        self.be = backend_path(kind, d.domid, devid)
        self.fe = frontend_path(kind, d.domid, devid)
        self.rc: int | None = None
        self.errors: list[str] = []
        self._token = f"libxl:{next(_TOKENS)}"
        self._wanted: XenbusState | None = None
        self._gen = 0
        libxl.device_ops.append(self)

    # --- libxl__ev_devstate_wait: a watch on the backend's state, and a timer ------------
    def _wait(self, state: XenbusState, timeout_ns: int) -> None:
        self._wanted = state
        self._gen += 1
        gen = self._gen
        self.io.xsd.watch_toolstack(self.be + "/state", self._token, self._changed)
        self.libxl.hyp.env.timeout(timeout_ns).callbacks.append(  # type: ignore[union-attr]
            lambda _e: self._expired(gen))

    def _unwait(self) -> None:
        self._wanted = None
        self._gen += 1
        self.io.xsd.unwatch_toolstack(self.be + "/state", self._token)

    def _state(self) -> XenbusState | None:
        try:
            val = self.io.store.read(0, self.be + "/state")
        except XsError:
            return None
        n = ascii_uint(val)
        return XenbusState(n) if n is not None and n <= 8 else XenbusState.Unknown

    def _changed(self, _path: str) -> None:
        wanted = self._wanted
        if wanted is None or self.rc is not None:
            return
        st = self._state()
        if st is None or st == wanted or (wanted == XenbusState.InitWait and
                                          XenbusState.InitWait < st < XenbusState.Closing):
            self._unwait()
            self._reached(st)

    def _expired(self, gen: int) -> None:
        if gen == self._gen and self.rc is None:
            self._unwait()
            self._timed_out()

    def _finish(self, rc: int) -> None:
        if rc:
            self.errors.append(log_error("libxl_device.c", self.d.domid,
                                         f"Unable to {self.action} {self.kind} with id "
                                         f"{self.devid}"))
        self.rc = rc
        if self in self.libxl.device_ops:
            self.libxl.device_ops.remove(self)

    def cancel(self) -> None:
        """The domain died under us (libxl would see the paths vanish)."""
        if self.rc is None:
            if self._wanted is not None:
                self._unwait()
            self._finish(ERROR_DOMAIN_DESTROYED)

    def _reached(self, st: XenbusState | None) -> None:
        raise NotImplementedError

    def _timed_out(self) -> None:
        raise NotImplementedError


class DeviceAdd(DeviceOp):
    """libxl__device_add_async, then libxl__wait_device_connection and the hotplug script."""

    def __init__(self, libxl: Libxl, d: Domain, nodes: DeviceNodes,
                 vif: VifSpec | None = None) -> None:
        super().__init__(libxl, d, nodes.kind, nodes.devid, "add")
        self.vif = vif
        try:
            self.io.store.read(0, self.fe)
        except XsError:
            self.io.write_device(d.domid, nodes)
            self.io.xsd.flush()
            self._wait(XenbusState.InitWait, LIBXL_INIT_TIMEOUT_NS)
            return
        self.errors.append(log_error("libxl_device.c", d.domid,
                                     "device already exists in xenstore"))
        self._finish(ERROR_DEVICE_EXISTS)

    def _reached(self, st: XenbusState | None) -> None:
        if st is None:
            self._finish(ERROR_FAIL)
            return
        err = hotplug_error(self.io, self.vif, self.d, self.devid) \
            if self.vif is not None else []
        if err:
            self.errors += err
            self.io.remove_device(self.d.domid, self.kind, self.devid)
            self._finish(ERROR_FAIL)
            return
        self._finish(0)

    def _timed_out(self) -> None:
        self.errors.append(log_error("libxl_device.c", self.d.domid,
                                     f"unable to add device with path {self.be} - "
                                     f"rc {ERROR_TIMEDOUT}"))
        self._finish(ERROR_TIMEDOUT)


class DeviceRemove(DeviceOp):
    """libxl__initiate_device_generic_remove, device_backend_callback, device_hotplug_done."""

    def __init__(self, libxl: Libxl, d: Domain, kind: str, devid: int, force: Force) -> None:
        super().__init__(libxl, d, kind, devid, "remove")
        self.force = force
        self._initiate()

    def _initiate(self) -> None:
        st = self.io.store
        tx = st.transaction_start(0)
        if self.force == Force.ON:
            path_cleanup(st, self.fe, tx)
        try:
            state = st.read(0, self.be + "/state", tx)
        except XsError:  # "backend already removed, cleanup frontend only"
            st.transaction_end(0, tx, True)
            self._done(0)
            return
        st.write(0, self.be + "/online", "0", tx)
        if state != str(int(XenbusState.Closed)):
            st.write(0, self.be + "/state", str(int(XenbusState.Closing)), tx)
        st.transaction_end(0, tx, True)
        self.io.xsd.flush()
        self._wait(XenbusState.Closed, LIBXL_DESTROY_TIMEOUT_NS)

    def _reached(self, st: XenbusState | None) -> None:
        self._done(0)

    def _timed_out(self) -> None:
        if self.force == Force.AUTO:  # "Timeout reached, initiating forced remove"
            self.force = Force.ON
            self._initiate()
            return
        self.errors.append(log_error("libxl_device.c", self.d.domid,
                                     f"unable to remove device with path {self.be} - "
                                     f"rc {ERROR_TIMEDOUT}"))
        self._done(ERROR_TIMEDOUT)

    def _done(self, rc: int) -> None:
        if self.force == Force.ON or rc == 0:
            self.io.remove_device(self.d.domid, self.kind, self.devid)
        self._finish(rc)


def add_nic(libxl: Libxl, d: Domain, vif: VifSpec) -> DeviceOp:
    devid = nic_nextid(libxl.io, d.domid)
    if vif.mac is None:
        vif = replace(vif, mac=random_mac(libxl.rng))
    return DeviceAdd(libxl, d, nic_nodes(d.domid, devid, vif), vif)


def add_disk(libxl: Libxl, d: Domain, disk: DiskSpec) -> DeviceOp:
    devid = disk_dev_number(disk.vdev)
    if devid < 0:
        raise ValueError(log_error("libxl_disk.c", d.domid, "Invalid or unsupported virtual "
                                   f"disk identifier {disk.vdev}"))
    return DeviceAdd(libxl, d, disk_nodes(devid, disk))

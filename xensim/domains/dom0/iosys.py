"""The host's PV I/O system: dom0's services and devices, and each guest's frontends.

Mirrors what libxl and the dom0 kernel do together: at dom0's boot its
kernel binds its IPI/VIRQ ports, xenstored starts, the backend bus watches
``backend/vif`` and ``backend/vbd``, and the host's bridges (by default
xenbr0, see :mod:`xensim.domains.dom0.hostnet`) with their uplink NICs, the
assignable PCI NICs and the disk come up.  At a guest's creation the toolstack introduces it
to xenstore (home path, store port), writes each device's frontend and
backend directories (libxl__device_generic_add; what goes in them is the
toolstack's business, see :mod:`xensim.toolstack.libxl_device`) and the
guest kernel's boot-time probe binds a frontend to each; the frontends then
negotiate with the backends through xenstored.  Devices added or removed
later (``xl network-attach``...) go through the same directories: the buses
of :mod:`xensim.domains.pvio.xenbus_probe` notice them.  At destruction the
backends are closed and unmapped, their directories and the guest's home
removed, its xenstore connection released, so nothing of the guest is left
(see tests/domains/test_pv_io.py and :meth:`IoSystem.leaks`).

Every kernel also gets a balloon driver (:mod:`xensim.domains.guest.balloon`) and,
once it has a device, its VIRQ_TIMER bound.  Like the boot-time probe, the
watches a kernel sets while booting (xenbus's on ``device``, the balloon's
on ``memory/target``) are registered directly, without their first event:
so a guest with no device makes no xenstore traffic until something
changes, and CPU-only scenarios run exactly as before.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from xensim.domains.dom0.hostnet import DEFAULT_BRIDGES, BridgeSpec
from xensim.domains.dom0.physdev import Bridge, Disk, ExternalNet, Nic
from xensim.domains.dom0.services import Dom0Services
from xensim.domains.dom0.xenstore import XsError
from xensim.domains.dom0.xenstored import Dom0XsClient, XenbusClient, Xenstored
from xensim.domains.guest.balloon import Balloon
from xensim.domains.guest.emul_drivers import E1000Driver, IdeDriver, Rtl8139Driver, unplug_emulated
from xensim.domains.guest.kernel import GuestKernel
from xensim.domains.pvio.blkif import BlkBack, BlkFront
from xensim.domains.pvio.netif import NetBack, NetFront, NetStack
from xensim.domains.pvio.xenbus import (
    BackendDevice,
    FrontendDevice,
    XenbusState,
    backend_path,
    frontend_path,
)
from xensim.domains.pvio.xenbus_probe import BackendBus, FrontendBus
from xensim.hypervisor.evtchn import event_channel as ev
from xensim.hypervisor.evtchn.abi import VIRQ
from xensim.hypervisor.grant.abi import GTF
from xensim.qemu_dm.e1000 import E1000

if TYPE_CHECKING:
    from xensim.domains.dom0.xenstore import XenStore
    from xensim.domains.guest.guest_vcpu import GuestVcpu
    from xensim.hypervisor.domain import Domain
    from xensim.hypervisor.hypervisor import Hypervisor
    from xensim.qemu_dm.process import DeviceModel


@dataclass(frozen=True)
class DeviceNodes:
    """One device's xenstore entries besides the generic ones (backend, state...)."""

    kind: str
    devid: int
    front: dict[str, str] = field(default_factory=dict)
    back: dict[str, str] = field(default_factory=dict)


class IoSystem:
    """Everything PV I/O on one host; the toolstack owns one."""

    def __init__(self, hyp: Hypervisor, bridges: tuple[BridgeSpec, ...] = DEFAULT_BRIDGES
                 ) -> None:
        self.hyp = hyp
        self.bridge_specs = bridges
        self.pages: dict[tuple[int, int], Any] = {}
        """(domid, frame) -> the object in that guest page (shared rings)."""
        self.svc: Dom0Services = None  # type: ignore[assignment]
        self.kernel0: GuestKernel = None  # type: ignore[assignment]
        self.xsd: Xenstored = None  # type: ignore[assignment]
        self.xs0: Dom0XsClient = None  # type: ignore[assignment]
        self.ext: ExternalNet = None  # type: ignore[assignment]
        self.nic: Nic = None  # type: ignore[assignment]
        self.bridge: Bridge = None  # type: ignore[assignment]
        """The first bridge: where qemu taps, virtio and vif scripts without a bridge go."""
        self.bridges: dict[str, Bridge] = {}
        self.lans: dict[str, ExternalNet] = {}
        """Each NIC's (uplinks' and PCI NICs') LAN segment, by the NIC's name."""
        self.pci_nics: dict[str, Nic] = {}
        """The host's PCI NICs that can be passed through, by BDF (0000:03:00.0)."""
        self.disk: Disk = None  # type: ignore[assignment]
        self.be_bus: BackendBus = None  # type: ignore[assignment]
        self.backends: dict[tuple[str, int, int], BackendDevice] = {}
        """The backend bus's devices: (kind, domid, devid) -> netback/blkback."""
        self.dom_exc = 0
        hyp.teardown_hooks.append(self._teardown)

    @property
    def store(self) -> XenStore:
        return self.xsd.store

    # --- dom0 -------------------------------------------------------------------------
    def boot_dom0(self, d: Domain, guests: list[GuestVcpu]) -> None:
        hyp = self.hyp
        k0 = self.kernel0 = GuestKernel(hyp, d)
        for g in guests:
            k0.attach(g)
        self.svc = Dom0Services(hyp, d, k0)
        env, costs = hyp.env, hyp.costs
        for spec in self.bridge_specs:
            nic = self._make_nic(spec.nic) if spec.nic else None
            self.bridges[spec.name] = Bridge(nic, spec.name, spec.kind)
        self.bridge = next(iter(self.bridges.values()))
        self.nic = self.bridge.nic  # type: ignore[assignment]
        self.ext = self.lans[self.nic.name] if self.nic is not None else ExternalNet(env, costs)
        for pdev in hyp.pci.devices.values():
            if pdev.is_nic:
                self.pci_nics[pdev.bdf] = self._make_nic(pdev.ifname)
        self.disk = Disk(env, costs)
        if hyp.kind.hosted:  # a Linux host: no xenstore, no backends to watch for
            return
        self.xsd = Xenstored(self.svc, k0)
        self.xsd.introduce(d)
        self.xs0 = Dom0XsClient(self.xsd)
        self._bind_timer(k0)
        op = ev.EvtchnBindVirq(VIRQ.DOM_EXC, 0)
        if k0.evtchn_op(ev.EVTCHNOP.bind_virq, op) == 0:
            k0.handlers[op.port] = self._on_dom_exc
        self.be_bus = BackendBus(self, self.xs0, self._make_backend)
        self.backends = self.be_bus.devices
        self.be_bus.watch()
        balloon = Balloon(k0, self.xs0)
        self.xsd.dom0_watches[Balloon.WATCH[1]] = balloon.target_changed
        self.store.watch(0, *Balloon.WATCH, fire=False)

    def _make_nic(self, name: str) -> Nic:
        lan = self.lans[name] = ExternalNet(self.hyp.env, self.hyp.costs)
        return Nic(self.hyp.env, self.hyp.costs, self.svc, lan, name)

    def lan_of(self, domid: int) -> ExternalNet:
        """The LAN a guest's traffic reaches: its passed-through NIC's, else its first
        vif's bridge's uplink's, else the first bridge's."""
        for nic in self.pci_nics.values():
            if nic.owner_domid == domid:
                return self.lans[nic.name]
        for bridge in self.bridges.values():
            if domid in bridge.ports and bridge.nic is not None:
                return self.lans[bridge.nic.name]
        return self.ext

    def bridge_named(self, name: str | None) -> Bridge:
        """The bridge a vif's hotplug script attached it to: ``ovsbr0.42`` (a VLAN tag)
        and ``ovsbr0:42:43`` (trunks) are ports of ``ovsbr0``; None: the first."""
        name = name or ""
        return self.bridges.get(name) or self.bridges.get(re.split(r"[.:]", name)[0],
                                                          self.bridge)

    def _on_dom_exc(self, g: GuestVcpu, port: int) -> int:
        self.dom_exc += 1  # xenstored/libxl would look for the shut-down domain here
        return 0

    def _make_backend(self, kind: str, domid: int, devid: int) -> BackendDevice:
        cls = NetBack if kind == "vif" else BlkBack
        return cls(self, self.xs0, domid, devid)

    # --- guests -------------------------------------------------------------------------
    def domain_created(self, d: Domain, guests: list[GuestVcpu],
                       devices: Sequence[DeviceNodes] = (), nodes: dict[str, str] | None = None,
                       ) -> None:
        """Called by libxl once the domain and its vCPUs' guest models exist: introduce it,
        write *nodes* (paths relative to its home) and its *devices*, boot its kernel."""
        if d.is_privileged and self.svc is None:
            self.boot_dom0(d, guests)
            return
        if self.svc is None:
            return
        k = GuestKernel(self.hyp, d)
        k.io = self
        for g in guests:
            k.attach(g)
        if self.hyp.kind.hosted:  # no xenstore: libxl gives it its devices directly
            return
        conn = self.xsd.introduce(d)
        if conn is None:
            return
        for path, value in (nodes or {}).items():
            self.store.write(0, f"/local/domain/{d.domid}/{path}", value)
        for dev in devices:
            self.write_device(d.domid, dev)
        xs = XenbusClient(k, conn)
        bus = k.bus = FrontendBus(self, k, xs)
        for front in bus.boot():
            front.start()
        balloon = Balloon(k, xs)
        for (path, token), cb in ((FrontendBus.WATCH, bus.changed),
                                  (Balloon.WATCH, balloon.target_changed)):
            xs.watches[token] = cb  # set while the kernel boots: no first event to send
            self.store.watch(d.domid, path, token, fire=False)
        self.xsd.flush()

    def make_front(self, k: GuestKernel, xs: XenbusClient, kind: str, devid: int, *,
                   hotplugged: bool) -> FrontendDevice:
        """The driver for a device the guest's bus found (its first also binds the timer)."""
        if not k.timer_bound:
            self._bind_timer(k)
        if kind == "vbd":
            return BlkFront(self, k, xs, devid, hotplugged=hotplugged)
        if k.net is None:
            k.net = NetStack(k)
        return NetFront(self, k, xs, devid, k.net, hotplugged=hotplugged)

    def attach_device_model(self, d: Domain, dm: DeviceModel) -> None:
        """An HVM guest's qemu is up: without PV drivers (``xen_platform_pci = 0``) its
        kernel drives qemu's devices; with them it unplugs those at boot."""
        k: GuestKernel = d.info["kernel"]
        if dm.platform_pci:
            k.boot_steps.append(unplug_emulated)
        else:
            self.emulated_devices(k, dm)

    def emulated_devices(self, k: GuestKernel, dm: DeviceModel) -> None:
        """The kernel's drivers for qemu's disk and first NIC, wired to the bridge."""
        fronts: list[Any] = [IdeDriver(k) for _ in dm.disks]
        if dm.nics:
            k.net = NetStack(k)
            nic = dm.nics[0]
            drv = (E1000Driver if isinstance(nic, E1000) else Rtl8139Driver)(k, nic, k.net)
            fronts.append(drv)
            k.boot_steps.append(drv.init)
            dm.bridge.attach(k.d.domid, dm.tap_receive, f"vif{k.d.domid}.0-emu")
        k.fronts = fronts

    def _bind_timer(self, k: GuestKernel) -> None:
        """The kernel binds VIRQ_TIMER on each vCPU (its handler is the tick: no extra work)."""
        k.timer_bound = True
        for v in k.d.vcpus:
            op = ev.EvtchnBindVirq(VIRQ.TIMER, v.vcpu_id)
            if k.evtchn_op(ev.EVTCHNOP.bind_virq, op, v) == 0:
                k.handlers[op.port] = _tick

    # --- the toolstack's side of a device ------------------------------------------------
    def write_device(self, domid: int, dev: DeviceNodes) -> None:
        """libxl__device_generic_add: both directories in one transaction, state
        Initialising; the frontend's owned by the guest, the backend's by dom0."""
        st = self.store
        fe, be = frontend_path(dev.kind, domid, dev.devid), backend_path(dev.kind, domid, dev.devid)
        init = str(int(XenbusState.Initialising))
        tx = st.transaction_start(0)
        st.mkdir(0, fe, tx)
        st.set_perms(0, fe, [f"n{domid}", "r0"], tx)
        for key, val in {"backend": be, "backend-id": "0", "state": init, **dev.front}.items():
            st.write(0, f"{fe}/{key}", val, tx)
        st.mkdir(0, be, tx)
        st.set_perms(0, be, ["n0", f"r{domid}"], tx)
        for key, val in {"frontend": fe, "frontend-id": str(domid), "online": "1",
                         "state": init, **dev.back}.items():
            st.write(0, f"{be}/{key}", val, tx)
        st.transaction_end(0, tx, True)

    def remove_device(self, domid: int, kind: str, devid: int) -> None:
        """libxl__device_destroy: both directories go, and parents left empty."""
        st = self.store
        tx = st.transaction_start(0)
        for path in (frontend_path(kind, domid, devid), backend_path(kind, domid, devid)):
            path_cleanup(st, path, tx)
        st.transaction_end(0, tx, True)
        self.xsd.flush()

    # --- destruction --------------------------------------------------------------------
    def _teardown(self, d: Domain) -> None:
        if self.svc is None or d.domid == 0:
            return
        dm = d.info.get("device_model")
        if dm is not None:  # the guest goes: its qemu (and stub domain) with it
            dm.stop()
            stub = d.info.get("stubdom")
            if stub is not None and not stub.is_dying:
                self.hyp.destroy_domain(stub)
        for bridge in self.bridges.values():
            bridge.drop(d.domid)
        if self.xsd is None:  # a hosted kind: no xenstore, grants or backends
            return
        target = d.info.get("dm_of")
        if target is not None and "device_model" in target.info:
            target.info["device_model"].crash()  # the stub domain died under its guest
        st, domid = self.store, d.domid
        for key in [k for k in self.backends if k[1] == domid]:
            dev = self.backends[key]
            dev.unregister()
            for state in (XenbusState.Closing, XenbusState.Closed):
                _quiet(st.write, 0, dev.be + "/state", str(int(state)))
        for kind in ("vif", "vbd"):
            _quiet(st.rm, 0, f"/local/domain/0/backend/{kind}/{domid}")
        self.xsd.release(domid)
        for key in [p for p in self.pages if p[0] == domid]:
            del self.pages[key]

    # --- accounting -------------------------------------------------------------------------
    def leaks(self, domid: int, kind: str | None = None, devid: int | None = None) -> list[str]:
        """Anything of *domid* still held anywhere: empty after a clean destroy.  With
        *kind* and *devid*, for a live domain: what a removed device left behind (its
        xenstore nodes and watches, backend, frontend) and any grant, port, mapping or
        shared page of the guest that no remaining device accounts for."""
        if kind is not None and devid is not None:
            return self._device_leaks(domid, kind, devid)
        hyp, out = self.hyp, []
        if domid in hyp.evtchn.doms:
            out.append("event-channel table")
        for de in hyp.evtchn.doms.values():
            out += [f"d{de.domain.domid} port {c.port} -> d{domid}" for c in de.in_use()
                    if c.state in (ev.ECS.INTERDOMAIN, ev.ECS.UNBOUND) and c.remote_domid == domid]
        if domid in hyp.gnttab.tables:
            out.append("grant table")
        for gt in hyp.gnttab.tables.values():
            out += [f"d{gt.domid} maps gref {m.ref} of d{domid}"
                    for _, m in gt.live_mappings() if m.domid == domid]
        st = self.store
        out += [p for p in st.db.nodes
                if p.startswith(f"/local/domain/{domid}") or f"/{domid}/" in p + "/"
                and "/backend/" in p]
        out += [f"watch {w.path}" for w in st.watches.watches
                if w.domid == domid or f"/local/domain/{domid}/" in w.path + "/"
                or (f"/{domid}/" in w.path + "/" and "/backend/" in w.path)]
        out += [f"backend {k}" for k in self.backends if k[1] == domid]
        out += [f"page {k}" for k in self.pages if k[0] == domid]
        if domid in self.xsd.conns or any(domid in b.ports for b in self.bridges.values()):
            out.append("xenstore connection or bridge port")
        return out

    def _device_leaks(self, domid: int, kind: str, devid: int) -> list[str]:
        hyp, st = self.hyp, self.store
        fe, be = frontend_path(kind, domid, devid), backend_path(kind, domid, devid)
        out = [p for p in st.db.nodes if p in (fe, be) or p.startswith((fe + "/", be + "/"))]
        out += [f"watch {w.path} ({w.token})" for w in st.watches.watches
                if w.path.startswith((fe + "/", be + "/")) or w.path in (fe, be)]
        if (kind, domid, devid) in self.backends:
            out.append(f"backend {(kind, domid, devid)}")
        d = hyp.domains.get(domid)
        k: GuestKernel | None = d.info.get("kernel") if d is not None else None
        if k is None:
            return out
        fronts = [f for f in k.fronts if not f.released]
        out += [f"frontend {kind} {devid}" for f in fronts if (f.kind, f.devid) == (kind, devid)]
        held = set().union(*(f.refs for f in fronts)) | set(k.deferred_refs)
        gt = hyp.gnttab.tables[domid]
        out += [f"gref {r} of d{domid} granted by no device" for r in range(gt.nr_entries)
                if gt.shared[r].flags & GTF.permit_access and r not in held]
        backs = [b for b in self.backends.values() if b.domid == domid]
        maps = sum(1 for _, m in hyp.gnttab.tables[0].live_mappings() if m.domid == domid)
        if maps != sum(b.held_handles() for b in backs):
            out.append(f"d0 maps {maps} grants of d{domid}, its backends hold "
                       f"{sum(b.held_handles() for b in backs)}")
        conn = self.xsd.conns.get(domid)
        ports = {f.port for f in fronts if f.port} | ({conn.guest_port} if conn else set())
        out += [f"d{domid} port {c.port} bound to no device" for c in hyp.evtchn.dom(d).in_use()
                if c.state in (ev.ECS.INTERDOMAIN, ev.ECS.UNBOUND) and c.port not in ports]
        ports0 = {b.port for b in backs if b.port} | ({conn.dom0_port} if conn else set())
        out += [f"d0 port {c.port} -> d{domid} bound to no device"
                for c in hyp.evtchn.dom(hyp.domains[0]).in_use()
                if c.state == ev.ECS.INTERDOMAIN and c.remote_domid == domid
                and c.port not in ports0]
        frames = {fr for f in fronts for fr in f.frames}
        out += [f"page {p}" for p in self.pages if p[0] == domid and p[1] not in frames]
        return out


def _tick(g: GuestVcpu, port: int) -> int:
    return 0


def _quiet(fn: Any, *args: Any) -> None:
    try:
        fn(*args)
    except XsError:
        pass


def path_cleanup(st: XenStore, path: str, tx: int) -> None:
    """libxl__xs_path_cleanup (``xenstore-rm -t``): remove *path*, then each parent
    left empty (no value, no children)."""
    try:
        st.rm(0, path, tx)
    except XsError:
        return
    while True:
        path = path.rpartition("/")[0]
        if not path:
            return
        try:
            if st.read(0, path, tx) or st.directory(0, path, tx):
                return
            st.rm(0, path, tx)
        except XsError:
            return

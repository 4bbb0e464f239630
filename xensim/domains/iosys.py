"""The host's PV I/O system: dom0's services and devices, and each guest's frontends.

Mirrors what libxl and the dom0 kernel do together: at dom0's boot its
kernel binds its IPI/VIRQ ports, xenstored starts, the backend drivers
watch ``backend/vif`` and ``backend/vbd``, and the physical NIC (behind a
bridge) and disk come up.  At a guest's creation the toolstack introduces
it to xenstore (home path, store port), writes each device's frontend and
backend directories (libxl__device_vif_add / disk add) and the guest
kernel's frontends negotiate with the backends through xenstored.  At
destruction the backends are closed and unmapped, their directories and
the guest's home removed, its xenstore connection released, so nothing of
the guest is left (see tests/domains/test_pv_io.py).

Which guests get devices: those whose config lists ``vif``/``disk``
entries, plus one of each kind a workload needs (:data:`DEVICE_NEEDS`).
A guest with neither gets a kernel that only scans ports (and a xenstore
connection), so CPU-only scenarios run as fast as before.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from xensim.domains.blkif import BlkBack, BlkFront
from xensim.domains.dom0 import Dom0Services
from xensim.domains.emul_drivers import E1000Driver, IdeDriver, Rtl8139Driver, unplug_emulated
from xensim.domains.hosted_io import hosted_devices
from xensim.domains.io_workloads import DEVICE_NEEDS
from xensim.domains.kernel import GuestKernel
from xensim.domains.netif import NetBack, NetFront, NetStack
from xensim.domains.physdev import Bridge, Disk, ExternalNet, Nic
from xensim.domains.xenbus import BackendDevice, XenbusState, backend_path, frontend_path
from xensim.domains.xenstore import XsError, XsType
from xensim.domains.xenstored import Dom0XsClient, Script, XenbusClient, Xenstored, xs_run
from xensim.hypervisor import event_channel as ev
from xensim.hypervisor.event_channel_abi import VIRQ
from xensim.qemu_dm.e1000 import E1000
from xensim.qemu_dm.spawn import spawn_device_model

if TYPE_CHECKING:
    from xensim.domains.guest import GuestVcpu
    from xensim.hypervisor.domain import Domain
    from xensim.hypervisor.hypervisor import Hypervisor
    from xensim.qemu_dm.process import DeviceModel

VBD_FIRST_DEVID = 51712  # xvda


class IoSystem:
    """Everything PV I/O on one host; the toolstack owns one."""

    def __init__(self, hyp: Hypervisor) -> None:
        self.hyp = hyp
        self.pages: dict[tuple[int, int], Any] = {}
        """(domid, frame) -> the object in that guest page (shared rings)."""
        self.svc: Dom0Services = None  # type: ignore[assignment]
        self.kernel0: GuestKernel = None  # type: ignore[assignment]
        self.xsd: Xenstored = None  # type: ignore[assignment]
        self.xs0: Dom0XsClient = None  # type: ignore[assignment]
        self.ext: ExternalNet = None  # type: ignore[assignment]
        self.nic: Nic = None  # type: ignore[assignment]
        self.bridge: Bridge = None  # type: ignore[assignment]
        self.disk: Disk = None  # type: ignore[assignment]
        self.backends: dict[tuple[str, int, int], BackendDevice] = {}
        self.dom_exc = 0
        hyp.teardown_hooks.append(self._teardown)

    # --- dom0 -------------------------------------------------------------------------
    def boot_dom0(self, d: Domain, guests: list[GuestVcpu]) -> None:
        hyp = self.hyp
        k0 = self.kernel0 = GuestKernel(hyp, d)
        for g in guests:
            k0.attach(g)
        self.svc = Dom0Services(hyp, d, k0)
        env, costs = hyp.env, hyp.costs
        self.ext = ExternalNet(env, costs)
        self.nic = Nic(env, costs, self.svc, self.ext)
        self.bridge = Bridge(self.nic)
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
        for kind in ("vif", "vbd"):
            self.xs0.watch(f"/local/domain/0/backend/{kind}", f"backend:{kind}",
                           lambda path, kind=kind: self._backend_event(kind, path))

    def _on_dom_exc(self, g: GuestVcpu, port: int) -> int:
        self.dom_exc += 1  # xenstored/libxl would look for the shut-down domain here
        return 0

    def _backend_event(self, kind: str, path: str) -> None:
        parts = path.split("/")
        if len(parts) == 6:  # the watch's first firing: enumerate what exists already
            xs_run(self.xs0, self._enumerate(kind, path))
            return
        if len(parts) < 8 or not parts[6].isdigit() or not parts[7].isdigit():
            return
        domid, devid = int(parts[6]), int(parts[7])
        d = self.hyp.domains.get(domid)
        key = (kind, domid, devid)
        if d is None or d.is_dying or key in self.backends:
            return
        cls = NetBack if kind == "vif" else BlkBack
        dev = self.backends[key] = cls(self, self.xs0, domid, devid)
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
                    self._backend_event(kind, f"{top}/{domid}/{devid}")

    # --- guests -------------------------------------------------------------------------
    def domain_created(self, d: Domain, cfg: Any, workload: str,
                       guests: list[GuestVcpu]) -> None:
        """Called by libxl once the domain and its vCPUs' guest models exist."""
        if d.is_privileged and self.svc is None:
            self.boot_dom0(d, guests)
            return
        if self.svc is None:
            return
        k = GuestKernel(self.hyp, d)
        k.io = self
        for g in guests:
            k.attach(g)
        if self.hyp.kind.hosted:
            hosted_devices(self, k, cfg, *_device_counts(cfg, workload))
            return
        conn = self.xsd.introduce(d)
        if conn is None:
            return
        xs = XenbusClient(k, conn)
        nvifs, ndisks = _device_counts(cfg, workload)
        if d.guest_type == "hvm":
            dm = spawn_device_model(self, d, cfg, nvifs, ndisks)
            if not getattr(cfg, "xen_platform_pci", True):
                self.emulated_devices(k, dm)
                return
            k.boot_steps.append(unplug_emulated)
        fronts: list[Any] = []
        if nvifs:
            k.net = NetStack(k)
        for devid in range(nvifs):
            self._write_device(d, "vif", devid, {"mac": _mac(d.domid, devid)},
                               {"bridge": "xenbr0", "script": "vif-bridge"})
            fronts.append(NetFront(self, k, xs, devid, k.net))
        for i in range(ndisks):
            devid = VBD_FIRST_DEVID + 16 * i
            self._write_device(d, "vbd", devid, {"virtual-device": str(devid)},
                               {"mode": "r", "sectors": str(1 << 24), "sector-size": "512"})
            fronts.append(BlkFront(self, k, xs, devid))
        k.fronts = fronts
        if fronts:
            self._bind_timer(k)
            for f in fronts:
                f.start()
        self.xsd.flush()

    def emulated_devices(self, k: GuestKernel, dm: DeviceModel) -> None:
        """No PV drivers (xen_platform_pci=0): the kernel drives qemu's devices."""
        fronts: list[Any] = [IdeDriver(k) for _ in dm.disks]
        if dm.nics:
            k.net = NetStack(k)
            nic = dm.nics[0]
            drv = (E1000Driver if isinstance(nic, E1000) else Rtl8139Driver)(k, nic, k.net)
            fronts.append(drv)
            k.boot_steps.append(drv.init)
            self.bridge.ports[k.d.domid] = dm.tap_receive
        k.fronts = fronts

    def _bind_timer(self, k: GuestKernel) -> None:
        """The kernel binds VIRQ_TIMER on each vCPU (its handler is the tick: no extra work)."""
        for v in k.d.vcpus:
            op = ev.EvtchnBindVirq(VIRQ.TIMER, v.vcpu_id)
            if k.evtchn_op(ev.EVTCHNOP.bind_virq, op, v) == 0:
                k.handlers[op.port] = _tick

    def _write_device(self, d: Domain, kind: str, devid: int, fe_extra: dict[str, str],
                      be_extra: dict[str, str]) -> None:
        """libxl's device add: both directories in one transaction, state Initialising."""
        st, domid = self.xsd.store, d.domid
        fe, be = frontend_path(kind, domid, devid), backend_path(kind, domid, devid)
        init = str(int(XenbusState.Initialising))
        tx = st.transaction_start(0)
        st.mkdir(0, fe, tx)
        st.set_perms(0, fe, [f"n{domid}", "r0"], tx)
        for key, val in {"backend": be, "backend-id": "0", "state": init, **fe_extra}.items():
            st.write(0, f"{fe}/{key}", val, tx)
        st.mkdir(0, be, tx)
        st.set_perms(0, be, ["n0", f"r{domid}"], tx)
        for key, val in {"frontend": fe, "frontend-id": str(domid), "online": "1",
                         "state": init, **be_extra}.items():
            st.write(0, f"{be}/{key}", val, tx)
        st.transaction_end(0, tx, True)

    # --- destruction --------------------------------------------------------------------
    def _teardown(self, d: Domain) -> None:
        if self.svc is None or d.domid == 0:
            return
        dm = d.info.get("device_model")
        if dm is not None:  # the guest goes: its qemu (and stub domain) with it
            dm.stop()
        self.bridge.ports.pop(d.domid, None)
        if self.xsd is None:  # a hosted kind: no xenstore, grants or backends
            return
            stub = d.info.get("stubdom")
            if stub is not None and not stub.is_dying:
                self.hyp.destroy_domain(stub)
        target = d.info.get("dm_of")
        if target is not None and "device_model" in target.info:
            target.info["device_model"].crash()  # the stub domain died under its guest
        st, domid = self.xsd.store, d.domid
        for key in [k for k in self.backends if k[1] == domid]:
            dev = self.backends.pop(key)
            dev.destroy()
            for state in (XenbusState.Closing, XenbusState.Closed):
                _quiet(st.write, 0, dev.be + "/state", str(int(state)))
        for kind in ("vif", "vbd"):
            _quiet(st.rm, 0, f"/local/domain/0/backend/{kind}/{domid}")
        self.xsd.release(domid)
        for key in [p for p in self.pages if p[0] == domid]:
            del self.pages[key]

    def leaks(self, domid: int) -> list[str]:
        """Anything of *domid* still held anywhere (empty after a clean destroy)."""
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
        st = self.xsd.store
        out += [p for p in st.db.nodes
                if p.startswith(f"/local/domain/{domid}") or f"/{domid}/" in p + "/"
                and "/backend/" in p]
        out += [f"watch {w.path}" for w in st.watches.watches
                if w.domid == domid or f"/local/domain/{domid}/" in w.path + "/"]
        out += [f"backend {k}" for k in self.backends if k[1] == domid]
        out += [f"page {k}" for k in self.pages if k[0] == domid]
        if domid in self.xsd.conns or domid in self.bridge.ports:
            out.append("xenstore connection or bridge port")
        return out


def _device_counts(cfg: Any, workload: str) -> tuple[int, int]:
    """(vifs, disks): those the config lists, or one of each kind the workload needs."""
    needs = DEVICE_NEEDS.get(workload.partition(":")[0], ())
    nvifs = max(len(getattr(cfg, "vifs", ())), 1 if "vif" in needs else 0)
    ndisks = max(len(getattr(cfg, "disks", ())), 1 if "vbd" in needs else 0)
    return nvifs, ndisks


def _tick(g: GuestVcpu, port: int) -> int:
    return 0


def _quiet(fn: Any, *args: Any) -> None:
    try:
        fn(*args)
    except XsError:
        pass


def _mac(domid: int, devid: int) -> str:
    return f"00:16:3e:{(domid >> 8) & 0xFF:02x}:{domid & 0xFF:02x}:{devid & 0xFF:02x}"

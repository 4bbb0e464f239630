"""The cost model: the price of each primitive step, with where the number came from.

Design note.  Everything else in xensim is *emergent*: I/O latency, PV-vs-HVM
overhead and scheduler effects come from work queued on vCPUs that the
scheduler may or may not run.  Only primitive steps have a fixed price, and
this module is the one place that holds them.  Each entry names its source
(a row of ``shared/reference/published-results.md``, a manual, or an
estimate with its reasoning), so a reader can judge every number.

Cycle figures are turned into nanoseconds at :data:`NOMINAL_GHZ`, a
present-day server clock; a host may override any entry by name
(``[host.costs]`` in a scenario, ``Host(costs={...})`` in Python).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

NOMINAL_GHZ = 3.0
"""Clock used to turn published cycle counts into ns (3 GHz: a typical Xeon)."""


def cycles(n: int) -> int:
    """Cycles at :data:`NOMINAL_GHZ` to whole nanoseconds."""
    return round(n / NOMINAL_GHZ)


@dataclass(frozen=True, slots=True)
class Cost:
    """One primitive: its default price in ns and the source of that number."""

    name: str
    ns: int
    source: str
    description: str


_DEFAULTS: tuple[Cost, ...] = (
    Cost("context_switch", 1_500,
         "estimate: a Xen vCPU switch saves/restores registers and reloads CR3 "
         "(TLB refill dominates); same order as the x86 VM switch in Dall et al. "
         "ISCA 2016 Table 3 (R: verify)",
         "switching a pCPU from one guest vCPU to another (lazy: switches to and "
         "from the idle vCPU that resume the same vCPU are free)"),
    Cost("hypercall", cycles(1_230),
         "Dall et al., ISCA 2016, Table 3: x86 Xen hypercall ~1,230 cycles (R: verify)",
         "guest -> Xen -> guest round trip of one hypercall, before its own work"),
    Cost("upcall", cycles(1_500),
         "estimate: event-channel upcall entry/exit in a PV kernel, between a "
         "hypercall and an exit in cost",
         "Xen delivering an event-channel upcall into the guest kernel"),
    Cost("evtchn_irq", 300,
         "estimate: a PV Linux kernel dispatching one pending port to its handler "
         "(xen_evtchn_do_upcall -> generic_handle_irq), a few hundred cycles",
         "guest kernel work per port found pending in an upcall, before the driver's own work"),
    Cost("grant_map", 1_000,
         "estimate: Xen validates the entry, pins it and writes one PTE; same order as "
         "a validated PV PTE write (published-results 2.2, ptemod) plus bookkeeping",
         "one GNTTABOP_map_grant_ref entry"),
    Cost("grant_unmap", 2_000,
         "estimate: PTE clear plus a local TLB flush, roughly twice a map",
         "one GNTTABOP_unmap_grant_ref entry"),
    Cost("grant_copy", 300,
         "estimate: acquire/release of both grants for one copy op",
         "fixed part of one GNTTABOP_copy entry"),
    Cost("grant_copy_4k", 600,
         "estimate: memcpy of 4 KiB at about 7 GB/s on a present-day Xeon",
         "copying 4 KiB in a GNTTABOP_copy (pro-rated by length)"),
    Cost("mmu_update_batch", cycles(600),
         "estimate: per-call setup of a batched PV page-table update (lock, TLB flush "
         "decision), a fraction of a hypercall",
         "fixed part of one mmu_update / update_va_mapping call"),
    Cost("mmu_update_entry", cycles(391),
         "published-results 2.2 (Adams & Agesen): a BT VMM's PTE write costs 391 cycles; "
         "Xen's validated PV PTE write taken as the same order (estimate)",
         "validating and writing one PTE in mmu_update"),
    Cost("xenstored_request", 15_000,
         "estimate: xenstored is a dom0 user process (ring copy, tdb/tree update, "
         "reply, evtchn notify): tens of microseconds per request",
         "dom0 CPU time for xenstored to serve one request"),
    Cost("netback_packet", 2_000,
         "estimate from published-results 2.6: the driver-domain path is 3-4x native "
         "(Apparao et al.), ~0.5 us native per packet; Santos et al. show it is large",
         "dom0 netback work per packet (skb, bridge hop), besides its grant copy"),
    Cost("netfront_packet", 1_000,
         "estimate: guest TCP/IP stack plus netfront per packet, about native cost",
         "guest kernel work per packet sent or received"),
    Cost("nic_rx_packet", 1_000,
         "estimate: dom0 physical NIC driver receive plus bridge lookup per packet",
         "dom0 work per packet taken from the physical NIC"),
    Cost("blkback_request", 3_000,
         "estimate: blkback request parsing, bio setup and completion in dom0",
         "dom0 blkback work per block request, besides its grant maps/unmaps"),
    Cost("blkfront_request", 1_500,
         "estimate: guest block layer plus blkfront per request",
         "guest kernel work per block request issued or completed"),
    Cost("balloon_page", 1_000,
         "estimate: Linux's balloon driver allocates (or frees) and scrubs one 4 KiB page "
         "and updates the p2m, and Xen frees (or allocates) it: about a microsecond",
         "guest kernel plus Xen work per page given back or reclaimed by the balloon"),
    Cost("nic_ns_per_kib", 8_192,
         "1 Gbit/s Ethernet: 8 ns per byte on the wire",
         "serialisation time of 1 KiB on the physical NIC (pro-rated)"),
    Cost("nic_latency", 20_000,
         "estimate: one-way wire plus switch latency to a client on the LAN; "
         "Zeng et al. (published-results 2.3) measure ~0.08 ms RTT to a boosted guest",
         "one-way latency between the host's NIC and an external client"),
    Cost("disk_seq_access", 20_000,
         "estimate: a SATA SSD serving the next sequential 4 KiB",
         "disk access time of a request that continues the previous one"),
    Cost("disk_rand_access", 100_000,
         "estimate: a SATA SSD random 4 KiB read, ~100 us",
         "disk access time of a request elsewhere on the disk"),
    Cost("disk_ns_per_kib", 2_000,
         "estimate: ~500 MB/s SATA SSD transfer rate",
         "disk transfer time per KiB (pro-rated)"),
    Cost("vmexit", cycles(2_000),
         "published-results 2.6 (SplitX, Xeon X5570 with EPT): direct cost of one exit "
         "~2,000 cycles; Bugnion et al. Table 4.3 give 500-1,200 cycles for the bare "
         "round trip on 2008-2014 parts",
         "an HVM vCPU's VM exit plus the VM entry back, before the handler's own work"),
    Cost("hvm_io_decode", cycles(1_000),
         "estimate: Xen decodes the trapping instruction (hvmemul) and searches its "
         "intercept tables before handling or forwarding the access",
         "Xen's work per I/O-port or MMIO exit, before the device's emulation"),
    Cost("hvm_internal_device", cycles(1_500),
         "estimate: Xen's own RTC/PIT/LAPIC emulation of one register access; the "
         "whole in-VMM port access of published-results 2.2 (15,826 cycles on a P4) "
         "less its world switch, scaled to a present-day part",
         "one access to a device Xen emulates itself (RTC, PIT, LAPIC EOI)"),
    Cost("ioreq_send", cycles(1_500),
         "estimate: hvm_send_ioreq fills the vCPU's ioreq slot, notifies the emulator's "
         "event channel and deschedules the vCPU",
         "Xen forwarding one access to the device model (ioreq server)"),
    Cost("ioreq_complete", cycles(1_000),
         "estimate: hvm_io_assist copies the answer back and re-enters the guest",
         "Xen finishing an access the device model answered"),
    Cost("qemu_ioreq", 5_000,
         "estimate: dom0's kernel wakes the qemu process through /dev/xen/evtchn, qemu "
         "reads the ioreq page, dispatches, writes the answer and notifies Xen (an ioctl "
         "and a hypercall); Zhang et al. (published-results 2.6) count several context "
         "switches per emulated request",
         "device-model CPU time per ioreq, before the device's own register work"),
    Cost("qemu_register", 300,
         "estimate: one emulated device register handler in qemu (a switch on the "
         "offset and a state update)",
         "device-model CPU time for the device work of one register access"),
    Cost("qemu_dma_4k", 1_200,
         "estimate: qemu maps guest memory through its mapcache (foreign mapping) and "
         "copies 4 KiB: about twice a grant copy",
         "device-model CPU time to DMA 4 KiB to or from guest memory (pro-rated)"),
    Cost("qemu_net_packet", 4_000,
         "estimate: qemu's NIC emulation passes a packet through its tap device (a "
         "read/write syscall in dom0 and a bridge hop); Barham et al. and Gregg "
         "(published-results 2.1, 2.6) show emulated NICs several times dearer than PV",
         "device-model CPU time per packet sent or received through tap"),
    Cost("qemu_disk_request", 5_000,
         "estimate: qemu's block layer submitting one request with Linux AIO and "
         "completing it",
         "device-model CPU time per emulated disk request"),
    Cost("hvm_irq_inject", cycles(1_000),
         "estimate: Xen asserting an interrupt in the vIOAPIC/vLAPIC and injecting it "
         "at VM entry",
         "delivering one interrupt (emulated device or the PV callback vector) to an "
         "HVM vCPU"),
    Cost("pt_irq_remap", cycles(2_000),
         "ELI (Gordon et al., ASPLOS 2012): with device assignment the host still takes "
         "every interrupt of the assigned device (an external-interrupt exit, then the "
         "guest's EOI exit), which keeps I/O-heavy guests 1.3-1.6x below what they reach "
         "without those exits (97-100% of bare metal); one exit's direct cost ~2,000 "
         "cycles (SplitX, published-results 2.6)",
         "Xen taking a passed-through device's physical interrupt and remapping it to "
         "its guest (external-interrupt exit, dirq assist, virtual MSI), before the "
         "injection"),
    Cost("iommu_iotlb_miss", 300,
         "estimate: a 4-level IOMMU page walk whose references mostly miss the caches; "
         "Amit, Ben-Yehuda, Yassour, WIOSCA 2010 (\"IOMMU: strategies for mitigating "
         "the IOTLB bottleneck\"): network buffers miss the IOTLB on most DMAs (R: verify)",
         "the IOMMU translating one DMA of a passed-through device (an IOTLB miss), "
         "added to the device's transfer"),
    Cost("pt_nic_packet", 500,
         "estimate: a native NIC driver's work per packet (descriptor, doorbell MMIO "
         "mapped without an exit, completion): the ~0.5 us native per packet behind "
         "netback_packet; Dong et al. (SR-IOV on Xen, HPCA 2010 / JPDC 2012): an "
         "assigned VF runs at line rate, the overhead left being interrupt "
         "virtualisation (R: verify)",
         "guest kernel work per packet on a passed-through NIC (native driver)"),
    Cost("hvm_cpuid_msr", cycles(800),
         "estimate: Xen's handler for a CPUID or an MSR access it emulates (policy "
         "lookup, a register update)",
         "handler work of a CPUID, RDMSR or WRMSR exit"),
    Cost("shadow_pte_write", cycles(12_733 - 2_000),
         "published-results 2.2 (Adams & Agesen): a PTE write costs 12,733 cycles under "
         "a trap-and-emulate VMM without EPT, less the exit itself",
         "Xen emulating one write to a write-protected guest page table and updating "
         "the shadow"),
    Cost("shadow_page_fault", cycles(11_242 - 1_093 - 2_000),
         "published-results 2.2 (Adams & Agesen): pgfault takes 11,242 cycles under a "
         "trap-and-emulate VMM against 1,093 native, less the exit itself",
         "Xen's shadow-fault handling (propagate or fix the shadow, reflect the fault) "
         "per guest page fault"),
    Cost("native_syscall", 100,
         "estimate: lmbench's null call is ~0.1 us on a present-day Linux",
         "a null system call entered and left in the guest kernel"),
    Cost("pv_syscall_bounce", 600,
         "estimate from the mechanism (no published figure, published-results 2.6): on "
         "64-bit PV the syscall lands in Xen, which switches to the guest kernel's page "
         "tables and bounces, and the return goes through HYPERVISOR_iret: two "
         "transitions and a TLB refill without global kernel pages",
         "extra price of one system call in a 64-bit PV guest"),
    Cost("native_page_fault", cycles(1_093),
         "published-results 2.2 (Adams & Agesen): native pgfault 1,093 cycles",
         "a guest page fault handled by the guest kernel"),
    Cost("pv_fault_bounce", cycles(1_000),
         "estimate: a PV guest's page fault traps to Xen first, which builds a bounce "
         "frame and enters the guest kernel's handler",
         "extra price of one page fault in a PV guest"),
    Cost("native_pte_write", cycles(30),
         "estimate: one store plus the kernel's bookkeeping for it",
         "a page-table write where the guest owns its page tables (HVM with HAP, PVH)"),
    Cost("tlb_miss", cycles(30),
         "estimate: a 4-level page walk that hits the data caches",
         "one TLB miss walked natively (PV and shadow paging: one dimension)"),
    Cost("tlb_miss_hap", cycles(90),
         "estimate: a two-dimensional walk (guest and nested tables, up to 24 "
         "references) costs a few times a native one (Bhargava et al., ASPLOS 2008: R)",
         "one TLB miss under HAP (EPT/NPT)"),
    # --- KVM host kind (see hypervisor/kvm/) ---------------------------------------------
    Cost("kvm_user_exit", cycles(2_530),
         "published-results 2.6 (LKML, Dec 2020, SVM vmload thread): a KVM_RUN ioctl "
         "round trip measures ~2,530 cycles",
         "KVM returning an exit to QEMU in user space on the vCPU's own thread, and "
         "QEMU re-entering with KVM_RUN, beyond the exit itself"),
    Cost("kvm_ioeventfd", cycles(700),
         "estimate: kvm_io_bus_write finds the registered eventfd and eventfd_signal "
         "wakes its waiter: a lookup and a wake-up, a fraction of the exit's own "
         "~2,000 cycles (published-results 2.6, SplitX)",
         "KVM's in-kernel handling of a virtqueue kick (ioeventfd), beyond the exit"),
    Cost("vhost_net_packet", 1_500,
         "estimate: vhost-net handle_tx/handle_rx per packet (descriptor fetch, copy "
         "between guest memory the worker maps directly and an skb, tap and bridge "
         "hop): netback's per-packet work (netback_packet) without its grant copy "
         "hypercall, plus the copy itself",
         "host-task (vhost worker) work per packet sent or received through virtio-net"),
    Cost("virtio_blk_request", 3_000,
         "estimate: the host's virtio-blk backend (QEMU's iothread with Linux AIO) "
         "parses the descriptor chain, submits and completes the bio: blkback's "
         "per-request work (blkback_request) without grant maps",
         "backend work per virtio-blk request"),
    Cost("qemu_mmio_dispatch", 500,
         "estimate: QEMU's memory API finds the MemoryRegion of an address and calls "
         "its handler under the big QEMU lock (address_space_rw, memory_region_dispatch); "
         "no ioreq page, no event channel",
         "QEMU dispatching one device access inline on the vCPU thread (KVM user exit "
         "or a TCG softmmu I/O access), before the device's own register work"),
    # --- qemu-tcg host kind (see domains/hosted/platforms.py) ----------------------------
    Cost("tcg_slowdown_permille", 8_000,
         "estimate (no row in published-results; R: verify against Bellard, USENIX ATC "
         "2005): QEMU's TCG runs integer guest code about 5-10x slower than native; the "
         "BT VMM of published-results 2.2 is near native because it only translates "
         "kernel code, TCG translates everything",
         "per mille: guest and guest-kernel compute under TCG, same architecture "
         "(8000 = 8x native)"),
    Cost("tcg_arch_x86_64_permille", 1_000,
         "definition: the same architecture as the host is the base of "
         "tcg_slowdown_permille", "per mille: extra factor for an x86_64 guest on x86_64"),
    Cost("tcg_arch_aarch64_permille", 1_300,
         "estimate: an aarch64 guest has 31 registers to map onto x86_64's 16 (spills) "
         "and NZCV flags computed lazily; its weaker memory order costs nothing on a "
         "TSO host",
         "per mille: extra factor for an aarch64 guest on an x86_64 host"),
    Cost("tcg_arch_riscv64_permille", 1_150,
         "estimate: riscv64 has no flags and simple instructions, but 31 registers to "
         "map onto 16", "per mille: extra factor for a riscv64 guest on an x86_64 host"),
    Cost("tcg_translate_permille", 40_000,
         "estimate: translating a block costs tens of times executing it once "
         "(decode, TCG ops, optimise, host code emission)",
         "per mille: the price of guest code run for the first time (before the "
         "translation cache holds it), relative to native"),
    Cost("tcg_cold_code_ns", 2_000_000,
         "estimate: a few MB of kernel and application code on their first pass, "
         "counted as 2 ms of native execution per domain and code kind",
         "native-equivalent ns of each domain's guest (and kernel) code that runs "
         "cold, at tcg_translate_permille, before the rest runs translated"),
    Cost("tcg_syscall", cycles(1_500),
         "estimate: a syscall under TCG leaves the translated block for the CPU loop "
         "(cpu_loop_exit, exception injection, a new TB lookup) and back on sysret",
         "extra price of one guest system call under TCG"),
    Cost("tcg_tlb_fill", cycles(600),
         "estimate: a softmmu TLB miss calls tlb_fill, walking the guest page tables "
         "in C (get_physical_address) and filling the TLB entry",
         "one guest TLB miss under TCG (replaces the hardware walk)"),
    Cost("tcg_tlb_flush_page", cycles(450),
         "estimate: a guest page-table write is followed by INVLPG, which TCG turns "
         "into tlb_flush_page over every MMU mode's TLB",
         "extra price of one guest page-table write under TCG"),
    Cost("logdirty_fault_pv", cycles(11_242 - 1_093),
         "published-results 2.2 (Adams & Agesen): a page fault under a shadow-paging VMM "
         "costs 11,242 cycles against 1,093 native; a log-dirty write fault is such a "
         "shadow fault (trap, mark the page dirty, make the shadow entry writable)",
         "a guest's first write to a page after a log-dirty clean under shadow log-dirty "
         "(PV, or HVM with hap = 0)"),
    Cost("logdirty_fault_hap", cycles(2_000 + 1_500),
         "published-results 2.6 (SplitX): ~2,000 cycles per exit, plus an estimate of "
         "1,500 cycles for Xen's EPT-violation handler changing the p2m type from "
         "logdirty to rw and setting the bit (no Intel PML)",
         "an HVM guest's first write to a page after a log-dirty clean (HAP dirty tracking)"),
    Cost("logdirty_clean_page", 100,
         "estimate: XEN_DOMCTL_SHADOW_OP_CLEAN copies the bitmap out and write-protects "
         "each dirty page again (one PTE or p2m entry and its share of the TLB flush)",
         "Xen's work per dirty page in a log-dirty clean (charged to dom0's save helper)"),
    Cost("migrate_send_page", 5_000,
         "estimate: libxc's save helper maps a batch of guest frames "
         "(xenforeignmemory_map), copies each 4 KiB into the socket and TCP sends it; "
         "one dom0 vCPU then tops out near 6.5 Gbit/s, the order single-stream xl "
         "migrations reach on 10 Gbit/s links (R: verify)",
         "dom0 CPU time per 4 KiB page the sending side writes to the migration stream"),
    Cost("migrate_recv_page", 4_000,
         "estimate: the receiving helper reads the page from the socket and copies it "
         "into the new domain's memory through a foreign mapping: a send without the "
         "TCP transmit path",
         "dom0 CPU time per 4 KiB page the receiving side restores"),
    Cost("qemu_save_state", 2_000_000,
         "estimate: libxl asks qemu (QMP xen-save-devices-state) to serialise its "
         "devices' state to a file: a few ms of the device model's CPU",
         "device-model CPU time to save an HVM guest's device state at suspend"),
    Cost("tcg_page_fault", cycles(3_000),
         "estimate: the softmmu walk fails, the vCPU leaves the TB, raises the guest "
         "exception and looks up the handler's TB: about three times a native fault",
         "extra price of one guest page fault under TCG"),
    Cost("libxl_domain_build", 100_000_000,
         "estimate: Manco et al., SOSP 2017 (LightVM; published-results, Xen scaling): "
         "xl/libxl take on the order of 100 ms to create a small guest on an idle host, "
         "more with many guests (xenstore); modelled flat (R: verify)",
         "simulated time libxl takes to rebuild a domain for an on_* restart, after xl's "
         "2 s sleep"),
)


class CostModel(Mapping[str, int]):
    """The table of primitive costs for one host: defaults plus overrides.

    Reads like a dict (``costs["hypercall"]``) so hot paths pay one lookup;
    :meth:`rows` gives the documented table for the README and ``xensim costs``.
    """

    def __init__(self, overrides: Mapping[str, int] | None = None) -> None:
        self._entries: dict[str, Cost] = {c.name: c for c in _DEFAULTS}
        self._ns: dict[str, int] = {c.name: c.ns for c in _DEFAULTS}
        for name, ns in (overrides or {}).items():
            self.override(name, ns)

    def override(self, name: str, ns: int) -> None:
        if name not in self._entries:
            known = ", ".join(sorted(self._entries))
            raise KeyError(f"unknown cost {name!r}; known costs: {known}")
        if isinstance(ns, bool) or not isinstance(ns, int) or ns < 0:
            raise ValueError(f"cost {name!r} must be a non-negative integer of ns, got {ns!r}")
        self._ns[name] = ns

    def __getitem__(self, name: str) -> int:
        return self._ns[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._ns)

    def __len__(self) -> int:
        return len(self._ns)

    def rows(self) -> list[tuple[str, int, str, str]]:
        """(name, ns in force, source, description) for every primitive."""
        return [(n, self._ns[n], c.source, c.description) for n, c in self._entries.items()]

    @staticmethod
    def register(cost: Cost) -> None:
        """Add a primitive to the default table (used by subsystems that own new steps)."""
        global _DEFAULTS
        if any(c.name == cost.name for c in _DEFAULTS):
            raise ValueError(f"cost {cost.name!r} is already registered")
        _DEFAULTS = _DEFAULTS + (cost,)

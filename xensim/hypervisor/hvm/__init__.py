"""Hardware-assisted guests: VM exits, the ioreq path to device models, Xen's own devices.

Mirrors the split of xen/arch/x86/hvm/: an HVM (or PVH) vCPU runs guest
code at native speed until something needs the hypervisor, which is a VM
exit (:mod:`.exits`); I/O-port and MMIO exits are decoded and either
handled by a device Xen emulates itself (RTC, PIT, the LAPIC EOI:
:mod:`.vdevices`) or forwarded as an *ioreq* to the device model that
registered for the address (:mod:`.ioreq`), while the vCPU waits blocked in
Xen.  :class:`~.domain.HvmDomain` holds one domain's state (paging mode,
ioreq servers, interrupt lines).
"""

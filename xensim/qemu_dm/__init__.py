"""The device model: one qemu process per HVM guest, serving the ioreqs Xen forwards.

Mirrors qemu-xen's xen-hvm.c (the ioreq server loop: handle_ioreq,
cpu_handle_ioreq, handle_buffered_iopage) and the emulated PC devices an
HVM guest finds: PIIX3 IDE with bus-master DMA (:mod:`.ide`), the e1000
and rtl8139 NICs (:mod:`.e1000`, :mod:`.rtl8139`), a 16550 UART
(:mod:`.uart`), the VGA window whose writes Xen buffers (:mod:`.vga`) and
the Xen platform PCI device through which a guest with PV drivers unplugs
the emulated disks and NICs (:mod:`.xen_platform`).  The RTC and PIT are
not here: Xen emulates them itself (:mod:`xensim.hypervisor.hvm.vdevices`).

:class:`~.process.DeviceModel` runs its work on dom0's vCPUs (or a stub
domain's, :mod:`.stubdom`), so a starved dom0 starves every emulated
device of every HVM guest.
"""

"""KVM: hardware-assisted guests whose exits the host Linux kernel handles.

The same VMX exits as Xen's HVM (:mod:`xensim.hypervisor.hvm`), handled in
a different place: KVM, a module of the host kernel, answers what it
emulates itself (the LAPIC, the PIT, virtqueue kicks through ioeventfd)
in the kernel, and returns every other I/O exit to the VMM (QEMU) in user
space *on the vCPU's own thread*: no ioreq, no event channel, no other
domain has to be scheduled.  :class:`~.vm.KvmVm` is that per-VM state.
"""

"""What runs in the domains: the guest OS, dom0's services, the split-driver protocol
both share, and the hosted kinds' host-side tasks.

- :mod:`~xensim.domains.guest`: the guest OS (kernel, vCPU program runner, platform
  costs per mode, workloads, balloon, drivers for emulated and passed-through devices);
- :mod:`~xensim.domains.dom0`: Domain-0's services (xenstored and the xenstore tree,
  backends' scheduling, the host's I/O system, physical devices, bridges);
- :mod:`~xensim.domains.pvio`: the protocol both ends speak (shared rings, XenbusState
  negotiation, xenbus buses, netif and blkif front and back);
- :mod:`~xensim.domains.hosted`: KVM and QEMU-TCG hosts' tasks, devices and virtio.
"""

"""The simulated hypervisor: pCPUs, vCPUs, domains, scheduling and hypercalls.

This layer knows nothing of xl, configs or devices.  Guests reach it only
through :meth:`Hypervisor.hypercall` (0 or ``-errno``) and, for HVM vCPUs,
through VM exits.
"""

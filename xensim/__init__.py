"""xensim: a Xen-style paravirtual hypervisor simulator with a dom0 toolstack.

The public entry point for notebooks is :class:`xensim.host.Host`; the command
line faces are ``xensim`` (scenarios, experiments) and ``xl`` (the toolstack).
"""

__version__ = "0.1.0"

"""The xenstore database as xenstored keeps it (pure logic, no SimPy).

Modules: :mod:`store` (the operations), :mod:`nodes` (tree and views),
:mod:`transaction`, :mod:`watch`, :mod:`perms`, :mod:`domain`
(introduce/release), :mod:`wire` (message types and dispatch),
:mod:`dump` (xenstore-ls), :mod:`errors`.
"""

from xensim.domains.dom0.xenstore.domain import introduce_domain, release_domain
from xensim.domains.dom0.xenstore.dump import xenstore_ls
from xensim.domains.dom0.xenstore.errors import XsError
from xensim.domains.dom0.xenstore.store import XenStore
from xensim.domains.dom0.xenstore.wire import XsType, do_xs_request

__all__ = [
    "XenStore",
    "XsError",
    "XsType",
    "do_xs_request",
    "introduce_domain",
    "release_domain",
    "xenstore_ls",
]

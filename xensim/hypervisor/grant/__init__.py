"""Grant tables (v1), as xen/common/grant_table.c and public/grant_table.h.

``abi`` holds the GNTTABOP numbers, flags, statuses and op structs; ``grant_table`` the
shared entries, active pins, maptrack and the verbs; ``guest`` the granting guest's
side; ``lifecycle`` tables across a domain's death and the 'g' debug key.  The
hypercall face (``grant_table_op``) sits beside the dispatch table, in
:mod:`xensim.hypervisor.hc_evtchn`.
"""

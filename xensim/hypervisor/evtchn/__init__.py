"""Event channels, as xen/common/event_channel.c, event_2l.c and public/event_channel.h.

``abi`` holds the EVTCHNOP numbers, port states, VIRQs and op structs; ``event_channel``
the per-domain port tables and the verbs; ``event_2l`` the 2-level delivery ABI.  The
hypercall face (``event_channel_op``) sits beside the dispatch table, in
:mod:`xensim.hypervisor.hc_evtchn`.
"""

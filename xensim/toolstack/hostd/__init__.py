"""The persistent simulated host: a daemon holding one :class:`~xensim.host.Host`, and its client.

``runtime`` names the files (socket, pid, lock, log, checkpoint) and checks that they are
privately the user's; ``spec`` is the host's options, checked once; ``protocol`` is the
wire format and its limits; ``server`` serves many clients from one non-blocking loop;
``daemon`` runs the host paced to the wall clock, isolates faults and checkpoints;
``checkpoint`` writes and restores the whole host; ``client`` starts, stops and talks
to a daemon.  ``runtime``, ``spec``, ``protocol`` and ``client`` use only the standard
library: the thin ``xl`` client imports them.  Guarantees: docs/reliability.md.
"""

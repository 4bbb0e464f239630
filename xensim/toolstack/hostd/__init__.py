"""The persistent simulated host: a daemon holding one :class:`~xensim.host.Host`, and its client.

``runtime`` names the files (socket, pid file, log), ``daemon`` runs the host
paced to the wall clock and executes requests one at a time, ``client``
talks to it and starts it on demand.
"""

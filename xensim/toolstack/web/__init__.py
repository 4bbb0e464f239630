"""The live web view of a running host: ``xensim host start --web [ADDR:]PORT``.

Three parts, each with one job:

- :mod:`.recorder` runs in the simulation's own thread: it takes the scheduler's
  context switches and BOOST changes from the trace hook and, a few times a second, turns
  the host into a *frame* (domains with ``xl list``'s and ``xl top``'s figures, the pCPU
  slices since the previous frame, CPU shares, wake-up latencies, new ``xl dmesg`` lines).
- :mod:`.server` serves the page and the frames from a stdlib HTTP server in a thread of
  its own; it only ever reads finished frames (bytes), never the host, so the simulation
  needs no locks.
- ``static/`` is the page: plain HTML, JS and canvas, no build step and no dependency.
- :mod:`.bind` parses ``--web [ADDR:]PORT`` (standard library only, for thin clients).

The host daemon's hook is :func:`.server.start_for_daemon` when it starts, then
:meth:`.server.WebView.tick` in its loop and :meth:`.server.WebView.close` when it stops.
Nothing is imported here, so checking an option does not load the simulator.
"""

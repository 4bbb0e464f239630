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

The host daemon's hook is two calls: :meth:`WebView.tick` in its loop and
:meth:`WebView.close` when it stops.
"""

from xensim.toolstack.web.server import WebView, parse_bind, start_for_daemon

__all__ = ["WebView", "parse_bind", "start_for_daemon"]

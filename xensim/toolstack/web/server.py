"""The web view's HTTP side: the page, its script, and the recorder's frames.

A stdlib :class:`~http.server.ThreadingHTTPServer` runs in a daemon thread and serves
only bytes the simulation thread has finished: :meth:`WebView.tick` (called from the host
daemon's loop, or from a test's) builds a frame every :data:`FRAME_INTERVAL_S` of wall
time and puts it in a ring of the last :data:`FRAMES_KEPT`; a page asks for
``/frames?since=SEQ`` and gets the newer ones as one JSON list.  The server thread never
touches the host, so neither side takes a lock longer than a list copy.

Access: bound to a loopback address the page is open (the host daemon's Unix socket is
no better protected); bound to any other address every request must carry the token
printed at start (``?token=...``; the page forwards it), compared in constant time.
"""

from __future__ import annotations

import html
import secrets
import sys
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from xensim.toolstack.web.bind import DEFAULT_ADDR, BindError, is_loopback, parse_bind
from xensim.toolstack.web.recorder import FrameRecorder

if TYPE_CHECKING:
    from xensim.host import Host

FRAME_INTERVAL_S = 0.2
"""Wall time between frames: five a second keeps a 1 s reaction with room to spare."""
FRAMES_KEPT = 50
"""Ten seconds of frames: enough for a page that just opened to draw its timeline."""
STATIC = {"/": ("index.html", "text/html; charset=utf-8"),
          "/app.js": ("app.js", "text/javascript; charset=utf-8")}


class WebView:
    """Serves a live view of *host* on ``http://addr:port/``; call :meth:`tick` often
    from the thread that runs the host."""

    def __init__(self, host: Host, addr: str = DEFAULT_ADDR, port: int = 0, *,
                 title: str = "xensim", need_token: bool | None = None) -> None:
        """*need_token*: None decides by *addr* (loopback: no token)."""
        self.recorder = FrameRecorder(host)
        if need_token is None:
            need_token = not is_loopback(addr)
        self.token = secrets.token_urlsafe(18) if need_token else None
        self.title = title
        self.frames: deque[tuple[int, bytes]] = deque(maxlen=FRAMES_KEPT)
        self.lock = threading.Lock()
        self.next_frame = 0.0
        self.httpd = ThreadingHTTPServer((addr, port), _handler_for(self))
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="xensim-web",
                                       kwargs={"poll_interval": 0.5}, daemon=True)
        self.thread.start()
        self.tick(force=True)

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        host = f"[{host}]" if ":" in str(host) else host
        query = f"?token={self.token}" if self.token else ""
        return f"http://{host}:{port}/{query}"

    def tick(self, *, force: bool = False) -> None:
        """Build a frame if one is due (cheap to call every loop iteration)."""
        now = time.monotonic()
        if not force and now < self.next_frame:
            return
        self.next_frame = now + FRAME_INTERVAL_S
        seq, data = self.recorder.seq + 1, self.recorder.frame_json()
        with self.lock:
            self.frames.append((seq, data))

    def frames_since(self, since: int) -> bytes:
        with self.lock:
            newer = [data for seq, data in self.frames if seq > since]
        return b"[" + b",".join(newer) + b"]"

    def authorised(self, query: dict[str, list[str]]) -> bool:
        if self.token is None:
            return True
        given = query.get("token", [""])[0]
        return secrets.compare_digest(given.encode(), self.token.encode())

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


def _handler_for(view: WebView) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "xensim-web"

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            query = parse_qs(url.query)
            if url.path != "/app.js" and not view.authorised(query):  # the script is public
                self._send(403, b"forbidden: this page needs the token printed at start\n",
                           "text/plain; charset=utf-8")
            elif url.path == "/frames":
                since = query.get("since", ["0"])[0]
                self._send(200, view.frames_since(int(since) if since.isdigit() else 0),
                           "application/json")
            elif url.path in STATIC:
                name, ctype = STATIC[url.path]
                body = resources.files(__package__).joinpath("static", name).read_bytes()
                self._send(200, body.replace(b"@TITLE@", html.escape(view.title).encode()), ctype)
            else:
                self._send(404, b"not found\n", "text/plain; charset=utf-8")

        def _send(self, status: int, body: bytes, ctype: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            try:
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the browser went away mid-answer

        def log_message(self, format: str, *args: Any) -> None:
            pass  # the daemon's log is for the host, not for every poll

    return Handler



def start_for_daemon(host: Host, spec: str, name: str) -> WebView | None:
    """The host daemon's ``--web [ADDR:]PORT``: serve *host* and say where in the log, or
    say why not and return None (the daemon then refuses to start)."""
    try:
        addr, port = parse_bind(spec)
        view = WebView(host, addr, port, title=name)
    except (BindError, OSError) as exc:
        print(f"xensim: cannot serve the web view on {spec}: {exc}", file=sys.stderr, flush=True)
        return None
    print(f"xensim: web view of host {name!r} at {view.url}", file=sys.stderr, flush=True)
    return view

"""``xensim host start --web``: a bad address is refused before anything starts, a busy
port stops the daemon with the reason, and a good one is printed with the start line."""

from __future__ import annotations

import json
import re
import socket
import time
import urllib.request

from tests.cli.conftest import XlHost


def test_a_bad_web_address_is_a_usage_error(xlhost: XlHost) -> None:
    r = xlhost.xensim("host", "start", "--host", xlhost.name, "--web", "localhost:http")
    assert r.returncode == 2
    assert "--web 'localhost:http': expected [ADDR:]PORT" in r.stderr
    assert not xlhost.pidfile.exists()


def test_a_busy_port_stops_the_start_with_the_reason(xlhost: XlHost) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        r = xlhost.xensim("host", "start", "--host", xlhost.name, "--web", f"127.0.0.1:{port}")
    assert r.returncode == 1
    assert f"cannot serve the web view on 127.0.0.1:{port}: [Errno 98]" in r.stderr
    assert "Traceback" not in r.stderr


def test_the_view_follows_the_daemons_host(xlhost: XlHost) -> None:
    r = xlhost.xensim("host", "start", "--host", xlhost.name, "--pcpus", "2", "--web", "0")
    assert r.returncode == 0, r.stderr
    url = re.search(r"^web view: (http://127\.0\.0\.1:\d+/)$", r.stdout, re.M).group(1)  # type: ignore[union-attr]
    assert xlhost.xl("create", "configs/cpu-hog.cfg").returncode == 0
    # the next frames (five a second) carry the guest and the dmesg line of its creation
    deadline = time.monotonic() + 10
    names: set[str] = set()
    dmesg: list[str] = []
    while time.monotonic() < deadline and "cpu-hog" not in names:
        frames = json.loads(urllib.request.urlopen(url + "frames", timeout=10).read())
        names = {d["name"] for f in frames for d in f["domains"]}
        dmesg += [m for f in frames for _, m in f["dmesg"]]
        time.sleep(0.2)
    assert "cpu-hog" in names
    assert any("cpu-hog" in m for m in dmesg)


def test_the_view_is_a_face_of_each_start_not_of_the_checkpoint(xlhost: XlHost) -> None:
    xlhost.start("--pcpus", "2", "--web", "0")
    assert xlhost.xl("create", "configs/cpu-hog.cfg").returncode == 0
    xlhost.stop()  # checkpoints the host, --web included in its spec
    r = xlhost.xensim("host", "start", "--host", xlhost.name, "--pcpus", "2")
    assert r.returncode == 0, r.stderr
    assert "restored from checkpoint" in r.stdout and "web view" not in r.stdout
    assert "options apply" not in r.stdout  # the same host options: only the face changed
    xlhost.stop()
    r = xlhost.xensim("host", "start", "--host", xlhost.name, "--pcpus", "2", "--web", "0")
    assert "restored from checkpoint" in r.stdout
    url = re.search(r"^web view: (http://127\.0\.0\.1:\d+/)$", r.stdout, re.M).group(1)  # type: ignore[union-attr]
    frames = json.loads(urllib.request.urlopen(url + "frames", timeout=10).read())
    assert "cpu-hog" in {d["name"] for d in frames[-1]["domains"]}

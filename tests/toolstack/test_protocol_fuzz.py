"""Fuzzing the daemon's socket protocol (issue #16): whatever bytes a client sends, the
daemon answers with one well-formed reply (or closes), and keeps serving.

A real :class:`~xensim.toolstack.hostd.server.Server` and
:class:`~xensim.toolstack.hostd.daemon.HostDaemon` run in this process on a Unix
socket; each example connects, sends, and reads the answer.  Inputs: raw bytes, JSON
values of every shape (deep nesting included), and requests that look almost right
(wrong types, odd ops, stray files, huge numbers).  ``FUZZ_EXAMPLES`` sets the budget:
the suite's default is CI-sized, ``make fuzz-protocol`` runs a deeper one.
"""

from __future__ import annotations

import json
import os
import socket
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from xensim.host import Host
from xensim.toolstack.hostd.daemon import HostDaemon
from xensim.toolstack.hostd.runtime import HostPaths
from xensim.toolstack.hostd.server import Server
from xensim.toolstack.hostd.spec import HostSpec

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "120"))
TRIED = {"inputs": 0}


class Rig:
    def __init__(self, root: Path) -> None:
        self.path = root / "f.sock"
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(str(self.path))
        self.listener.listen(16)
        self.daemon = HostDaemon(HostPaths("f", root), Host(pcpus=1, seed=1,
                                                            keep_destroyed=False),
                                 HostSpec(pcpus=1))
        self.server = Server(self.listener, self.daemon.handle, lambda msg: None)
        self.daemon.server = self.server

    def ask(self, payload: bytes) -> bytes:
        c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        c.setblocking(False)
        c.connect(str(self.path))
        data, sent, shut = b"", 0, False
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if sent < len(payload):
                try:
                    sent += c.send(payload[sent:sent + 65536])
                except BlockingIOError:
                    pass
            elif not shut:
                c.shutdown(socket.SHUT_WR)
                shut = True
            self.server.poll(0)
            self.daemon.check_pending()
            try:
                chunk = c.recv(65536)
            except BlockingIOError:
                continue
            except ConnectionResetError:
                break
            if not chunk:
                break
            data += chunk
        c.close()
        return data


@pytest.fixture(scope="module")
def rig() -> Iterator[Rig]:
    with tempfile.TemporaryDirectory(prefix="xf", dir="/tmp") as root:
        r = Rig(Path(root))
        yield r
        r.server.close_all()
        r.listener.close()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
    | st.text(max_size=30),
    lambda kids: st.lists(kids, max_size=5) | st.dictionaries(st.text(max_size=8), kids,
                                                             max_size=5),
    max_leaves=30)
ops = st.sampled_from(["xl", "status", "ping", "bogus", "", "XL"]) | json_values
argv_items = st.sampled_from(["list", "info", "-v", "vcpu-list", "dmesg", "help", "--help",
                              "sched-credit", "create", "-N", "domid", "Domain-0", "0",
                              "x" * 300, "\x00", "é"]) | st.text(max_size=20)
almost = st.fixed_dictionaries(
    {"op": ops},
    optional={"argv": st.lists(argv_items, max_size=6) | json_values,
              "cwd": st.sampled_from(["/", "relative", "/tmp"]) | json_values,
              "files": st.dictionaries(st.sampled_from(["/x", "rel", "/tmp/y"]),
                                       st.fixed_dictionaries({"data": st.text(max_size=12)})
                                       | st.fixed_dictionaries({"errno": st.integers()})
                                       | json_values, max_size=3) | json_values})
nested = st.integers(min_value=1, max_value=200_000).map(lambda n: b"[" * n + b"]" * (n % 7))
payloads = (st.binary(max_size=2048) | nested
            | json_values.map(lambda v: json.dumps(v).encode())
            | almost.map(lambda v: json.dumps(v).encode()))


@settings(max_examples=EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(payload=payloads)
def test_any_request_gets_one_wellformed_answer_and_the_host_lives(rig: Rig,
                                                                   payload: bytes) -> None:
    TRIED["inputs"] += 1
    answer = rig.ask(payload)
    reply: Any = json.loads(answer)
    assert isinstance(reply, dict) and isinstance(reply.get("rc"), int)
    assert isinstance(reply.get("stdout", ""), str) and isinstance(reply.get("stderr", ""), str)
    assert "internal error" not in reply.get("stderr", "")
    assert 0 in rig.daemon.host.hv.domains and rig.daemon.faults == 0
    if rig.daemon.stopping:  # a fuzzed {"op": "stop"}: the daemon would exit cleanly
        rig.daemon.stopping = False


def test_the_daemon_still_answers_a_real_request_after_fuzzing(rig: Rig) -> None:
    reply = json.loads(rig.ask(json.dumps({"op": "xl", "argv": ["list"], "cwd": "/"}).encode()))
    assert reply["rc"] == 0 and reply["stdout"].startswith("Name ")
    print(f"protocol fuzz: {TRIED['inputs']} inputs tried, failures: 0")

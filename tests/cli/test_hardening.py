"""Issue #16, against real daemons: each numbered problem that was reproduced on the old
daemon, checked here (the test names carry the problem's number).

Every test uses the ``xlhost`` fixture: a private runtime directory and a host that is
always stopped (killed by pid if need be) at the end.  Waits are bounded.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.cli.conftest import ROOT, XlHost, list_rows


def _pid(h: XlHost) -> int:
    return int(h.pidfile.read_text())


def _raw(h: XlHost, payload: bytes, *, shut: bool = True, timeout: float = 10) -> dict:
    """Send *payload* on the host's socket as a misbehaving client would."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(str(h.socket))
    s.sendall(payload)
    if shut:
        s.shutdown(socket.SHUT_WR)
    data = b""
    while chunk := s.recv(65536):
        data += chunk
    s.close()
    return json.loads(data)


def _list_ok(h: XlHost, timeout: float = 20) -> dict[str, dict[str, object]]:
    r = h.xl("list", timeout=timeout)
    assert r.returncode == 0, r.stderr
    return list_rows(r.stdout)


# --- 1: one request kills it -------------------------------------------------------------
def test_problem1_deeply_nested_json_is_refused_and_the_host_lives(xlhost: XlHost) -> None:
    xlhost.start()
    pid = _pid(xlhost)
    for payload in (b"[" * 100_000 + b"]" * 100_000, b'{"op": "xl", "argv": ' + b"[" * 2000,
                    b'{"op":"xl","argv":[' + b"1" * 5000 + b"]}", b"\xff\xfe", b"{}" * 10):
        reply = _raw(xlhost, payload)
        assert reply["rc"] == 1 and reply["stderr"].startswith("xensim: bad request:")
    assert _pid(xlhost) == pid
    assert "Domain-0" in _list_ok(xlhost)


# --- 3: one slow or idle client freezes everyone ----------------------------------------------
def test_problem3_slow_and_silent_clients_do_not_stall_others(xlhost: XlHost) -> None:
    xlhost.start()
    silent = []
    for _ in range(30):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(str(xlhost.socket))
        silent.append(s)
    silent[0].send(b"{")  # and one that trickles
    try:
        t0 = time.monotonic()
        assert "Domain-0" in _list_ok(xlhost)
        assert time.monotonic() - t0 < 5  # a served client: not the old 60 s freeze
        r = xlhost.xensim("host", "status", "--host", xlhost.name)
        assert r.returncode == 0 and "running, pid" in r.stdout
    finally:
        for s in silent:
            s.close()


def test_problem3_a_fifo_config_blocks_only_its_own_client(xlhost: XlHost, tmp_path: Path
                                                           ) -> None:
    xlhost.start()
    fifo = tmp_path / "vm.cfg"
    os.mkfifo(fifo)
    blocked = xlhost.popen_xl("create", str(fifo))
    try:
        time.sleep(0.5)
        assert blocked.poll() is None  # the client waits on the FIFO, as real xl would
        assert "Domain-0" in _list_ok(xlhost)  # the daemon does not
    finally:
        blocked.kill()
        blocked.wait(10)


def test_problem3_dev_zero_config_is_bounded(xlhost: XlHost) -> None:
    xlhost.start()
    r = xlhost.xl("create", "/dev/zero", timeout=30)
    assert r.returncode == 1
    assert "Failed to read config file: /dev/zero: File too large" in r.stderr
    assert list(_list_ok(xlhost)) == ["Domain-0"]


def test_problem3_status_of_a_stopped_daemon_is_running_not_dead(xlhost: XlHost) -> None:
    """A daemon that cannot answer (SIGSTOP) still holds its lock: status says so, and
    xl does not start a second one."""
    xlhost.start()
    pid = _pid(xlhost)
    os.kill(pid, signal.SIGSTOP)
    try:
        r = xlhost.xensim("host", "status", "--host", xlhost.name, timeout=30)
        assert r.returncode == 0
        assert f"running, pid {pid} (busy: no answer within 10 s)" in r.stdout
    finally:
        os.kill(pid, signal.SIGCONT)
    assert _pid(xlhost) == pid and "Domain-0" in _list_ok(xlhost)


def test_stop_of_a_host_that_is_not_running_says_so(xlhost: XlHost) -> None:
    r = xlhost.xensim("host", "stop", "--host", xlhost.name)
    assert r.returncode == 1 and "is not running" in r.stderr
    xlhost.start()
    r = xlhost.xensim("host", "stop", "--host", xlhost.name)
    assert r.returncode == 0 and "stopped" in r.stdout
    r = xlhost.xensim("host", "status", "--host", xlhost.name)
    assert r.returncode == 1 and "not running" in r.stdout


# --- 4: busy host, concurrent clients fail ---------------------------------------------------
def test_problem4_busy_host_serves_concurrent_creates_and_lists(xlhost: XlHost) -> None:
    xlhost.start("--speed", "10", "--pcpus", "2")
    for i in range(4):
        assert xlhost.xl("create", "configs/cpu-hog.cfg", f'name="busy{i}"').returncode == 0
    pid = _pid(xlhost)
    procs = [xlhost.popen_xl("create", "configs/cpu-hog.cfg", f'name="c{i}"', "memory=64")
             for i in range(8)] + [xlhost.popen_xl("list") for _ in range(8)]
    results = [(p.wait(120), p.stderr.read() if p.stderr else "") for p in procs]
    assert all(rc == 0 for rc, _ in results), results
    assert not any("started simulated host" in err for _, err in results)
    assert _pid(xlhost) == pid
    assert len([n for n in _list_ok(xlhost) if n.startswith("c")]) == 8


def test_concurrent_host_starts_make_exactly_one_daemon(xlhost: XlHost) -> None:
    procs = [subprocess.Popen([sys.executable, "-m", "xensim.cli", "host", "start", "--host",
                               xlhost.name], env=xlhost.env, cwd=ROOT, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for _ in range(4)]
    outs = [(p.wait(90), p.stdout.read() if p.stdout else "",
             p.stderr.read() if p.stderr else "") for p in procs]
    started = [o for rc, o, _ in outs if rc == 0]
    refused = [e for rc, _, e in outs if rc == 1]
    assert len(started) == 1 and len(refused) == 3, outs
    assert all("is already running (pid" in e for e in refused)


# --- 6: fd exhaustion exits the daemon ---------------------------------------------------------
def test_problem6_running_out_of_descriptors_refuses_clients_and_lives(xlhost: XlHost) -> None:
    def low_limit() -> None:  # the daemon inherits a hard limit of 64 descriptors
        resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))

    r = subprocess.run([sys.executable, "-m", "xensim.cli", "host", "start", "--host",
                        xlhost.name], env=xlhost.env, cwd=ROOT, capture_output=True, text=True,
                       timeout=60, preexec_fn=low_limit, check=False)
    assert r.returncode == 0, r.stderr
    pid = _pid(xlhost)
    held = []
    refused = 0
    for _ in range(100):  # more than the daemon has descriptors for
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(2)
        s.connect(str(xlhost.socket))
        held.append(s)
    time.sleep(1.0)
    for s in held:
        s.setblocking(False)
        try:
            data = s.recv(65536)
        except BlockingIOError:
            continue
        if data and b"out of file descriptors" in data:
            refused += 1
    for s in held:
        s.close()
    assert refused > 0
    assert _pid(xlhost) == pid and "Domain-0" in _list_ok(xlhost)


# --- 10: another local user can hijack the runtime directory ---
def test_problem10_a_runtime_dir_open_to_others_is_refused(xlhost: XlHost) -> None:
    os.chmod(xlhost.runtime, 0o777)
    r = xlhost.xensim("host", "start", "--host", xlhost.name)
    assert r.returncode == 1
    assert "is open to other users (mode 0777, want 0700); refusing" in r.stderr
    r = xlhost.xl("list")
    assert r.returncode == 1 and "refusing to use it" in r.stderr
    assert not xlhost.pidfile.exists()


def test_problem10_a_symlinked_or_foreign_runtime_dir_is_refused(xlhost: XlHost,
                                                               tmp_path: Path) -> None:
    link = tmp_path / "rt"
    link.symlink_to(xlhost.runtime)
    env = dict(xlhost.env, XENSIM_RUNTIME_DIR=str(link))
    r = subprocess.run([sys.executable, "-m", "xensim.cli", "host", "start"], env=env,
                       cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)
    assert r.returncode == 1 and "is a symbolic link" in r.stderr
    if os.getuid() == 0:
        os.chown(xlhost.runtime, 65534, 65534)
        r = xlhost.xensim("host", "start", "--host", xlhost.name)
        assert r.returncode == 1 and "is owned by uid 65534" in r.stderr
        os.chown(xlhost.runtime, 0, 0)


def test_problem10_the_daemons_files_are_private(xlhost: XlHost) -> None:
    xlhost.start()
    for name in (".sock", ".pid", ".lock", ".log"):
        st = os.lstat(xlhost.runtime / f"{xlhost.name}{name}")
        assert st.st_mode & 0o077 == 0, (name, oct(st.st_mode))


# --- 11: a kill -9 of the daemon loses every guest ---
def test_problem11_kill9_then_start_restores_the_last_checkpoint(xlhost: XlHost) -> None:
    xlhost.start("--speed", "10")
    for name in ("keep-a", "keep-b"):
        assert xlhost.xl("create", "configs/cpu-hog.cfg", f'name="{name}"').returncode == 0
    time.sleep(0.5)
    # a create is checkpointed before it runs: this one saves keep-a and keep-b
    assert xlhost.xl("create", "configs/cpu-hog.cfg", 'name="lost"').returncode == 0
    os.kill(_pid(xlhost), signal.SIGKILL)
    time.sleep(0.2)
    r = xlhost.xensim("host", "status", "--host", xlhost.name)
    assert "not running" in r.stdout
    r = xlhost.xensim("host", "start", "--host", xlhost.name)
    assert r.returncode == 0, r.stderr
    assert "restored from checkpoint" in r.stdout and ": 2 domains, resuming at simulated " \
        "time " in r.stdout
    rows = _list_ok(xlhost)
    assert list(rows) == ["Domain-0", "keep-a", "keep-b"]


def test_problem11_xl_auto_start_restores_and_says_so(xlhost: XlHost) -> None:
    xlhost.start()
    assert xlhost.xl("create", "configs/cpu-hog.cfg", 'name="g"').returncode == 0
    assert xlhost.xensim("host", "stop", "--host", xlhost.name).returncode == 0
    r = xlhost.xl("list")
    assert r.returncode == 0
    assert "started simulated host" in r.stderr and "restored from its checkpoint (1 " \
        "domains, simulated time" in r.stderr
    assert "g" in list_rows(r.stdout)


# --- smaller: host start options --------------------------------------------------------------
@pytest.mark.parametrize("args,expected", [
    (("--memory", "-5"), "--memory must be an integer from 1"),
    (("--speed", "nan"), "--speed must be a finite number above 0"),
    (("--speed", "inf"), "--speed must be a finite number above 0"),
    (("--speed", "0"), "--speed must be a finite number above 0"),
    (("--speed", "-1"), "--speed must be a finite number above 0"),
    (("--pcpus", "0"), "--pcpus must be an integer from 1"),
])
def test_host_start_rejects_bad_options_clearly(xlhost: XlHost, args: tuple[str, ...],
                                                expected: str) -> None:
    r = xlhost.xensim("host", "start", "--host", xlhost.name, *args)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.startswith("xensim: error: ") and expected in r.stderr
    assert not xlhost.pidfile.exists()

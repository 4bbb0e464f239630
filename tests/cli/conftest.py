"""Fixtures for end-to-end xl tests: a private runtime dir and a named host daemon each.

Every test gets its own host name and runtime directory (via
``XENSIM_RUNTIME_DIR``), and the finalizer always stops the daemon, killing
it by pid if it does not answer, so no test leaves a process behind.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


class XlHost:
    """One test's simulated host, driven through the real ``xl`` client in subprocesses."""

    def __init__(self, runtime: Path, name: str) -> None:
        self.runtime = runtime
        self.name = name
        self.env = dict(os.environ)
        self.env["XENSIM_RUNTIME_DIR"] = str(runtime)
        self.env["XENSIM_HOST"] = name
        self.env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)

    def xensim(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "xensim.cli", *args], env=self.env,
                              check=False, cwd=ROOT, capture_output=True, text=True,
                              timeout=timeout)

    def start(self, *args: str) -> None:
        r = self.xensim("host", "start", "--host", self.name, *args)
        assert r.returncode == 0, r.stderr

    def xl_argv(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "xensim.toolstack.xl.client", *args]

    def xl(self, *args: str, cwd: Path | None = None,
           timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self.xl_argv(*args), env=self.env, cwd=cwd or ROOT, check=False,
                              capture_output=True, text=True, timeout=timeout)

    def popen_xl(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(self.xl_argv(*args), env=self.env, cwd=ROOT, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    @property
    def pidfile(self) -> Path:
        return self.runtime / f"{self.name}.pid"

    @property
    def socket(self) -> Path:
        return self.runtime / f"{self.name}.sock"

    def stop(self) -> None:
        pid = None
        try:
            pid = int(self.pidfile.read_text())
        except (OSError, ValueError):
            pass
        self.xensim("host", "stop", "--host", self.name, timeout=30)
        reap(pid)


def reap(pid: int | None) -> None:
    """Wait a moment for a daemon asked to stop to exit; kill it if it does not."""
    if pid is not None:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and _alive(pid):
            time.sleep(0.05)
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture
def xlhost() -> Iterator[XlHost]:
    """A not-yet-started host with a unique name in a private, short runtime dir
    (Unix socket paths are limited to 108 bytes)."""
    runtime = Path(tempfile.mkdtemp(prefix="xs", dir="/tmp"))
    h = XlHost(runtime, f"t{uuid.uuid4().hex[:8]}")
    try:
        yield h
    finally:
        h.stop()
        shutil.rmtree(runtime, ignore_errors=True)


def list_rows(stdout: str) -> dict[str, dict[str, object]]:
    """``xl list`` rows by name: id, mem, vcpus, state, time."""
    rows = {}
    for line in stdout.splitlines()[1:]:
        name = line[:40].rstrip()
        domid, mem, vcpus, state, t = line[40:].split()
        rows[name] = {"id": int(domid), "mem": int(mem), "vcpus": int(vcpus),
                      "state": state, "time": float(t)}
    return rows

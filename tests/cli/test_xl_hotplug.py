"""End to end, in subprocesses: device hot-plug against the daemon, and ``xl console`` following."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import time

from tests.cli.conftest import XlHost


def _ok(r: subprocess.CompletedProcess[str]) -> str:
    assert r.returncode == 0 and r.stderr == "", r
    return r.stdout


def _rows(out: str) -> list[list[str]]:
    return [line.split() for line in out.splitlines()[1:]]


def test_attach_and_detach_devices_while_the_console_follows(xlhost: XlHost) -> None:
    xlhost.start("--speed", "20")
    assert xlhost.xl("create", "configs/pv-guest.cfg").returncode == 0
    console = subprocess.Popen(xlhost.xl_argv("console", "pv-guest"), env=xlhost.env,
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    _ok(xlhost.xl("network-attach", "pv-guest", "bridge=xenbr0", "mac=00:16:3e:aa:bb:cc"))
    _ok(xlhost.xl("block-attach", "pv-guest", "/dev/vg0/data,raw,xvdb,rw"))
    time.sleep(0.3)  # six simulated seconds: both frontends have connected
    nics = _rows(xlhost.xl("network-list", "pv-guest").stdout)
    assert [(r[0], r[2], r[4]) for r in nics] == [("0", "00:16:3e:00:00:01", "4"),
                                                  ("1", "00:16:3e:aa:bb:cc", "4")]
    vbds = _rows(xlhost.xl("block-list", "pv-guest").stdout)
    assert [(r[0], r[3]) for r in vbds] == [("51712", "4"), ("51728", "4")]

    _ok(xlhost.xl("block-detach", "pv-guest", "xvdb"))
    _ok(xlhost.xl("network-detach", "pv-guest", "00:16:3e:aa:bb:cc"))
    assert [r[0] for r in _rows(xlhost.xl("network-list", "pv-guest").stdout)] == ["0"]
    assert [r[0] for r in _rows(xlhost.xl("block-list", "pv-guest").stdout)] == ["51712"]
    assert _ok(xlhost.xl("xenstore-list", "/local/domain/0/backend/vif/1")) == "0\n"
    r = xlhost.xl("block-detach", "pv-guest", "xvdb")
    assert r.returncode == 1 and r.stderr == "Error: Device xvdb not connected.\n"

    assert console.poll() is None  # still following
    assert xlhost.xl("shutdown", "-w", "pv-guest").returncode == 0
    out, err = console.communicate(timeout=30)
    assert console.returncode == 0 and err == ""
    assert out.startswith("[    0.000000] Linux version 6.1.0-xen")
    tail = out[out.index("pv-guest login: "):]
    assert "] blkfront: xvdb: barrier or flush: disabled;" in tail
    assert tail.endswith("] reboot: Power down\n")


def test_console_on_a_terminal_detaches_with_ctrl_close_bracket(xlhost: XlHost) -> None:
    xlhost.start("--speed", "20")
    assert xlhost.xl("create", "configs/pv-guest.cfg").returncode == 0
    master, slave = pty.openpty()
    p = subprocess.Popen(xlhost.xl_argv("console", "pv-guest"), env=xlhost.env,
                         stdin=slave, stdout=slave, stderr=slave)
    os.close(slave)
    seen = b""
    deadline = time.monotonic() + 20
    while b"login: " not in seen and time.monotonic() < deadline:
        if select.select([master], [], [], 0.2)[0]:
            seen += os.read(master, 4096)
    assert b"pv-guest login: " in seen and b"\r\n" in seen  # a raw terminal: xl adds the \r
    os.write(master, b"\x1d")
    assert p.wait(timeout=10) == 0
    os.close(master)
    assert xlhost.xl("domid", "pv-guest").stdout == "1\n"  # detaching left the guest alone


def test_a_host_started_with_bridges_and_a_pci_nic_lists_them(xlhost: XlHost) -> None:
    xlhost.start("--speed", "20", "--bridge", "xenbr0,xenbr1", "--pci", "0000:03:00.0")
    _ok(xlhost.xl("pci-assignable-add", "03:00.0"))
    assert xlhost.xl("create", "configs/pv-guest.cfg", 'vif=["bridge=xenbr1"]',
                     'pci=["03:00.0"]').returncode == 0
    assert _ok(xlhost.xl("pci-list", "pv-guest")) == "Vdev Device\n00.0 0000:03:00.0\n"
    deadline = time.monotonic() + 10
    while "vif1.0" not in (status := xlhost.xensim("host", "status", "--host",
                                                  xlhost.name).stdout):
        assert time.monotonic() < deadline, status
        time.sleep(0.1)
    lines = status.splitlines()
    at = lines.index("  bridge name     kind         interfaces")
    assert lines[at + 1:at + 5] == ["  xenbr0          linux        eth0",
                                    "  xenbr1          linux        eth1",
                                    "                               vif1.0",
                                    "  pci 0000:03:00.0 nic: domain 1"]

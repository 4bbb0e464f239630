"""``xl console``: boot banner plus the guest's console_io writes, xl's errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from xensim.host import Host
from xensim.hypervisor.console_io import CONSOLEIO, hc_console_io

ROOT = Path(__file__).resolve().parents[2]
PV = str(ROOT / "configs" / "pv-guest.cfg")
XENCONSOLE_NO_TTY = "xenconsole: Could not read tty from store: No such file or directory\n"


@pytest.fixture
def host() -> Host:
    h = Host(pcpus=2, memory=4096, seed=1)
    h.create_from_config(PV)
    return h


def test_console_prints_boot_text_then_guest_writes(host: Host) -> None:
    rc, out, err = host.xl("console pv-guest")
    assert (rc, err) == (0, "")
    assert out.splitlines()[1] == ("[    0.000000] Command line: "
                                   "root=/dev/xvda1 ro console=hvc0")
    assert out.endswith("pv-guest login: \n")
    _, created, _ = host.xl(f"create -c {PV} 'name=\"other\"'")
    assert created == out.replace("pv-guest login", "other login")
    d = host.domain("pv-guest")
    assert hc_console_io(host.hv, d.vcpus[0], CONSOLEIO.write, 6, "hello\nignored") == 0
    assert host.xl("console -t pv 1") == (0, out + "hello\n", "")


def test_console_errors(host: Host) -> None:
    assert host.xl("console nope") == (1, "", "nope is an invalid domain identifier (rc=-6)\n")
    assert host.xl("console -t foo 1") == (
        1, "", "console type supported are: pv, serial, vuart\n")
    assert host.xl("console -t serial 1") == (1, "", XENCONSOLE_NO_TTY)
    assert host.xl("console -n 1 1") == (1, "", XENCONSOLE_NO_TTY)
    assert host.xl("console -t vuart 1") == (1, "", "Unable to attach console\n")
    rc, _, err = host.xl("console")
    assert rc == 2 and err.startswith("'xl console' requires at least 1 argument.\n"
                                      "Usage: xl [-vtT] console [options] <Domain>")


def test_hvm_primary_console_is_serial(host: Host, tmp_path: Path) -> None:
    cfg = tmp_path / "hvm.cfg"
    cfg.write_text('name = "h"\ntype = "hvm"\nmemory = 128\n')
    assert host.xl(f"create -q {cfg}")[0] == 0
    rc, out, _ = host.xl("console -t serial h")
    assert rc == 0 and "Booting Xen HVM guest" in out
    assert host.xl("console h")[1] == out
    assert host.xl("console -t pv h") == (1, "", XENCONSOLE_NO_TTY)

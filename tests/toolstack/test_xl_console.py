"""``xl console``: boot banner plus the guest's console_io writes, xl's errors."""

from __future__ import annotations

import json
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


def test_hvm_primary_console_is_serial_which_needs_serial_in_the_config(
        host: Host, tmp_path: Path) -> None:
    cfg = tmp_path / "hvm.cfg"
    cfg.write_text('name = "h"\ntype = "hvm"\nmemory = 128\nserial = "pty"\n')
    assert host.xl(f"create -q {cfg}")[0] == 0
    rc, out, _ = host.xl("console -t serial h")
    assert rc == 0 and "Booting paravirtualized kernel on Xen HVM" in out
    assert host.xl("console h")[1] == out
    assert host.xl("console -t pv h") == (1, "", XENCONSOLE_NO_TTY)
    assert host.xl(f"create -q {cfg} 'name=\"bare\"' 'serial=[]'")[0] == 0
    assert host.xl("console bare") == (1, "", XENCONSOLE_NO_TTY)  # qemu got no -serial


def _console(host: Host, name: str, **keys: object) -> str:
    host.create(name, **keys)
    rc, out, err = host.xl(f"console {name}")
    assert (rc, err) == (0, "")
    return out


def test_the_boot_log_follows_the_kernel(host: Host) -> None:
    minios = _console(host, "mini", kernel="/usr/lib/xen/boot/mini-os.gz", memory=32)
    assert minios.splitlines()[:3] == ["Xen Minimal OS (pv)!", "  start_info: 0x6a0000(VA)",
                                       "    nr_pages: 0x2000"]
    assert "Linux" not in minios
    pvh = _console(host, "pvh", type="pvh", kernel="/boot/vmlinuz")
    assert "[    0.000000] Booting paravirtualized kernel on Xen PVH" in pvh.splitlines()
    win = _console(host, "win", type="hvm", viridian=1, serial="pty")
    assert win == ""  # Windows writes nothing on COM1


def test_console_follows_the_kernels_console_argument(host: Host) -> None:
    quiet = _console(host, "q", kernel="/boot/vmlinuz", cmdline="root=/dev/xvda1 console=tty0")
    assert quiet == ""  # Linux logged to a console xl console does not show
    hvm_vga = _console(host, "v", type="hvm", kernel="/boot/vmlinuz", serial="pty",
                       cmdline="root=/dev/xvda1")
    assert hvm_vga == ""
    hvm_serial = _console(host, "s", type="hvm", kernel="/boot/vmlinuz", serial="pty",
                          cmdline="root=/dev/xvda1 console=ttyS0,115200")
    assert "Booting paravirtualized kernel on Xen HVM" in hvm_serial


def test_an_hvm_guests_firmware_talks_to_xens_console(host: Host) -> None:
    host.create("w", type="hvm", viridian=1)
    host.create("t", type="hvm", device_model_version="qemu-xen-traditional")
    out = host.xl("dmesg")[1].splitlines()
    mine = [line for line in out if line.startswith("(d2) ")]
    assert [line.split("] ", 1)[1] for line in mine[:3]] == [
        "HVM Loader", "Detected Xen v4.19.0", "Xenbus rings @0xfeffc000, event channel 1"]
    assert any(line.endswith("] SeaBIOS (version rel-1.16.3-0-ga6ed6b701f0a-Xen)")
               for line in mine)
    assert any(line.endswith("] System requested ROMBIOS") for line in out
               if line.startswith("(d3) "))
    assert all(line.startswith(("(XEN) [", "(d2) [", "(d3) [")) for line in out)
    assert not any("{" in line for line in out)  # no Python reprs


def test_xl_changes_to_scheduling_leave_xens_console_alone(host: Host) -> None:
    before = host.xl("dmesg")[1]
    assert host.xl("sched-credit -d pv-guest -w 512")[0] == 0
    assert host.xl("sched-credit -s -t 10")[0] == 0
    assert host.xl("dmesg")[1] == before


def test_the_poll_protocol_follows_the_stream_past_the_domains_death(host: Host) -> None:
    """What the xl client uses to follow a console: a first look, then what is new."""
    rc, out, err = host.xl("console --poll=-1 pv-guest")
    first = json.loads(out)
    assert (rc, err) == (0, "") and first["domid"] == 1 and first["alive"]
    assert first["text"] == host.xl("console 1")[1] and first["pos"] == 0
    d = host.domain("pv-guest")
    hc_console_io(host.hv, d.vcpus[0], CONSOLEIO.write, 3, "ab\n")
    new = json.loads(host.xl("console --poll=0 1")[1])
    assert new == {"text": "ab\n", "pos": 3, "alive": True}
    assert json.loads(host.xl("console --poll=3 1")[1]) == {"text": "", "pos": 3,
                                                             "alive": True}
    assert host.xl("shutdown pv-guest")[0] == 0
    host.run(ms=500)  # the guest powers off and on_poweroff destroys it
    assert host.hv.domains.get(1) is None
    last = json.loads(host.xl("console --poll=3 1")[1])
    assert last["text"].endswith("] reboot: Power down\n") and not last["alive"]
    assert json.loads(host.xl("console --poll=0 77")[1]) == {"text": "", "pos": 0,
                                                              "alive": False}


def test_stream_positions_survive_the_buffer_cap(host: Host) -> None:
    d = host.domain("pv-guest")
    consoled = host.toolstack.consoled
    for i in range(40):  # 40 x 1000 characters, the hypervisor keeps the last 16384
        hc_console_io(host.hv, d.vcpus[0], CONSOLEIO.write, 1000, str(i % 10) * 1000)
    assert consoled.position(1) == 40_000 and host.hv.console_dropped[1] > 0
    text, pos, alive = consoled.read(1, 39_000)
    assert (text, pos, alive) == ("9" * 1000, 40_000, True)
    text, _, _ = consoled.read(1, 0)  # fell behind: what is left
    assert len(text) <= 16384 and text.endswith("9" * 1000)

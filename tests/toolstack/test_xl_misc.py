"""xl's small commands: trigger, button-press, sysrq, dump-core, set-parameters,
config-update, vm-list, channel-list, create -F/-e/-d, and unknown commands."""

from __future__ import annotations

import io
import json
import struct
from pathlib import Path

import pytest

from xensim.host import Host
from xensim.toolstack.xl.main import start_command

ROOT = Path(__file__).resolve().parents[2]
HOG = str(ROOT / "configs" / "cpu-hog.cfg")


@pytest.fixture
def host() -> Host:
    return Host(pcpus=2, memory=4096, seed=1)


def _console(host: Host, name: str) -> str:
    return host.xl(f"console {name}")[1]


def test_vm_list_shows_guests_but_not_dom0_or_stub_domains(host: Host) -> None:
    host.create("a")
    host.create("h", type="hvm", device_model_stubdomain_override=1)
    rc, out, _ = host.xl("vm-list")
    lines = out.splitlines()
    assert rc == 0 and lines[0] == "UUID                                  ID    name"
    names = [ln.split()[2] for ln in lines[1:]]
    assert names == ["a", "h"]  # no Domain-0, no h-dm
    assert lines[1] == f"{host.domain('a').handle}  1    {'a':<30}"


def test_trigger_nmi_and_power(host: Host) -> None:
    host.create("h", type="hvm", xen_platform_pci=0)
    host.run(ms=50)
    assert host.xl("trigger h nmi") == (0, "", "")
    assert "Uhhuh. NMI received for unknown reason 00 on CPU 0." in _console(host, "h")
    assert host.xl("trigger h power") == (0, "", "")
    host.run(ms=400)
    assert host.hv.domain_by_name("h") is None  # ACPI power button: off, then destroyed


def test_trigger_failures_are_logged_and_xl_still_exits_0(host: Host) -> None:
    host.create("p")
    assert host.xl("trigger p power") == (
        0, "", "libxl: error: libxl_domain.c: Domain 1:Send trigger 'power' failed: "
               "Invalid argument\n")
    assert host.xl("trigger p reset")[2].endswith("Function not implemented\n")
    assert host.xl("trigger p nmi 7")[2].endswith("No such process\n")
    assert host.xl("trigger p nmi x") == (0, "", "Invalid vcpuid, using default vcpuid=0.\n\n")
    assert host.xl("trigger p smash") == (1, "", 'Invalid trigger "smash"\n')


def test_sleep_then_s3resume(host: Host) -> None:
    d = host.create("h", type="hvm")
    host.run(ms=50)
    assert host.xl("button-press h sleep") == (
        0, "", 'WARNING: "button-press" is deprecated. Please use "trigger"\n')
    host.run(ms=300)
    assert d.pause_count == 1 and "PM: suspend entry (deep)" in _console(host, "h")
    assert host.xl("trigger h s3resume")[0] == 0
    assert d.pause_count == 0
    assert host.xl("button-press h nap") == (
        1, "", 'WARNING: "button-press" is deprecated. Please use "trigger"\n'
               "nap is an invalid button identifier\n")


@pytest.mark.parametrize(("key", "line", "left"), [
    ("o", "sysrq: Power Off", False),
    ("c", "Kernel panic - not syncing: sysrq triggered crash", False),
    ("s", "sysrq: Emergency Sync", True),
])
def test_sysrq_reaches_the_guest_kernel(host: Host, key: str, line: str, left: bool) -> None:
    host.create("g", on_poweroff="preserve", on_crash="preserve")  # keep it to read its console
    host.run(ms=50)
    assert host.xl(f"sysrq g {key}") == (0, "", "")
    host.run(ms=150)
    assert line not in _console(host, "g")  # the guest has not read it yet
    host.run(ms=100)
    d = host.domain("g")
    assert line in _console(host, "g")
    assert d.is_shutdown != left
    assert host.toolstack.io.store.read(0, "/local/domain/1/control/sysrq") == ""


def test_sysrq_wants_one_letter(host: Host) -> None:
    host.create("g")
    rc, out, err = host.xl("sysrq g ab")
    assert (rc, err) == (1, "Invalid sysrq.\n\n") and out.startswith("Usage: xl")


def test_dump_core_writes_an_elf_core_with_xens_notes(host: Host, tmp_path: Path) -> None:
    host.create("g", memory=64, vcpus=2)
    host.run(ms=20)
    core = tmp_path / "g.core"
    assert host.xl(f"dump-core g {core}") == (0, "", "")
    data = core.read_bytes()
    assert data[:4] == b"\x7fELF" and data[4] == 2  # ELF64
    e_type, e_machine = struct.unpack_from("<HH", data, 16)
    assert (e_type, e_machine) == (4, 62)  # ET_CORE, x86-64
    # the .note.Xen HEADER note: magic, vCPUs, pages, page size
    header = struct.pack("<III", 4, 32, 0x2000001) + b"Xen\0"  # namesz, descsz, type
    at = data.index(header) + len(header)
    assert struct.unpack_from("<QQQQ", data, at) == (0xF00FEBED, 2, 64 * 256, 4096)
    assert host.domain("g").pause_count == 0  # it keeps running


def test_set_parameters_changes_runtime_parameters(host: Host) -> None:
    assert host.xl("set-parameters gnttab_max_frames=8") == (0, "", "")
    assert host.hv.gnttab.max_grant_frames == 8
    rc, out, err = host.xl("set-parameters 'sched=credit2 loglvl=all'")
    assert (rc, out) == (1, "")
    assert err == ("libxl: error: libxl.c: setting parameters: Invalid argument\n"
                   "cannot set parameters: sched=credit2 loglvl=all\n")
    assert host.hv.dmesg[-1][1] == 'parameter "sched" unknown!'
    assert host.hv.params["loglvl"] == "all"  # the good item still applies, as in Xen


def test_config_update_is_used_at_the_next_reboot(host: Host, tmp_path: Path) -> None:
    host.xl(f"create {HOG}")
    new = tmp_path / "new.cfg"
    new.write_text(Path(HOG).read_text())
    rc, out, err = host.xl(f"config-update cpu-hog {new} memory=512")
    assert (rc, out) == (0, "")
    assert err.splitlines()[1] == "setting dom1 configuration"
    assert host.domain("cpu-hog").memory_kib == 256 * 1024  # the running domain is unchanged
    host.xl("reboot cpu-hog")
    host.run(ms=2500)  # the guest's ack, xl's 2 s sleep and libxl's build
    assert host.domain("cpu-hog").memory_kib == 512 * 1024
    rc, out, _ = host.xl(f"-N config-update cpu-hog {new}")
    assert rc == 0 and json.loads(out)["config"]["c_info"]["name"] == "cpu-hog"


def test_channel_list_shows_configured_channels(host: Host, tmp_path: Path) -> None:
    cfg = tmp_path / "c.cfg"
    cfg.write_text('name="c"\nkernel="/k"\nchannel=["name=org.qemu.guest_agent.0,'
                   'connection=pty", "name=x,connection=socket,path=/run/x"]\n')
    assert host.xl(f"create {cfg}")[0] == 0
    rc, out, _ = host.xl("channel-list c")
    assert rc == 0
    assert out.splitlines() == [
        "Idx BE state evt-ch ring-ref connection" + " " * 31,
        "0   0  1     -1     -1       pty        " + " " * 31,
        "1   0  1     -1     -1       socket     ",
    ]


def _start(host: Host, cmd: str) -> tuple[object, io.StringIO]:
    err = io.StringIO()
    rc, ctx = start_command(host, cmd, io.StringIO(), err, cwd=str(ROOT), live=True)
    assert rc == 0 and ctx is not None
    return ctx, err


def _wait(host: Host, ctx: object) -> int | None:
    """Poll for up to 3 simulated s: a restart takes xl's 2 s sleep and libxl's build."""
    for _ in range(300):
        host.run(ms=10)
        rc = ctx.waiter()  # type: ignore[attr-defined]
        if rc is not None:
            return rc
    return None


def test_create_foreground_follows_reboots_until_the_domain_is_gone(host: Host) -> None:
    ctx, err = _start(host, f"create -F {HOG}")
    assert err.getvalue().splitlines()[1].startswith(
        "Waiting for domain cpu-hog (domid 1) to die [pid ")
    host.xl("reboot cpu-hog")
    assert _wait(host, ctx) is None  # restarted: still in the foreground
    assert err.getvalue().splitlines()[2:6] == [
        "Domain 1 has shut down, reason code 1 0x1",
        "Action for shutdown reason code 1 is restart",
        "Done. Rebooting now",
        err.getvalue().splitlines()[5]]
    assert "(domid 2)" in err.getvalue().splitlines()[5]
    host.xl("shutdown cpu-hog")
    assert _wait(host, ctx) == 0
    assert err.getvalue().splitlines()[-2:] == [
        "Domain 2 needs to be cleaned up: destroying the domain", "Done. Exiting now"]


def test_create_e_leaves_nobody_to_act_on_shutdown(host: Host) -> None:
    ctx, _ = _start(host, f"create -e {HOG}")
    assert ctx.waiter is None  # type: ignore[attr-defined]
    host.xl("shutdown cpu-hog")
    host.run(ms=500)
    d = host.domain("cpu-hog")
    assert d.is_shutdown  # not destroyed: no xl monitor runs for it


def test_create_d_prints_the_config_on_stderr(host: Host) -> None:
    rc, out, err = host.xl(f"create -d -q {HOG}")
    assert rc == 0 and out == ""
    assert json.loads(err)["config"]["c_info"]["name"] == "cpu-hog"


def test_vnc_viewer_options_are_not_offered(host: Host) -> None:
    assert "vncviewer" not in host.xl("help create")[1]
    rc, _, err = host.xl(f"create -V {HOG}")
    assert rc == 2 and err.startswith("option `V' not supported.")


def test_an_unknown_command_gets_xls_answer(host: Host) -> None:
    assert host.xl("usb-list") == (1, "", "command not implemented\n")

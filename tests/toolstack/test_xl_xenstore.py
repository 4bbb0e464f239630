"""xl's xenstore-* commands: the real tools' output and errors, run as dom0."""

from __future__ import annotations

from pathlib import Path

import pytest

from xensim.host import Host

ROOT = Path(__file__).resolve().parents[2]
PV = str(ROOT / "configs" / "pv-guest.cfg")


@pytest.fixture
def host() -> Host:
    h = Host(pcpus=2, memory=4096, seed=1)
    h.create_from_config(PV)
    return h


def test_ls_shows_the_vif_frontend_with_padded_perms(host: Host) -> None:
    host.run(ms=50)
    rc, out, err = host.xl("xenstore-ls -p /local/domain/1/device/vif")
    assert (rc, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == '0 = "" ' + ". " * 26 + ".  (n1,r0)"
    assert lines[1] == (' backend = "/local/domain/0/backend/vif/1/0" '
                        + ". " * 7 + ".  (n1,r0)")
    assert lines[2] == ' backend-id = "0"  ' + ". " * 20 + ".  (n1,r0)"
    assert all(len(x.rpartition("  (")[0]) == 60 for x in lines)
    assert ' state = "4"' in out


def test_ls_plain_full_paths_and_truncation(host: Host) -> None:
    rc, out, _ = host.xl("xenstore-ls /local/domain/1/control")
    assert rc == 0 and out.splitlines()[0] == 'shutdown = ""'
    rc, out, _ = host.xl("xenstore-ls -f /local/domain/1/name")
    assert (rc, out) == (0, "")
    rc, out, _ = host.xl("xenstore-ls -f /local/domain/1/control")
    assert out.splitlines()[0] == '/local/domain/1/control/shutdown = ""'
    host.xl("xenstore-write /t/long " + "x" * 100)
    rc, out, _ = host.xl("xenstore-ls /t")
    assert out == 'long = "' + "x" * 68 + '\\..."\n'


def test_ls_missing_path_fails_like_xenstore_ls(host: Host) -> None:
    assert host.xl("xenstore-ls /nope") == (
        1, "", "xenstore-ls: xs_directory (/nope): No such file or directory\n")


def test_read_paths_prefix_and_relative_to_dom0_home(host: Host) -> None:
    assert host.xl("xenstore-read /local/domain/1/name domid") == (0, "pv-guest\n0\n", "")
    assert host.xl("xenstore-read -p /local/domain/1/domid") == (
        0, "/local/domain/1/domid: 1\n", "")


def test_read_missing_path_warns_after_printing_the_good_ones(host: Host) -> None:
    assert host.xl("xenstore-read /x") == (1, "", "xenstore-read: couldn't read path /x\n")
    assert host.xl("xenstore-read /local/domain/1/name /x") == (
        1, "pv-guest\n", "xenstore-read: couldn't read path /x\n")


def test_write_list_rm_round_trip(host: Host) -> None:
    assert host.xl("xenstore-write /demo/a 1 /demo/b 'x y'") == (0, "", "")
    assert host.xl("xenstore-list /demo") == (0, "a\nb\n", "")
    assert host.xl("xenstore-list -p /demo") == (0, "/demo/a\n/demo/b\n", "")
    assert host.xl("xenstore-read /demo/b") == (0, "x y\n", "")
    assert host.xl("xenstore-rm /demo/a") == (0, "", "")
    assert host.xl("xenstore-rm -t /demo/b") == (0, "", "")
    assert host.xl("xenstore-list /demo") == (1, "", "xenstore-list: could not list path /demo\n")


def test_write_escapes_and_read_sanitises(host: Host) -> None:
    assert host.xl(r"xenstore-write /e '\101\\\012'")[0] == 0
    assert host.toolstack.io.xsd.store.read(0, "/e") == "A\\\n"
    assert host.xl("xenstore-read /e") == (0, "A\\\\\\012\n", "")


def test_failed_write_aborts_the_whole_transaction(host: Host) -> None:
    rc, _, err = host.xl("xenstore-write /ok 1 /local/domain/1/x/../y 2")
    assert rc == 1 and err == "xenstore-write: could not write path /local/domain/1/x/../y\n"
    assert host.xl("xenstore-read /ok")[0] == 1


def test_rm_of_a_missing_parent_fails(host: Host) -> None:
    assert host.xl("xenstore-rm /no/such") == (
        1, "", "xenstore-rm: could not remove path /no/such\n")
    assert host.xl("xenstore-rm /local/nosuch") == (0, "", "")


@pytest.mark.parametrize(("cmd", "usage"), [
    ("xenstore-read", "[-h] [-p] [-s] key [...]"),
    ("xenstore-write a", "[-h] [-s] key value [...]"),
    ("xenstore-rm -p a", "[-h] [-s] [-t] key [...]"),
    ("xenstore-list", "[-h] [-s] key [...]"),
    ("xenstore-ls -t", "[-h] [-s] [path]"),
])
def test_usage_errors_are_the_tools_own(host: Host, cmd: str, usage: str) -> None:
    prog = cmd.split()[0]
    assert host.xl(cmd) == (1, "", f"{prog}: Usage: {prog} {usage}\n")


def test_write_fires_watches_for_the_guest(host: Host) -> None:
    """A learner can poke a frontend: the write reaches the store and its watchers."""
    host.run(ms=50)
    store = host.toolstack.io.xsd.store
    before = store.read(0, "/local/domain/1/device/vif/0/state")
    assert host.xl("xenstore-read /local/domain/1/device/vif/0/state") == (0, before + "\n", "")
    assert host.xl("xenstore-write /local/domain/1/data/note hi")[0] == 0
    assert store.read(1, "data/note") == "hi"

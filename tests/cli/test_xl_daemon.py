"""End to end: the xl client against a real host daemon, in subprocesses."""

from __future__ import annotations

import re
import signal
import socket
import time

from tests.cli.conftest import ROOT, XlHost, list_rows
from xensim.toolstack.xl.xl_info import LIST_HEADER

ROW_RE = re.compile(r"^.{40} [ \d]{5} [ \d]{5} [ \d]{5}     [r-][b-][p-][s-][-rscwS?][d-]  "
                    r"[ \d]{6}\.\d$")


def _create_two_hogs(h: XlHost) -> None:
    for name in ("hog-a", "hog-b"):
        r = h.xl("create", "configs/cpu-hog.cfg", f'name="{name}"')
        assert r.returncode == 0, r.stderr
        assert r.stderr == "Parsing config from configs/cpu-hog.cfg\n"


def test_list_shows_dom0_and_two_guests_with_xl_columns(xlhost: XlHost) -> None:
    xlhost.start("--speed", "20", "--pcpus", "2")
    _create_two_hogs(xlhost)
    time.sleep(0.3)
    r = xlhost.xl("list")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == LIST_HEADER
    assert all(ROW_RE.match(line) for line in lines[1:]), lines
    rows = list_rows(r.stdout)
    assert list(rows) == ["Domain-0", "hog-a", "hog-b"]
    assert [rows[n]["id"] for n in rows] == [0, 1, 2]
    assert rows["hog-a"]["mem"] == 256 and rows["hog-a"]["vcpus"] == 2
    assert rows["hog-a"]["state"] in ("r-----", "------")
    assert rows["hog-a"]["time"] > 0


def test_weight_changes_the_share_of_cpu_time(xlhost: XlHost) -> None:
    xlhost.start("--speed", "20", "--pcpus", "2")
    _create_two_hogs(xlhost)
    r = xlhost.xl("sched-credit", "-d", "hog-b", "-w", "512")
    assert r.returncode == 0, r.stderr
    assert "hog-b" in xlhost.xl("sched-credit").stdout.split("512")[0]
    time.sleep(0.5)  # let the new weight settle over a few accounting periods
    before = list_rows(xlhost.xl("list").stdout)
    time.sleep(2.0)  # about 40 simulated seconds
    after = list_rows(xlhost.xl("list").stdout)
    a = after["hog-a"]["time"] - before["hog-a"]["time"]  # type: ignore[operator]
    b = after["hog-b"]["time"] - before["hog-b"]["time"]  # type: ignore[operator]
    assert a > 5 and b > 5
    assert abs(b / (a + b) - 2 / 3) < 0.06, (a, b)


def test_destroy_removes_the_guests(xlhost: XlHost) -> None:
    xlhost.start("--speed", "20")
    _create_two_hogs(xlhost)
    for name in ("hog-a", "hog-b"):
        r = xlhost.xl("destroy", name)
        assert r.returncode == 0 and r.stdout == "" and r.stderr == "", r
    assert list(list_rows(xlhost.xl("list").stdout)) == ["Domain-0"]


def test_create_asking_for_too_much_memory_fails_and_changes_nothing(xlhost: XlHost) -> None:
    xlhost.start("--memory", "4096")
    _create_two_hogs(xlhost)
    before = {n: (r["id"], r["mem"]) for n, r in list_rows(xlhost.xl("list").stdout).items()}
    r = xlhost.xl("create", "configs/cpu-hog.cfg", 'name="huge"', "memory=8192")
    assert r.returncode == 1
    assert "failed to free memory for the domain" in r.stderr
    after = {n: (r["id"], r["mem"]) for n, r in list_rows(xlhost.xl("list").stdout).items()}
    assert after == before
    free = xlhost.xl("info", "free_memory")
    assert free.stdout.strip() == str(4096 - 1024 - 2 * 256)


def test_relative_config_path_resolves_against_the_clients_cwd(xlhost: XlHost) -> None:
    xlhost.start()
    r = xlhost.xl("create", "cpu-hog.cfg", 'name="here"', cwd=ROOT / "configs")
    assert r.returncode == 0, r.stderr
    assert "here" in list_rows(xlhost.xl("list").stdout)
    missing = xlhost.xl("create", "no-such.cfg", cwd=ROOT / "configs")
    assert missing.returncode == 1
    assert "Failed to read config file: no-such.cfg: No such file or directory" in missing.stderr


def test_concurrent_xl_processes_never_corrupt_the_host(xlhost: XlHost) -> None:
    xlhost.start("--speed", "20")
    procs = []
    for i in range(6):
        procs.append(xlhost.popen_xl("create", "configs/pv-guest.cfg", f'name="g{i}"',
                                     "memory=64", "maxmem=64"))
        procs.append(xlhost.popen_xl("list"))
        procs.append(xlhost.popen_xl("sched-credit", "-d", "0", "-w", str(256 + i)))
    results = [(p.wait(timeout=60), *p.communicate()) for p in procs]
    assert all(rc == 0 for rc, _, _ in results), [err for _, _, err in results]
    rows = list_rows(xlhost.xl("list").stdout)
    assert sorted(rows) == sorted(["Domain-0"] + [f"g{i}" for i in range(6)])
    assert len({r["id"] for r in rows.values()}) == 7
    assert xlhost.xl("info", "free_memory").stdout.strip() == str(16384 - 1024 - 6 * 64)


def test_a_client_killed_mid_command_leaves_the_host_consistent(xlhost: XlHost) -> None:
    xlhost.start("--speed", "20")
    # A client that dies while sending: its half request is never executed.
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(str(xlhost.socket))
    s.sendall(b'{"op": "xl", "argv": ["create", "configs/cpu-hog.cfg", "name=\\"ha')
    s.close()
    # Clients killed at assorted moments: each command ran entirely or not at all.
    for i, delay in enumerate((0.0, 0.05, 0.1, 0.15, 0.2, 0.3)):
        p = xlhost.popen_xl("create", "configs/pv-guest.cfg", f'name="k{i}"', "memory=64",
                            "maxmem=64")
        time.sleep(delay)
        p.send_signal(signal.SIGKILL)
        p.communicate()
    r = xlhost.xl("list")
    assert r.returncode == 0, r.stderr
    rows = list_rows(r.stdout)
    assert "ha" not in rows
    created = [n for n in rows if n.startswith("k")]
    assert len(created) == len(set(created))
    free = int(xlhost.xl("info", "free_memory").stdout)
    assert free == 16384 - 1024 - 64 * len(created)
    status = xlhost.xensim("host", "status", "--host", xlhost.name)
    assert status.returncode == 0 and ": running, pid" in status.stdout


def test_bad_arguments_print_usage_and_fail(xlhost: XlHost) -> None:
    xlhost.start()
    r = xlhost.xl("frobnicate")
    assert r.returncode == 1 and r.stderr == "command not implemented\n"
    r = xlhost.xl("destroy")
    assert r.returncode == 2
    assert r.stderr.startswith("'xl destroy' requires at least 1 argument.\n")
    assert "Usage: xl [-vtTf] destroy [options] <Domain>" in r.stderr
    r = xlhost.xl("list", "--frob")
    assert r.returncode == 2 and "option `frob' not supported." in r.stderr
    assert "Usage: xl [-vtT] list" in r.stderr
    r = xlhost.xl("-X", "list")
    assert r.returncode == 1 and r.stderr == "unknown global option\n"
    r = xlhost.xl("sched-credit", "-d", "nosuch")
    assert r.returncode == 1 and r.stderr == "nosuch is an invalid domain identifier (rc=-6)\n"
    r = xlhost.xl("list", "--help")
    assert r.returncode == 0 and r.stdout.startswith("Usage: xl [-vtT] list")


def test_host_refuses_to_start_twice_and_cleans_up_on_stop(xlhost: XlHost) -> None:
    xlhost.start()
    again = xlhost.xensim("host", "start", "--host", xlhost.name)
    assert again.returncode == 1 and "already running" in again.stderr
    st = xlhost.xensim("host", "status", "--host", xlhost.name)
    assert st.returncode == 0 and "Domain-0 (0)" in st.stdout
    assert xlhost.socket.exists() and xlhost.pidfile.exists()
    assert xlhost.xensim("host", "stop", "--host", xlhost.name).returncode == 0
    assert not xlhost.socket.exists() and not xlhost.pidfile.exists()
    assert xlhost.xensim("host", "status", "--host", xlhost.name).returncode == 1


def test_xl_starts_the_host_on_first_use(xlhost: XlHost) -> None:
    r = xlhost.xl("create", "configs/pv-guest.cfg")
    assert r.returncode == 0, r.stderr
    assert f"started simulated host '{xlhost.name}'" in r.stderr
    assert "pv-guest" in list_rows(xlhost.xl("list").stdout)


def test_top_batch_through_the_daemon(xlhost: XlHost) -> None:
    xlhost.start("--speed", "20", "--pcpus", "2")
    _create_two_hogs(xlhost)
    r = xlhost.xl("top", "-b", "-i", "2", "-d", "0.5")
    assert r.returncode == 0, r.stderr
    frames = r.stdout.split("      NAME  STATE")
    assert len(frames) == 3  # text before the first header is empty
    second = {line.split()[0]: line.split() for line in frames[2].splitlines()[1:]}
    assert float(second["hog-a"][3]) > 50  # CPU(%) over the last interval


def test_shutdown_wait_through_the_daemon(xlhost: XlHost) -> None:
    xlhost.start("--speed", "20")
    assert xlhost.xl("create", "configs/pv-guest.cfg").returncode == 0
    r = xlhost.xl("shutdown", "-w", "pv-guest")
    assert r.returncode == 0, r.stderr
    assert r.stderr == ("Shutting down domain 1\nWaiting for 1 domains\n"
                        "Domain 1 has been shut down, reason code 0\n")
    assert list(list_rows(xlhost.xl("list").stdout)) == ["Domain-0"]

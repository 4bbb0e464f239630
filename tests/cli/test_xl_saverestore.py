"""End to end: ``xl save`` and ``xl restore`` through the client, across a daemon restart."""

from __future__ import annotations

import time
from pathlib import Path

from tests.cli.conftest import XlHost, list_rows


def test_save_then_restore_after_the_host_restarts(xlhost: XlHost, tmp_path: Path) -> None:
    xlhost.start("--speed", "20", "--pcpus", "2")
    r = xlhost.xl("create", "configs/cpu-hog.cfg")
    assert r.returncode == 0, r.stderr
    time.sleep(0.3)
    uuid = xlhost.xl("list", "-v").stdout.splitlines()[2].split()[6]
    save = tmp_path / "g.save"
    r = xlhost.xl("save", "cpu-hog", str(save))
    assert r.returncode == 0, r.stderr
    assert r.stderr.startswith(f"Saving to {save} new xl format (info 0x3/0x0/")
    assert save.read_bytes().startswith(b"Xen saved domain, xl format\n \0 \r")
    saved_time = xlhost.xl("list").stdout  # the domain is gone after a save
    assert list(list_rows(saved_time)) == ["Domain-0"]
    xlhost.stop()
    xlhost.start("--speed", "20", "--pcpus", "2")
    r = xlhost.xl("restore", str(save))
    assert r.returncode == 0, r.stderr
    lines = r.stderr.splitlines()
    assert lines[0].startswith(f"Loading new save file {save} (new xl fmt info 0x3/0x0/")
    assert lines[1:3] == [" Savefile contains xl domain config in JSON format",
                          "Parsing config from <saved>"]
    listing = xlhost.xl("list", "-v").stdout.splitlines()
    assert listing[2].split()[0] == "cpu-hog" and listing[2].split()[6] == uuid
    assert list_rows(xlhost.xl("list").stdout)["cpu-hog"]["time"] > 0


def test_restore_of_a_truncated_file_fails_as_xl_and_changes_nothing(xlhost: XlHost,
                                                                    tmp_path: Path) -> None:
    xlhost.start("--speed", "20")
    assert xlhost.xl("create", "configs/cpu-hog.cfg").returncode == 0
    save = tmp_path / "g.save"
    assert xlhost.xl("save", "-c", "cpu-hog", str(save)).returncode == 0
    cut = tmp_path / "cut.save"
    cut.write_bytes(save.read_bytes()[:-40])
    before = list(list_rows(xlhost.xl("list").stdout))
    r = xlhost.xl("restore", str(cut))
    assert r.returncode == 1
    assert "truncated" in r.stderr and "Traceback" not in r.stderr
    assert list(list_rows(xlhost.xl("list").stdout)) == before
    r = xlhost.xl("save", "cpu-hog", "/nonexistent-dir/g.save")
    assert (r.returncode, r.stderr) == (
        1, "Failed to open temp file /nonexistent-dir/g.save for writing\n")
    assert "cpu-hog" in list_rows(xlhost.xl("list").stdout)  # not saved: still there

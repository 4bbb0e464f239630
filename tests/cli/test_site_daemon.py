"""End to end: a site daemon holding two hosts, and ``xl migrate`` between them live.

Real processes (the ``xensim`` CLI and the thin ``xl`` client), a private runtime
directory, bounded waits, and a finalizer that always stops the site (by pid if it
does not answer).
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli.conftest import XlHost, list_rows, reap
from xensim.site import SiteError
from xensim.toolstack.hostd.site_daemon import default_links, parse_hosts, parse_link

MIGRATION_LINES = [
    "migration target: Ready to receive domain.",
    "Saving to migration stream new xl format (info 0x3/0x0/695)",
    "xc: info: Saving domain 1, type x86 PV",
    "Loading new save file <incoming migration stream> (new xl fmt info 0x3/0x0/695)",
    " Savefile contains xl domain config in JSON format",
    "Parsing config from <saved>",
    "xc: info: Found x86 PV domain from Xen 4.19",
    "xc: info: Restoring domain",
    "xc: info: Restore successful",
    "migration target: Transfer complete, requesting permission to start domain.",
    "migration sender: Target has acknowledged transfer.",
    "migration sender: Giving target permission to start.",
    "migration target: Got permission, starting domain.",
    "migration target: Domain started successsfully.",
    "migration sender: Target reports successful startup.",
    "Migration successful.",
]
"""What xl migrate prints for one PV guest (xl_migrate.c's lines; xl's own typo kept)."""


class SiteUnderTest:
    def __init__(self, runtime: Path) -> None:
        tag = uuid.uuid4().hex[:6]
        self.name = f"s{tag}"
        self.h1, self.h2 = f"a{tag}", f"b{tag}"
        self.cli = XlHost(runtime, self.h1)
        self.runtime = runtime

    def start(self, *args: str) -> str:
        r = self.cli.xensim("site", "start", "--name", self.name,
                            "--hosts", f"{self.h1},{self.h2}", *args)
        assert r.returncode == 0, r.stderr
        return r.stdout

    def xl(self, host: str, *args: str) -> tuple[int, str, str]:
        r = self.cli.xl("--host", host, *args)
        return r.returncode, r.stdout, r.stderr

    def stop(self) -> None:
        pidfile = self.runtime / f"{self.name}.site.pid"
        try:
            pid: int | None = int(pidfile.read_text())
        except (OSError, ValueError):
            pid = None
        self.cli.xensim("site", "stop", "--name", self.name, timeout=30)
        reap(pid)


@pytest.fixture
def site() -> Iterator[SiteUnderTest]:
    runtime = Path(tempfile.mkdtemp(prefix="xs", dir="/tmp"))
    s = SiteUnderTest(runtime)
    try:
        yield s
    finally:
        s.stop()
        XlHost(runtime, s.h1).stop()  # a lone host a test started in the site's place
        shutil.rmtree(runtime, ignore_errors=True)


def _uuids(stdout: str) -> dict[str, str]:
    """``xl list -v``: name -> UUID (the seventh column)."""
    return {line.split()[0]: line.split()[6] for line in stdout.splitlines()[1:]}


def test_xl_migrate_moves_a_guest_between_the_sites_hosts(site: SiteUnderTest) -> None:
    out = site.start("--speed", "20", "--link", f"{site.h1}-{site.h2}:1000:50")
    assert f"link {site.h1}-{site.h2}: 1000 Mbit/s, 50 us" in out
    rc, _, err = site.xl(site.h1, "create", "configs/cpu-hog.cfg", 'name="g"')
    assert rc == 0, err
    rc, before, _ = site.xl(site.h1, "list", "-v")
    guest_uuid = _uuids(before)["g"]
    rc, _, err = site.xl(site.h1, "migrate", "g", site.h2)
    assert rc == 0, err
    assert err.splitlines() == MIGRATION_LINES
    assert list(list_rows(site.xl(site.h1, "list")[1])) == ["Domain-0"]
    rc, after, _ = site.xl(site.h2, "list", "-v")
    assert _uuids(after)["g"] == guest_uuid  # the same guest, not a copy
    site.cli.env["XENSIM_HOST"] = site.h2  # XENSIM_HOST picks the dom0 as --host does
    rows = list_rows(site.cli.xl("list").stdout)
    assert list(rows) == ["Domain-0", "g"] and rows["g"]["vcpus"] == 2
    st = site.cli.xensim("site", "status", "--name", site.name)
    assert st.returncode == 0
    assert f"migration   g: {site.h1} -> {site.h2}, done" in st.stdout
    assert f"host '{site.h2}': 2 domains: Domain-0 (0), g (1)" in st.stdout


def test_a_sites_host_is_held_by_the_site(site: SiteUnderTest) -> None:
    site.start("--speed", "5")
    r = site.cli.xensim("host", "stop", "--name", site.h1)
    assert r.returncode == 1
    assert f"belongs to site '{site.name}'" in r.stderr
    r = site.cli.xensim("host", "start", "--name", site.h1)
    assert r.returncode == 1 and "already running" in r.stderr
    r = site.cli.xensim("host", "status", "--name", site.h2)
    assert r.returncode == 0 and f"site        {site.name}" in r.stdout
    rc, _, err = site.xl(f"{site.name}.site", "list")
    assert rc == 1 and "control socket" in err
    r = site.cli.xensim("site", "stop", "--name", site.name)
    assert r.returncode == 0, r.stderr
    for h in (site.h1, site.h2):
        r = site.cli.xensim("host", "status", "--name", h)
        assert r.returncode == 1 and "not running" in r.stdout
        assert not (site.runtime / f"{h}.sock").exists()


def test_a_site_cannot_take_a_running_lone_host(site: SiteUnderTest) -> None:
    site.cli.start("--speed", "5")  # h1 alone
    r = site.cli.xensim("site", "start", "--name", site.name,
                        "--hosts", f"{site.h1},{site.h2}")
    assert r.returncode == 1
    assert f"host '{site.h1}' is already running" in r.stderr
    assert site.cli.xensim("host", "status", "--name", site.h2).returncode == 1


def test_site_start_rejects_bad_hosts_and_links(site: SiteUnderTest) -> None:
    r = site.cli.xensim("site", "start", "--name", site.name, "--hosts", site.h1)
    assert r.returncode == 2 and "at least two host names" in r.stderr
    r = site.cli.xensim("site", "start", "--name", site.name,
                        "--hosts", f"{site.h1},{site.h2}", "--link", f"{site.h1}-nowhere")
    assert r.returncode == 2 and "expected HOST-HOST[:MBIT[:US]]" in r.stderr
    assert site.cli.xensim("site", "status", "--name", site.name).returncode == 1


def test_link_parsing_finds_hosts_whose_names_contain_dashes() -> None:
    hosts = parse_hosts("rack-1,rack-2,db")
    assert parse_link("rack-1-rack-2:10000:20", hosts) == ("rack-1", "rack-2", 10000.0, 20.0)
    assert parse_link("db-rack-1", hosts) == ("db", "rack-1", 1000.0, 50.0)
    assert default_links(["a", "b", "c"]) == [("a", "b", 1000.0, 50.0),
                                             ("a", "c", 1000.0, 50.0),
                                             ("b", "c", 1000.0, 50.0)]
    for bad in ("db-rack-1:0", "db-rack-1:fast", "db-db2", "db-rack-1:1:2:3"):
        with pytest.raises(SiteError):
            parse_link(bad, hosts)
    with pytest.raises(SiteError):
        parse_hosts("a,a")

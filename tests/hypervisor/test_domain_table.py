"""The hypervisor's domain table: lookups by name and free memory, kept as indexes."""

from __future__ import annotations

from xensim.host import Host


def test_domain_by_name_follows_create_rename_and_destroy():
    host = Host(pcpus=1, seed=1)
    a = host.create("a", workload="idle")
    host.create("b", workload="idle")
    hv = host.hv
    assert hv.domain_by_name("a") is a and hv.domain_by_name("zz") is None
    host.toolstack.domain_rename(a, "renamed")
    assert hv.domain_by_name("a") is None and hv.domain_by_name("renamed") is a
    assert host.xl("destroy renamed")[0] == 0
    assert hv.domain_by_name("renamed") is None
    assert hv.domain_by_name("b").name == "b"


def test_free_memory_follows_create_balloon_and_destroy():
    host = Host(pcpus=1, seed=1, memory=4096, dom0_memory=1024)
    hv = host.hv
    assert hv.free_memory_kib == 3072 * 1024
    d = host.create("g", workload="idle", memory=512, maxmem=1024)
    assert hv.free_memory_kib == 2560 * 1024
    d.memory_kib -= 4096  # what a balloon driver's XENMEM_decrease_reservation does
    assert hv.free_memory_kib == 2560 * 1024 + 4096
    host.xl("destroy g")
    assert hv.free_memory_kib == 3072 * 1024
    assert hv.free_memory_kib == hv.total_memory_kib - sum(
        x.memory_kib for x in hv.domains.values())


def test_the_uuids_in_use_follow_create_restore_and_destroy():
    host = Host(pcpus=1, seed=1)
    hv = host.hv
    a = host.create("a", workload="idle")
    b = host.create("b", workload="idle")

    def live() -> dict[str, int]:
        counts: dict[str, int] = {}
        for d in hv.domains.values():
            counts[d.handle] = counts.get(d.handle, 0) + 1
        return counts

    assert hv.totals.uuids == live() and a.handle in hv.totals.uuids
    old = a.handle
    a.handle = b.handle  # what a restore from a save file does (two may share one)
    assert hv.totals.uuids == live() and hv.totals.uuids[b.handle] == 2
    assert old not in hv.totals.uuids
    host.xl("destroy b")
    assert hv.totals.uuids == live() and hv.totals.uuids[a.handle] == 1
    host.xl("destroy a")
    assert a.handle not in hv.totals.uuids

"""The balloon driver: ``xl mem-set`` sets a target, the guest moves its memory there in steps."""

from __future__ import annotations

from xensim.domains.guest.balloon import BATCH_PAGES, FLOOR_KIB
from xensim.host import Host

MIB = 1024


def mem_mib(host: Host, name: str) -> int:
    """The Mem column of ``xl list`` for *name*."""
    return int(host.xl(f"list {name}")[1].splitlines()[1][41:52].split()[1])


def test_mem_set_moves_memory_gradually_in_hypercall_batches() -> None:
    host = Host(pcpus=2, memory=4096, seed=1)
    d = host.create("g", memory=1024, maxmem=2048, workload="cpu")
    assert host.xl("mem-set g 256") == (0, "", "")
    assert mem_mib(host, "g") == 1024  # nothing yet: the guest has not seen the target
    seen = []
    for _ in range(30):
        host.run(ms=10)
        seen.append(mem_mib(host, "g"))
    assert seen == sorted(seen, reverse=True) and seen[-1] == 256
    assert len(set(seen)) > 10  # many steps, not one jump
    assert d.hypercall_counts["memory_op"] == 768 * MIB // 4 // BATCH_PAGES
    assert d.max_memory_kib == 256 * MIB  # libxl's enforce: Xen's maxmem follows the target
    pages = 768 * MIB // 4  # each one is kernel work on the guest's vCPU 0
    assert d.vcpus[0].kind_ns["kernel"] >= pages * host.hv.costs["balloon_page"]
    assert host.xl("mem-set g 2048")[0] == 0
    host.run(ms=2000)
    assert mem_mib(host, "g") == 2048


def test_a_paused_guest_does_not_balloon_until_it_runs() -> None:
    host = Host(pcpus=2, memory=4096, seed=1)
    d = host.create("g", memory=512, workload="idle")
    host.xl("pause g")
    host.xl("mem-set g 128")
    host.run(ms=500)
    assert d.memory_kib == 512 * MIB
    host.xl("unpause g")
    host.run(ms=500)
    assert d.memory_kib == 128 * MIB


def test_growing_past_free_host_memory_waits_and_retries() -> None:
    """Xen gives what is free; the driver backs off (1 s, 2 s...) and gets the rest once
    another domain frees memory."""
    host = Host(pcpus=2, memory=4096, seed=1, dom0_memory=1024)
    d = host.create("g", memory=512, maxmem=3072, workload="idle")
    other = host.create("other", memory=2048, workload="idle")
    free = host.hv.free_memory_kib
    assert host.xl("mem-set g 3072")[0] == 0
    host.run(ms=500)
    assert d.memory_kib == 512 * MIB + free and host.hv.free_memory_kib == 0
    balloon_batches = d.hypercall_counts["memory_op"]
    host.run(ms=5000)  # retries at +1 s, +2 s: a few calls, not a busy loop
    assert 2 <= d.hypercall_counts["memory_op"] - balloon_batches <= 4
    host.toolstack.domain_destroy(other)
    host.run(ms=10_000)
    assert d.memory_kib == 3072 * MIB


def test_a_kernel_keeps_a_floor_and_dom0_a_minimum() -> None:
    host = Host(pcpus=2, memory=4096, seed=1)
    d = host.create("g", memory=512, workload="idle")
    assert host.xl("mem-set g 0")[0] == 0
    host.run(ms=500)
    assert d.memory_kib == FLOOR_KIB
    rc, _, err = host.xl("mem-set 0 64")
    assert rc == 1 and "New target 65536 for dom0 is below the minimum threshold" in err
    assert host.xl("mem-set Domain-0 512")[0] == 0
    host.run(ms=500)
    assert host.dom0.memory_kib == 512 * MIB
    assert host.toolstack.io.store.read(0, "/local/domain/0/memory/static-max") == str(1024 * MIB)

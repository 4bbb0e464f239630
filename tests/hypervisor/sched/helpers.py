"""Helpers shared by the scheduler fidelity tests."""

from __future__ import annotations

from collections.abc import Callable

from xensim.host import Host


def sampler(host: Host, every_ns: int, check: Callable[[], str | None]) -> list[str]:
    """Call *check* every *every_ns* of simulated time; collect what it reports."""
    problems: list[str] = []

    def tick(_e: object = None) -> None:
        msg = check()
        if msg:
            problems.append(f"t={host.now}: {msg}")
        host.env.timeout(every_ns).callbacks.append(tick)

    tick()
    return problems


def assert_runstates_add_up(host: Host) -> None:
    """Every vCPU's four runstate times sum to the run; guests + idle fill every pCPU."""
    m = host.metrics()
    for name, d in m["domains"].items():
        for v in d["vcpus"]:
            total = v["running_ns"] + v["runnable_ns"] + v["blocked_ns"] + v["offline_ns"]
            assert total == m["duration_ns"], (name, v)
    busy = sum(d["cpu_ns"] for d in m["domains"].values())
    idle = sum(p["idle_ns"] for p in m["pcpus"])
    assert busy + idle == len(m["pcpus"]) * m["duration_ns"]

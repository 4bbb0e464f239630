"""Shared fixtures: a small host, helpers to read shares off it, and stand-ins for
the core's domains and registry (for the pure inter-domain modules)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from xensim.host import Host


@pytest.fixture
def host1() -> Host:
    """One pCPU, credit, seed 1."""
    return Host(pcpus=1, seed=1)


@pytest.fixture
def host2() -> Host:
    return Host(pcpus=2, seed=1)


def shares(host: Host) -> dict[str, float]:
    return {name: d["cpu_share"] for name, d in host.metrics()["domains"].items()}


@dataclass
class FakeDomain:
    domid: int
    is_privileged: bool = False
    max_vcpus: int = 2
    is_dying: bool = False


@dataclass
class FakeRegistry:
    doms: dict[int, FakeDomain] = field(default_factory=dict)

    def add(self, domid: int, **kw: object) -> FakeDomain:
        d = FakeDomain(domid, **kw)  # type: ignore[arg-type]
        self.doms[domid] = d
        return d

    def get_domain(self, domid: int) -> FakeDomain | None:
        return self.doms.get(domid)

    def remove(self, domid: int) -> None:
        del self.doms[domid]


@pytest.fixture
def registry() -> FakeRegistry:
    reg = FakeRegistry()
    reg.add(0, is_privileged=True, max_vcpus=4)
    reg.add(1)
    reg.add(2)
    return reg


@pytest.fixture
def kicks() -> list[tuple[int, int]]:
    """Recorded ``notify(domain, vcpu_id)`` calls as (domid, vcpu_id)."""
    return []

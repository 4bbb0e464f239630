"""Shared fixtures: a small host and helpers to read shares off it."""

from __future__ import annotations

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

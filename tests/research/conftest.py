"""A small traced run shared by the research tests (one run per test session)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from xensim.host import Host
from xensim.scenario import run_scenario, validate_scenario

SMALL = {
    "host": {"pcpus": 2, "seed": 3},
    "domain": [
        {"name": "hog", "workload": "cpu", "vcpus": 2},
        {"name": "web", "workload": "duty:busy_ms=2,idle_ms=3", "cpu_weight": 512},
        {"name": "lat", "workload": "duty:busy_ms=0.2,idle_ms=5"},
    ],
    "run": {"duration_ms": 600},
}


@pytest.fixture(scope="session")
def small_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Host, Path]:
    """(result, host, trace file) of a 0.6 s, 2-pCPU, three-guest traced run."""
    from xensim.research.tracefile import write_trace

    sc = validate_scenario(SMALL)
    hosts: list[Host] = []
    result = run_scenario(sc, trace=True, host_out=hosts)
    path = tmp_path_factory.mktemp("trace") / "small.xtr"
    write_trace(path, hosts[0])
    return result, hosts[0], path

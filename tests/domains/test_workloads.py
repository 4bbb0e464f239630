from __future__ import annotations

import pytest

from xensim.domains.guest.workloads import WorkloadError, parse_workload
from xensim.host import Host


def test_parse_valid_specs() -> None:
    assert parse_workload("cpu").name == "cpu"
    spec = parse_workload("duty:busy_ms=5,idle_ms=20")
    assert spec.params == {"busy_ms": 5.0, "idle_ms": 20.0, "phase": 1}
    assert parse_workload(" periodic:period_ms=10, wcet_ms=2 ").params["wcet_ms"] == 2.0


@pytest.mark.parametrize("spec, msg", [
    ("spin", "unknown workload 'spin'; known workloads: cpu, "),
    ("duty:busy_ms=5", "needs idle_ms"),
    ("duty:busy=5,idle_ms=2", "has no parameter 'busy'; parameters: busy_ms, idle_ms, phase"),
    ("duty:busy_ms=-1,idle_ms=2", "busy_ms must be >= 0.001"),
    ("periodic:period_ms", "expected key=value"),
    ("", "non-empty string"),
])
def test_bad_specs_say_what_is_allowed(spec: str, msg: str) -> None:
    with pytest.raises(WorkloadError, match=msg):
        parse_workload(spec)


def test_duty_cycle_uses_its_fraction_of_a_pcpu() -> None:
    host = Host(pcpus=1, seed=1)
    host.create("d", workload="duty:busy_ms=3,idle_ms=7")
    host.run(ms=5_000)
    assert host.metrics()["domains"]["d"]["cpu_share"] == pytest.approx(0.3, abs=0.01)


def test_idle_guest_blocks_and_never_runs() -> None:
    host = Host(pcpus=1)
    host.create("i", workload="idle")
    host.run(ms=100)
    m = host.metrics()["domains"]["i"]["vcpus"][0]
    assert m["blocked_ns"] > 99_000_000 and m["running_ns"] < 10_000

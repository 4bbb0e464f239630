"""The scenario reader, fuzzed: any TOML-shaped table or any file gives a Scenario or a
ScenarioError, never another exception; an accepted scenario stays within the bounds."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.budget import fuzz
from xensim.scenario import MAX_SIM_MS, ScenarioError, load_scenario, validate_scenario

_scalars = st.one_of(st.integers(-2**70, 2**70), st.floats(), st.booleans(),
                     st.text(max_size=12), st.sampled_from(
                         ["cpu", "web:rate=1e9", "duty:busy_ms=1,idle_ms=nan", "0-3", "٣",
                          "pause g", 'rename g "x', "top -b -i 1000000", "credit", "hvm"]))
_values = st.recursive(_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)),
    max_leaves=8)
_HOST_KEYS = ["pcpus", "scheduler", "memory", "dom0_memory", "dom0_vcpus", "seed", "sched"]
_DOM_KEYS = ["name", "vcpus", "memory", "workload", "cpu_weight", "cap", "cpus", "pool", "vif"]


def _table(keys: list[str]) -> st.SearchStrategy:
    return st.dictionaries(st.sampled_from(keys), _values, max_size=4)


_scenario = st.fixed_dictionaries(
    {"run": st.one_of(_table(["duration_ms", "warmup_ms"]),
                      st.fixed_dictionaries({"duration_ms": _scalars}))},
    optional={"host": _table(_HOST_KEYS), "domain": st.lists(_table(_DOM_KEYS), max_size=3),
              "action": st.lists(_table(["at_ms", "command"]), max_size=3),
              "pool": st.lists(_table(["name", "scheduler", "cpus"]), max_size=2)})


@fuzz(300)
@given(_scenario)
def test_any_table_validates_or_raises_scenarioerror(raw) -> None:
    try:
        sc = validate_scenario(raw, "fuzz.toml")
    except ScenarioError as e:
        assert str(e).startswith("fuzz.toml")
        return
    assert math.isfinite(sc.duration_ms) and 0 < sc.duration_ms + sc.warmup_ms <= MAX_SIM_MS


@fuzz(100)
@given(st.one_of(st.binary(max_size=200), st.text(max_size=200).map(str.encode)))
def test_any_file_loads_or_raises_scenarioerror(tmp_path_factory, data: bytes) -> None:
    path = tmp_path_factory.mktemp("sc") / "f.toml"
    path.write_bytes(data)
    try:
        load_scenario(path)
    except ScenarioError as e:
        assert str(e).startswith(str(path))

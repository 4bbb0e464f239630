"""The README's examples are what a newcomer types: they must stay true."""

from __future__ import annotations

import contextlib
import io
import os
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_python_api_example_prints_what_the_readme_says() -> None:
    text = (ROOT / "README.md").read_text()
    block = re.search(r"## Python API\n\n```python\n(.*?)```", text, re.S).group(1)  # type: ignore[union-attr]
    expected = re.search(r"^# (\{.*\})$", block, re.M).group(1)  # type: ignore[union-attr]
    out = io.StringIO()
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        with contextlib.redirect_stdout(out):
            exec(compile(block, "README.md", "exec"), {})
    finally:
        os.chdir(cwd)
    assert out.getvalue().splitlines()[0] == expected


def test_demo_table_in_readme_matches_a_run() -> None:
    from xensim.scenario import load_scenario, run_scenario

    text = (ROOT / "README.md").read_text()
    r = run_scenario(load_scenario(ROOT / "scenarios" / "demo.toml"))
    for name, d in r["domains"].items():
        row = re.search(r"│ %s\s+│\s+%d │[^│]+│\s+([\d.]+) │" % (re.escape(name), d["domid"]), text)
        assert row, name
        assert float(row.group(1)) == round(100 * d["cpu_share"], 1), name


def test_cost_table_lists_every_primitive_at_its_default() -> None:
    from xensim.hypervisor.costs import CostModel

    readme = (ROOT / "README.md").read_text()
    for name, ns, _source, _desc in CostModel().rows():
        assert f"| `{name}` | {ns} |" in readme, f"README's cost table lacks {name} = {ns}"


def test_live_migration_table_in_readme_matches_a_run() -> None:
    from xensim.scenario import load_scenario, run_scenario

    text = (ROOT / "README.md").read_text()
    r = run_scenario(load_scenario(ROOT / "scenarios" / "migrate-web.toml"))
    m = r["migrations"][0]
    row = re.search(r"│ web h1->h2 │ done  │\s+(\d+) │\s+([\d,]+) │\s+[\d.,]+ │\s+[\d,]+ │"
                    r"\s+([\d.]+) │\s+([\d.]+) │\s+([\d.]+) │", text)
    assert row, "README lacks the migration row"
    rounds, pages, total_s, down_ms, gap_ms = row.groups()
    assert int(rounds) == len(m["rounds"]) and int(pages.replace(",", "")) == m["pages"]
    assert float(total_s) == round(m["total_ms"] / 1000, 2)
    assert float(down_ms) == round(m["downtime_ms"], 1)
    assert float(gap_ms) == round(m["clients"][0]["switch_gap_ms"], 1)

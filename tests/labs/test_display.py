"""Notebook display: tables, not object dumps; xl answers as a terminal shows them; a
progress bar that changes nothing in the run."""

from __future__ import annotations

import pytest

from xensim.host import Host
from xensim.notebook.display import Metrics, XlResult


def test_a_host_shows_as_xl_lists_table() -> None:
    h = Host(pcpus=2)
    h.create("<b>web</b>", workload="cpu", cpu_weight=512)
    h.run(ms=100)
    page = h._repr_html_()
    assert page.startswith("<table")
    assert "&lt;b&gt;web&lt;/b&gt;" in page and "<b>web" not in page  # escaped
    assert "weight=512 cap=0" in page and "2 pCPUs, credit" in page
    assert page.count("<tr>") == 3  # header, Domain-0, the guest


def test_metrics_show_as_the_run_table_and_stay_a_dict() -> None:
    h = Host(pcpus=1)
    h.create("a", workload="cpu")
    h.run(ms=200)
    m = h.metrics()
    assert isinstance(m, Metrics) and isinstance(m, dict)
    assert m == dict(m) and m["domains"]["a"]["cpu_share"] > 0.9
    page = m._repr_html_()
    assert "<td style=\"text-align:left;padding:1px 8px\">a</td>" in page
    assert "0.2 simulated s on 1 pCPUs (credit, seed 0)" in page


def test_xl_answers_unpack_and_show_errors_in_red() -> None:
    h = Host(pcpus=1)
    rc, out, err = h.xl("list")
    assert rc == 0 and out.startswith("Name") and err == ""
    bad = h.xl("sched-credit -d nosuch")
    assert isinstance(bad, XlResult) and bad.rc == 1
    page = bad._repr_html_()
    assert "color:#b00020" in page and "nosuch is an invalid domain identifier" in page
    assert "(exit status 1)" in page
    assert str(bad) == bad.stderr


def test_domains_display_through_ipythons_formatter() -> None:
    from IPython.core import interactiveshell as shell_mod

    shell = shell_mod.InteractiveShell.instance()
    try:
        h = Host(pcpus=1)
        d = h.create("guest", workload="cpu", vcpus=2)
        h.run(ms=50)
        data, _ = shell.display_formatter.format(d)
        assert "running ms" in data["text/html"] and "guest" in data["text/html"]
    finally:
        shell_mod.InteractiveShell.clear_instance()


def test_a_progress_bar_changes_nothing_in_the_results() -> None:
    def run(progress: bool) -> dict:
        h = Host(pcpus=2, seed=3)
        h.create("a", workload="duty:busy_ms=3,idle_ms=7")
        h.create("b", workload="cpu")
        h.run(ms=300, progress=progress)
        m = dict(h.metrics())
        m.pop("events")  # counts the run's stops: one per piece of the bar
        return m

    assert run(True) == run(False)


def test_the_lab_scale_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from xensim.notebook.labs import scaled

    monkeypatch.delenv("XENSIM_LAB_SCALE", raising=False)
    assert scaled(2000) == 2000
    monkeypatch.setenv("XENSIM_LAB_SCALE", "0.05")
    assert scaled(2000) == 100 and scaled(100) == 20  # never below a few ticks
    for bad in ("fast", "0", "-1"):
        monkeypatch.setenv("XENSIM_LAB_SCALE", bad)
        with pytest.raises(ValueError, match="XENSIM_LAB_SCALE=.*expected a number"):
            scaled(2000)

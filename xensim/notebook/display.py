"""HTML for notebooks: a host as ``xl list`` would show it, a domain, a run's metrics, and
an xl command's answer.

Every table is built from :mod:`xensim.toolstack.domtable` (the same rows as the web view)
or from the metrics dict, so a notebook shows exactly the figures the CLI prints.  Text
comes out through :func:`html.escape`: a domain may be named ``<b>``.
"""

from __future__ import annotations

import html
import sys
import weakref
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from xensim.toolstack.domtable import domain_row, domain_rows

if TYPE_CHECKING:
    from xensim.host import Host
    from xensim.hypervisor.domain import Domain

_STYLE = "font-family:monospace;border-collapse:collapse"
_ERR_STYLE = "color:#b00020;margin:0"


def html_table(header: Sequence[str], rows: Iterable[Sequence[Any]], caption: str = "") -> str:
    """A plain HTML table, every cell escaped, numbers right-aligned."""
    def cell(tag: str, v: Any) -> str:
        align = "right" if isinstance(v, (int, float)) and not isinstance(v, bool) else "left"
        text = f"{v:,.1f}" if isinstance(v, float) else str(v)
        return f'<{tag} style="text-align:{align};padding:1px 8px">{html.escape(text)}</{tag}>'

    head = "".join(cell("th", h) for h in header)
    body = "".join("<tr>" + "".join(cell("td", v) for v in row) + "</tr>" for row in rows)
    cap = f"<caption style='text-align:left'>{html.escape(caption)}</caption>" if caption else ""
    return f'<table style="{_STYLE}">{cap}<tr>{head}</tr>{body}</table>'


def _sched_text(sched: dict[str, Any]) -> str:
    return " ".join(f"{k}={v}" for k, v in sched.items())


DOMAIN_HEADER = ("Name", "ID", "Mem", "VCPUs", "State", "Time(s)", "Pool", "Sched", "Workload")


def _domain_cells(row: dict[str, Any]) -> list[Any]:
    return [row["name"], row["domid"], row["mem_mib"], row["vcpus"], row["state"],
            round(row["cpu_ns"] / 1e9, 1), row["pool"], _sched_text(row["sched"]),
            row["workload"]]


def host_html(host: Host) -> str:
    """The host's domains as ``xl list`` shows them, with pools, parameters and workloads."""
    hv = host.hv
    caption = (f"{hv.kind.name} host: {len(hv.pcpus)} pCPUs, {hv.pools[0].sched.name}, "
               f"{hv.free_memory_kib // 1024} of {hv.total_memory_kib // 1024} MiB free, "
               f"t = {host.now / 1e6:,.1f} ms simulated")
    return html_table(DOMAIN_HEADER, (_domain_cells(r) for r in domain_rows(host)), caption)


def domain_html(host: Host, d: Domain) -> str:
    """One domain's row, then its vCPUs with their runstate times."""
    top = html_table(DOMAIN_HEADER, [_domain_cells(domain_row(host, d))])
    now = host.env.now
    rows = []
    for v in d.vcpus:
        t = v.runstate_snapshot(now)
        cpu = v.processor.cpu_id if v.processor is not None else "-"
        rows.append([v.vcpu_id, cpu, round(t[0] / 1e6, 1), round(t[1] / 1e6, 1),
                     round(t[2] / 1e6, 1), v.nr_switches, v.nr_migrations])
    vcpus = html_table(("vCPU", "pCPU", "running ms", "runnable ms", "blocked ms",
                        "switches", "migrations"), rows)
    return top + vcpus


class Metrics(dict):  # type: ignore[type-arg]
    """``host.metrics()``: the run's results as the README documents them (a plain dict
    for code and JSON), shown in a notebook as the table ``xensim run`` prints."""

    def _repr_html_(self) -> str:
        rows = []
        for name, m in self["domains"].items():
            lat = {"p50": 0.0, "p99": 0.0, "max": 0.0}
            samples = [v["wakeup_latency_us"] for v in m["vcpus"] if v["wakeup_latency_us"]["n"]]
            if samples:  # the worst vCPU: a teacher asks "how long did it wait"
                lat = {k: max(s[k] for s in samples) for k in lat}
            jobs = f"{m['jobs']} / {m['deadline_misses']}" if "jobs" in m else ""
            rows.append([name, m["domid"], m["workload"], round(100 * m["cpu_share"], 1),
                         round(sum(v["runnable_ns"] for v in m["vcpus"]) / 1e9, 3),
                         lat["p50"], lat["p99"], lat["max"], jobs])
        host = self["host"]
        caption = (f"{self['duration_ns'] / 1e9:g} simulated s on {host['pcpus']} pCPUs "
                   f"({host['scheduler']}, seed {host['seed']})")
        return html_table(("Domain", "ID", "Workload", "CPU%", "Wait s", "Wake p50 µs",
                           "p99", "max µs", "Jobs/miss"), rows, caption)


class XlResult(NamedTuple):
    """What ``host.xl(...)`` returns: unpack it (``rc, out, err = host.xl("list")``) or
    let a notebook show it as a terminal would, errors in red."""

    rc: int
    stdout: str
    stderr: str

    def __str__(self) -> str:
        return self.stdout + self.stderr

    def _repr_html_(self) -> str:
        out = f"<pre style='margin:0'>{html.escape(self.stdout)}</pre>" if self.stdout else ""
        err = f"<pre style='{_ERR_STYLE}'>{html.escape(self.stderr)}</pre>" if self.stderr else ""
        status = "" if self.rc == 0 else f"<pre style='{_ERR_STYLE}'>(exit status {self.rc})</pre>"
        return out + err + status or "<pre style='margin:0'>(no output)</pre>"


_HOSTS: weakref.WeakSet[Host] = weakref.WeakSet()
"""Hosts built in this process, to find the one a domain lives on (a notebook may hold
several)."""


def register_formatters(host: Host) -> None:
    """Teach a running IPython to show *host*'s domains as tables (and matplotlib figures
    as images).  Called when a :class:`~xensim.host.Host` is built; does nothing outside
    IPython."""
    ipython_mod = sys.modules.get("IPython")
    shell = ipython_mod.get_ipython() if ipython_mod is not None else None
    if shell is None:
        return
    _HOSTS.add(host)
    from IPython.core.pylabtools import select_figure_formats

    from xensim.hypervisor.domain import Domain

    shell.display_formatter.formatters["text/html"].for_type(Domain, _domain_or_none)
    # xensim's plots are matplotlib Figures made without pyplot: show them inline too
    select_figure_formats(shell, {"png"})


def _domain_or_none(d: Domain) -> str | None:
    """The domain's tables, or None (plain repr) for one no live host owns."""
    for host in list(_HOSTS):
        if any(x is d for x in host.all_domains):
            return domain_html(host, d)
    return None

"""The comparison as a table a teacher can project (rich), one row per mode."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from xensim.compare.modes import BREAKDOWN

_LABELS = {"modes": {"guest": "guest", "hypervisor": "Xen", "dom0": "dom0",
                     "device_model": "qemu"},
           "kinds": {"guest": "guest", "hypervisor": "Xen/KVM/TCG", "dom0": "dom0/host",
                     "device_model": "qemu"}}
"""Column names: across kinds the hypervisor column is Xen, KVM or TCG's helpers and
dom0 is the host's own tasks (see :mod:`xensim.compare.kinds`)."""


def _fmt(x: float) -> str:
    return f"{x:,.0f}" if x >= 100 else f"{x:,.1f}"


def render(result: dict[str, Any], key: str = "modes", title: str | None = None) -> Table:
    seconds = result["seconds"]
    table = Table(title=title or (
        f"{result['workload']}: {seconds:g} s measured, {result['pcpus']} pCPUs, "
        f"seed {result['seed']}" + (f", {result['hogs']} CPU hogs" if result["hogs"] else "")
        + (f", dom0 weight {result['dom0_weight']}" if result["dom0_weight"] else "")))
    table.add_column(key[:-1])
    for col in ("ops/s", "p50 us", "p99 us"):
        table.add_column(col, justify="right")
    for part in BREAKDOWN:
        table.add_column(f"{_LABELS[key][part]} ms", justify="right")
    for col in ("hypercalls", "VM exits", "evtchn", "grant ops"):
        table.add_column(col, justify="right")
    for name, m in result[key].items():
        cpu, c = m["cpu_ns"], m["counts"]
        table.add_row(name, _fmt(m["throughput"]), _fmt(m["latency_us"]["p50"]),
                      _fmt(m["latency_us"]["p99"]),
                      *(_fmt(cpu[p] / 1e6) for p in BREAKDOWN),
                      *(f"{c[k]:,}" for k in ("hypercalls", "vmexits", "evtchn_sends",
                                              "grant_ops")))
    return table


def print_table(result: dict[str, Any], key: str = "modes") -> None:
    Console(width=160).print(render(result, key))

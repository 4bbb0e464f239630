"""The table of one or several migrations, as ``xensim migrate-sweep`` and ``run`` print it."""

from __future__ import annotations

from typing import Any

from rich.table import Table


def _ms(x: float | None) -> str:
    if x is None:
        return "-"
    return f"{x:,.0f}" if x >= 100 else f"{x:.1f}"


def migration_table(results: list[dict[str, Any]], title: str, key: str = "") -> Table:
    """One row per migration; *key* names the swept column (``value`` of each result).
    The client gap is the silence its external client saw across the switch-over."""
    table = Table(title=title)
    cols = [key or "migration", "state", "rounds", "pages", "MiB", "last round", "total s",
            "downtime ms", "client gap ms", "dom0 ms src/dst"]
    for col in cols:
        table.add_column(col, justify="left" if col in (cols[0], "state") else "right",
                         no_wrap=True)
    for r in results:
        gaps = [c["switch_gap_ms"] for c in r["clients"] if c["switch_gap_ms"] is not None]
        last = r["rounds"][-1]["pages"] if r["rounds"] else 0
        head = f"{r['value']:g}" if key else f"{r['domain']} {r['from']}->{r['to']}"
        table.add_row(head, r["state"], str(len(r["rounds"])), f"{r['pages']:,}",
                      f"{r['bytes'] / 2**20:,.1f}", f"{last:,}",
                      f"{r['total_ms'] / 1000:.2f}" if r["total_ms"] is not None else "-",
                      _ms(r["downtime_ms"]), _ms(max(gaps) if gaps else None),
                      f"{_ms(r['dom0_cpu_ms']['source'])} / {_ms(r['dom0_cpu_ms']['target'])}")
    return table


def rounds_table(r: dict[str, Any]) -> Table:
    """Pages and bytes per round of one migration."""
    table = Table(title=f"{r['domain']}: {r['from']} -> {r['to']}, rounds")
    for col in ("round", "kind", "pages", "MiB", "start ms", "ms"):
        table.add_column(col, justify="left" if col == "kind" else "right")
    for x in r["rounds"]:
        table.add_row(str(x["round"]), x["kind"], f"{x['pages']:,}",
                      f"{x['bytes'] / 2**20:,.2f}", f"{x['start_ms']:,.1f}",
                      f"{x['duration_ms']:,.1f}")
    return table

"""``xl top``: a xentop-like view of the domains (tools/xentop/xentop.c).

Two halves: :func:`snapshot` samples the host into a plain dict (JSON-able,
so the ``xl`` client can fetch it from the daemon with the hidden
``top --snapshot``), and :func:`render` formats one frame from the current
and previous samples.  CPU(%) is the CPU time gained between two samples
over the *simulated* time between them; the first frame shows 0.0, as
xentop does.  Columns, widths and the default sort (by name, ignoring
case) follow xentop; NETS and VBDS count the devices in xenstore now
(hot-plugged ones too), while NETTX/NETRX and the VBD counters stay 0.

In-process (``host.xl("top -b -i 3 -d 1")``) the delay between frames
passes in simulated time; through the daemon the client sleeps in wall
time and the host runs meanwhile (see :mod:`xensim.toolstack.xl.client`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from xensim.hypervisor.domain import ShutdownReason
from xensim.hypervisor.time import SECONDS
from xensim.hypervisor.vcpu import PauseFlag, RunState
from xensim.toolstack.cnum import ascii_uint
from xensim.toolstack.xl.context import XlContext, XlUsageError
from xensim.toolstack.xl.getopt import getopt

CPU_MHZ = 2400
"""What the summary line reports as the pCPUs' clock (xensim has no frequency)."""

FIELDS: list[tuple[str, int]] = [
    ("NAME", 10), ("STATE", 6), ("CPU(sec)", 10), ("CPU(%)", 6), ("MEM(k)", 10),
    ("MEM(%)", 6), ("MAXMEM(k)", 10), ("MAXMEM(%)", 9), ("VCPUS", 5), ("NETS", 4),
    ("NETTX(k)", 8), ("NETRX(k)", 8), ("VBDS", 4), ("VBD_OO", 8), ("VBD_RD", 8),
    ("VBD_WR", 8), ("VBD_RSECT", 10), ("VBD_WSECT", 10), ("SSID", 4),
]
STATE_LETTERS = "dsbcpr"
"""xentop's state column: dying, shutdown, blocked, crashed, paused, running."""


MAX_ITERATIONS = 10_000
MAX_DELAY_S = 3600
"""Bounds on one ``xl top`` (xensim's: each iteration is simulated work on the host)."""


@dataclass
class TopOptions:
    batch: bool = False
    iterations: int | None = None
    delay: float = 1.0
    vcpus: bool = False
    networks: bool = False
    vbds: bool = False
    repeat_header: bool = False
    full_name: bool = False
    dom0_first: bool = False
    snapshot: bool = False


def parse_options(args: list[str]) -> TopOptions:
    opts, ops = getopt(args, "bi:d:vnxrfzS", {
        "batch": "b", "iterations": "i", "delay": "d", "vcpus": "v", "networks": "n",
        "vbds": "x", "repeat-header": "r", "full-name": "f", "dom0-first": "z",
        "snapshot": "S"}, cmd="top")
    if ops:
        raise XlUsageError(f"unexpected argument '{ops[0]}'")
    t = TopOptions()
    for o, v in opts:
        if o == "i":
            n = ascii_uint(str(v))
            if n is None or not 1 <= n <= MAX_ITERATIONS:
                raise XlUsageError(f"-i needs 1 to {MAX_ITERATIONS} iterations, got '{v}'")
            t.iterations = n
        elif o == "d":
            try:
                t.delay = float(str(v))
            except ValueError:
                raise XlUsageError(f"-d needs seconds, got '{v}'") from None
            if not 0 < t.delay <= MAX_DELAY_S:  # also refuses nan and inf
                raise XlUsageError(f"-d needs a delay of more than 0 and at most "
                                   f"{MAX_DELAY_S} seconds")
        else:
            attr = {"b": "batch", "v": "vcpus", "n": "networks", "x": "vbds",
                    "r": "repeat_header", "f": "full_name", "z": "dom0_first",
                    "S": "snapshot"}[o]
            setattr(t, attr, True)
    return t


# --- sampling --------------------------------------------------------------------------
def snapshot(host: Any) -> dict[str, Any]:
    hv = host.hv
    now = hv.env.now
    doms = []
    for d in sorted(hv.domains.values(), key=lambda d: d.domid):
        online = [v for v in d.vcpus if not v.pause_flags & PauseFlag.DOWN]
        times = [v.runstate_snapshot(now)[RunState.RUNNING] for v in d.vcpus]
        held = (1 if d.is_shutdown else 0) + (1 if d.is_dying else 0)
        doms.append({
            "domid": d.domid, "name": d.name,
            "dying": d.is_dying,
            "shutdown": d.is_shutdown and d.shutdown_code != ShutdownReason.CRASH,
            "blocked": bool(online) and all(v.pause_flags & PauseFlag.BLOCKED for v in online),
            "crashed": d.is_shutdown and d.shutdown_code == ShutdownReason.CRASH,
            "paused": d.pause_count - held > 0,
            "running": any(v.is_running for v in d.vcpus),
            "cpu_ns": sum(times), "vcpu_ns": times,
            "vcpu_online": [not v.pause_flags & PauseFlag.DOWN for v in d.vcpus],
            "mem_kib": d.memory_kib, "maxmem_kib": d.max_memory_kib,
            "vcpus": len(d.vcpus), "nets": len(host.toolstack.device_list(d, "vif")),
            "vbds": len(host.toolstack.device_list(d, "vbd")),
        })
    return {"t_ns": now, "xen_version": "4.19", "nr_cpus": len(hv.pcpus),
            "total_kib": hv.total_memory_kib, "free_kib": hv.free_memory_kib,
            "domains": doms}


# --- rendering -------------------------------------------------------------------------
def _cpu_pct(dom: dict[str, Any], cur: dict[str, Any], prev: dict[str, Any] | None) -> float:
    if prev is None:
        return 0.0
    old = next((p for p in prev["domains"] if p["domid"] == dom["domid"]), None)
    elapsed = cur["t_ns"] - prev["t_ns"]
    if old is None or elapsed <= 0:
        return 0.0
    return (dom["cpu_ns"] - old["cpu_ns"]) * 100.0 / elapsed


def header_line() -> str:
    return " ".join("%*s" % (w, h) for h, w in FIELDS)


def domain_line(dom: dict[str, Any], cur: dict[str, Any], prev: dict[str, Any] | None,
                full_name: bool) -> str:
    total = cur["total_kib"]
    state = "".join(c if dom[k] else "-" for c, k in zip(
        STATE_LETTERS, ("dying", "shutdown", "blocked", "crashed", "paused", "running"),
        strict=True))
    name = "%10s" % dom["name"] if full_name else "%10.10s" % dom["name"]
    cols = [
        name, state, "%10d" % (dom["cpu_ns"] // 1_000_000_000),
        "%6.1f" % _cpu_pct(dom, cur, prev), "%10d" % dom["mem_kib"],
        "%6.1f" % (dom["mem_kib"] * 100.0 / total), "%10d" % dom["maxmem_kib"],
        "%9.1f" % (dom["maxmem_kib"] * 100.0 / total), "%5d" % dom["vcpus"],
        "%4d" % dom["nets"], "%8d" % 0, "%8d" % 0, "%4d" % dom["vbds"],
        "%8d" % 0, "%8d" % 0, "%8d" % 0, "%10d" % 0, "%10d" % 0, "%4d" % 0,
    ]
    return " ".join(cols)


def summary_lines(cur: dict[str, Any]) -> list[str]:
    t = cur["t_ns"] // 1_000_000_000
    clock = "%02d:%02d:%02d" % (t // 3600 % 24, t // 60 % 60, t % 60)
    counts = dict.fromkeys(("running", "blocked", "paused", "crashed", "dying", "shutdown"), 0)
    for d in cur["domains"]:
        for k in ("running", "blocked", "paused", "shutdown", "crashed", "dying"):
            if d[k]:
                counts[k] += 1
                break
    used = cur["total_kib"] - cur["free_kib"]
    return [
        f"xentop - {clock}   Xen {cur['xen_version']}",
        (f"{len(cur['domains'])} domains: {counts['running']} running, {counts['blocked']} "
         f"blocked, {counts['paused']} paused, {counts['crashed']} crashed, "
         f"{counts['dying']} dying, {counts['shutdown']} shutdown "),
        (f"Mem: {cur['total_kib']}k total, {used}k used, {cur['free_kib']}k free    "
         f"CPUs: {cur['nr_cpus']} @ {CPU_MHZ}MHz"),
    ]


def render(cur: dict[str, Any], prev: dict[str, Any] | None, opts: TopOptions) -> str:
    """One frame: summary (unless batch), header, a row per domain (+ vCPU lines)."""
    lines = [] if opts.batch else summary_lines(cur)
    doms = sorted(cur["domains"], key=lambda d: d["name"].lower())
    if opts.dom0_first:
        doms.sort(key=lambda d: d["domid"] != 0)
    for i, d in enumerate(doms):
        if i == 0 or opts.repeat_header:
            lines.append(header_line())
        lines.append(domain_line(d, cur, prev, opts.full_name))
        if opts.vcpus:
            parts = []
            for n, (ns, up) in enumerate(zip(d["vcpu_ns"], d["vcpu_online"], strict=True)):
                if up:
                    parts.append(("\n        " if n and n % 5 == 0 else "")
                                 + " %2d: %10ds" % (n, ns // 1_000_000_000))
            lines.append("VCPUs(sec): " + "".join(parts))
        if opts.networks:
            for n in range(d["nets"]):
                lines.append(f"Net{n} RX: {0:8d}bytes {0:8d}pkts {0:8d}err {0:8d}drop  "
                             f"TX: {0:8d}bytes {0:8d}pkts {0:8d}err {0:8d}drop")
        if opts.vbds:
            for n in range(d["vbds"]):
                lines.append(f"VBD BlkBack {51712 + 16 * n:4d} [ca:{16 * n:2x}]  OO: {0:8d}"
                             f"   RD: {0:8d}   WR: {0:8d}   RSECT: {0:10d}   WSECT: {0:10d}")
    return "\n".join(lines) + "\n"


def main_top(ctx: XlContext, args: list[str]) -> int:
    opts = parse_options(args)
    if opts.snapshot:
        ctx.out.write(json.dumps(snapshot(ctx.host)) + "\n")
        return 0
    # In the daemon the wall clock drives time: one frame only (the xl client loops).
    iterations = 1 if ctx.live else (opts.iterations or 1)
    prev = None
    for i in range(iterations):
        if i:
            ctx.host.run(ns=int(SECONDS(1) * opts.delay))
        cur = snapshot(ctx.host)
        ctx.out.write(render(cur, prev, opts))
        prev = cur
    return 0

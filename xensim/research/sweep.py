"""``xensim sweep``: a scenario times a grid of parameters times N seeds, as one table.

A sweep file (TOML) names a base scenario, the grid and the metrics::

    [sweep]
    scenario = "demo.toml"                 # relative to the sweep file
    seeds = 5                              # 1..5, or an explicit list [3, 7, 11]
    metrics = ["domains.web.cpu_share",    # dotted paths into the result JSON
               "domains.rt.vcpus.0.wakeup_latency_us.p99"]

    [grid]                                 # dotted scenario keys -> values to try
    "host.sched.tslice_ms" = [1, 10, 30]
    "domain.web.cpu_weight" = [256, 512]

Grid keys: ``host.<key>``, ``host.sched.<param>``, ``host.costs.<primitive>``,
``domain.<name>.<xl.cfg key>`` and ``run.duration_ms``/``run.warmup_ms``.
Every cell is validated (scenario schema and building its host) before
anything runs, so a typo fails in a second, not after an hour.

Each (cell, seed) run is independent and deterministic, so the output does
not depend on who ran it: a local process pool (``--jobs``), a Dask cluster
(``--dask ADDRESS``) or this process.  Runs ship the scenario *dict*, not
its path, so workers on other machines need no copy of the file (but
``config =`` xl.cfg files must exist where the workers run).  Output:
``runs.csv`` (one row per run: cell, parameters, seed, metrics) and
``summary.csv`` (tidy: one row per cell and metric with n, mean, std and a
95% Student-t interval), plus ``.parquet`` twins when pyarrow is installed.
"""

from __future__ import annotations

import copy
import csv
import itertools
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xensim.research.errors import ResearchError
from xensim.research.stats import mean_ci
from xensim.scenario import (
    SCHEMA,
    ScenarioError,
    build_host,
    read_toml,
    run_scenario,
    validate_scenario,
)


class SweepError(ResearchError):
    """A sweep file that cannot run; names file, line, key and expectation."""


RESULT_KEYS = ("duration_ns", "events", "host", "domains", "pcpus", "sched", "hosts", "links",
               "migrations")
"""Top-level result keys a metric may start with (``wall_s`` is not deterministic); a
``[[host]]`` site scenario's results have ``hosts.<name>...``, ``links`` and
``migrations`` (e.g. ``migrations.0.downtime_ms``)."""


@dataclass
class Sweep:
    """A validated sweep: every cell's scenario dict, ready to fan out."""

    path: str
    scenario_path: str
    keys: list[str]
    cells: list[tuple[Any, ...]]
    seeds: list[int]
    metrics: list[str]
    scenarios: list[dict[str, Any]] = field(default_factory=list)

    def tasks(self) -> Iterator[tuple[int, int]]:
        """(cell index, seed) in output order."""
        for i in range(len(self.cells)):
            for s in self.seeds:
                yield i, s


def _line(text: str, needle: str) -> str:
    for no, line in enumerate(text.splitlines(), 1):
        if re.match(r'^\s*["\']?' + re.escape(needle) + r'["\']?\s*=', line):
            return f":{no}"
    return ""


def apply_key(raw: dict[str, Any], key: str, value: Any) -> None:
    """Set dotted scenario *key* in *raw* (a scenario dict) to *value*."""
    parts = key.split(".")
    top = parts[0]
    if top == "host" and isinstance(raw.get("host"), list):
        raise KeyError("host.<key> names the [host] of a one-host scenario; a [[host]] site "
                       "is swept through domain.<name>.<key> and run.<key>")
    if top == "host" and len(parts) == 2 and parts[1] in SCHEMA["host"] and \
            parts[1] not in ("sched", "costs"):
        raw.setdefault("host", {})[parts[1]] = value
    elif top == "host" and len(parts) == 3 and parts[1] in ("sched", "costs"):
        raw.setdefault("host", {}).setdefault(parts[1], {})[parts[2]] = value
    elif top == "run" and len(parts) == 2 and parts[1] in SCHEMA["run"]:
        raw.setdefault("run", {})[parts[1]] = value
    elif top == "domain" and len(parts) == 3:
        doms = [d for d in raw.get("domain", []) if d.get("name") == parts[1]]
        if not doms:
            names = ", ".join(d["name"] for d in raw.get("domain", []) if "name" in d)
            raise KeyError(f"no domain named {parts[1]!r} in the scenario (domains: {names})")
        if parts[2] not in SCHEMA["domain"] or parts[2] in ("name", "config"):
            keys = ", ".join(k for k in SCHEMA["domain"] if k not in ("name", "config"))
            raise KeyError(f"unknown domain key {parts[2]!r}; expected one of: {keys}")
        doms[0][parts[2]] = value
    else:
        raise KeyError("expected host.<key>, host.sched.<param>, host.costs.<name>, "
                       "domain.<name>.<key> or run.<key>")


def load_sweep(path: str | Path) -> Sweep:
    """Read and validate a sweep file and every cell of its grid."""
    path = str(path)
    raw, text = read_toml(path, SweepError)
    for key in raw:
        if key not in ("sweep", "grid"):
            raise SweepError(f"{path}: unknown top-level key {key!r}; expected [sweep] "
                             "and [grid]")
    head, grid = raw.get("sweep"), raw.get("grid", {})
    if not isinstance(head, dict):
        raise SweepError(f"{path}: missing [sweep] table with scenario, seeds and metrics")
    if not isinstance(grid, dict):
        raise SweepError(f"{path}: [grid] must be a table of dotted keys to value lists")
    for key in head:
        if key not in ("scenario", "seeds", "metrics"):
            raise SweepError(f"{path}{_line(text, key)}: [sweep]: unknown key {key!r}; "
                             "expected one of: scenario, seeds, metrics")
    for key in ("scenario", "metrics"):
        if key not in head:
            raise SweepError(f"{path}: [sweep]: missing required key {key!r}")
    if not isinstance(head["scenario"], str):
        raise SweepError(f"{path}{_line(text, 'scenario')}: [sweep]: scenario: expected a "
                         "path to a scenario file")
    seeds = head.get("seeds", 1)
    if isinstance(seeds, int) and not isinstance(seeds, bool) and seeds >= 1:
        seeds = list(range(1, seeds + 1))
    elif not (isinstance(seeds, list) and seeds and all(
            isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in seeds)
              and len(set(seeds)) == len(seeds)):
        raise SweepError(f"{path}{_line(text, 'seeds')}: [sweep]: seeds = {seeds!r}: "
                         "expected a count >= 1 or a list of distinct integers >= 0")
    metrics = head["metrics"]
    if not (isinstance(metrics, list) and metrics and all(isinstance(m, str) for m in metrics)):
        raise SweepError(f"{path}{_line(text, 'metrics')}: [sweep]: metrics: expected a "
                         "non-empty list of dotted result paths such as "
                         "\"domains.web.cpu_share\"")
    from xensim.scenario import load_scenario

    sc_path = str(Path(path).parent / head["scenario"])
    try:
        base = load_scenario(sc_path)
    except ScenarioError as exc:
        raise SweepError(f"{path}{_line(text, 'scenario')}: scenario: {exc}") from None
    names = {"Domain-0"} | {d["name"] for d in base.domains if "name" in d}
    for m in metrics:
        parts = m.split(".")
        if parts[0] not in RESULT_KEYS:
            raise SweepError(f"{path}{_line(text, 'metrics')}: metric {m!r}: expected a path "
                             f"starting with one of: {', '.join(RESULT_KEYS)}")
        if parts[0] == "domains" and (len(parts) < 3 or parts[1] not in names):
            raise SweepError(f"{path}{_line(text, 'metrics')}: metric {m!r}: expected "
                             f"domains.<name>.<key> with a name among: "
                             f"{', '.join(sorted(names))}")
    keys = list(grid)
    for key in keys:
        vals = grid[key]
        if not isinstance(vals, list) or not vals:
            raise SweepError(f"{path}{_line(text, key)}: [grid]: {key}: expected a non-empty "
                             "list of values")
        try:
            apply_key(copy.deepcopy(base.raw), key, vals[0])
        except KeyError as exc:
            raise SweepError(f"{path}{_line(text, key)}: [grid]: {key}: {exc.args[0]}") \
                from None
    cells = list(itertools.product(*(grid[k] for k in keys)))
    sweep = Sweep(path, sc_path, keys, cells, list(seeds), list(metrics))
    for cell in cells:
        sc_raw = copy.deepcopy(base.raw)
        for k, v in zip(keys, cell, strict=True):
            apply_key(sc_raw, k, v)
        what = ", ".join(f"{k} = {v!r}" for k, v in zip(keys, cell, strict=True))
        try:
            build_host(validate_scenario(sc_raw, sc_path))
        except ScenarioError as exc:
            line = _line(text, keys[0]) if keys else ""
            raise SweepError(f"{path}{line}: grid cell {what}: {exc}") from None
        sweep.scenarios.append(sc_raw)
    return sweep


def run_cell(scenario: dict[str, Any], path: str, seed: int) -> dict[str, Any]:
    """One run of the sweep, in whichever process or worker executes it."""
    result = run_scenario(validate_scenario(scenario, path), seed=seed)
    result.pop("wall_s", None)
    return result


def resolve(result: dict[str, Any], metric: str) -> float:
    """The number at dotted path *metric* in *result*; :class:`KeyError` says where."""
    node: Any = result
    done: list[str] = []
    for part in metric.split("."):
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise KeyError(f"metric {metric!r}: {'.'.join(done)} is a list of "
                               f"{len(node)}; expected an index 0..{len(node) - 1}")
            node = node[int(part)]
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            there = ", ".join(sorted(node)) if isinstance(node, dict) else type(node).__name__
            raise KeyError(f"metric {metric!r}: no {part!r} under "
                           f"{'.'.join(done) or 'the result'}; there: {there}")
        done.append(part)
    if isinstance(node, bool) or not isinstance(node, (int, float)):
        raise KeyError(f"metric {metric!r} is not a number (it is a "
                       f"{type(node).__name__})")
    return float(node)


Executor = Callable[[Sweep, Callable[[], None]], dict[tuple[int, int], dict[str, Any]]]


def execute_inline(sweep: Sweep, tick: Callable[[], None]) -> dict[tuple[int, int], Any]:
    out = {}
    for i, seed in sweep.tasks():
        out[i, seed] = run_cell(sweep.scenarios[i], sweep.scenario_path, seed)
        tick()
    return out


def execute_pool(jobs: int) -> Executor:
    """Runs on a local process pool of *jobs* workers (spawned: no inherited state)."""
    def run(sweep: Sweep, tick: Callable[[], None]) -> dict[tuple[int, int], Any]:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor, as_completed

        out = {}
        with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn")) as ex:
            futs = {ex.submit(run_cell, sweep.scenarios[i], sweep.scenario_path, s): (i, s)
                    for i, s in sweep.tasks()}
            for fut in as_completed(futs):
                out[futs[fut]] = fut.result()
                tick()
        return out
    return run


def execute_dask(address: Any) -> Executor:
    """Runs on the Dask cluster at *address* (or an existing ``Client``)."""
    def run(sweep: Sweep, tick: Callable[[], None]) -> dict[tuple[int, int], Any]:
        try:
            from dask.distributed import Client, as_completed
        except ImportError:
            raise ResearchError("--dask needs dask.distributed: pip install "
                                "'xensim[sweep]'") from None
        own = not isinstance(address, Client)
        try:
            client = Client(address) if own else address
        except (OSError, TimeoutError, ValueError) as exc:
            raise ResearchError(f"cannot reach the Dask scheduler at {address}: "
                                f"{exc}") from None
        try:
            futs = {client.submit(run_cell, sweep.scenarios[i], sweep.scenario_path, s,
                                  pure=False): (i, s) for i, s in sweep.tasks()}
            out = {}
            for fut in as_completed(futs):
                out[futs[fut]] = fut.result()
                tick()
            return out
        finally:
            if own:
                client.close()
    return run


@dataclass
class SweepResult:
    """The tables of a finished sweep, rows in (cell, seed) order."""

    runs: list[dict[str, Any]]
    summary: list[dict[str, Any]]


def tabulate(sweep: Sweep, results: dict[tuple[int, int], dict[str, Any]]) -> SweepResult:
    """Per-run rows and the per-cell, per-metric summary of *results*."""
    for m in sweep.metrics:  # a path that the first run lacks is a mistake, not a NaN
        try:
            resolve(results[next(sweep.tasks())], m)
        except KeyError as exc:
            raise SweepError(f"{sweep.path}: {exc.args[0]}") from None
    runs = []
    for i, seed in sweep.tasks():
        row: dict[str, Any] = {"cell": i}
        row.update(zip(sweep.keys, sweep.cells[i], strict=True))
        row["seed"] = seed
        for m in sweep.metrics:
            try:
                row[m] = resolve(results[i, seed], m)
            except KeyError:
                row[m] = math.nan  # e.g. a count a run never incremented
        runs.append(row)
    summary = []
    for i, cell in enumerate(sweep.cells):
        rows = [r for r in runs if r["cell"] == i]
        for m in sweep.metrics:
            n, mean, std, lo, hi = mean_ci([r[m] for r in rows])
            srow: dict[str, Any] = {"cell": i, **dict(zip(sweep.keys, cell, strict=True))}
            srow.update(metric=m, n=n, mean=mean, std=std, ci95_low=lo, ci95_high=hi)
            summary.append(srow)
    return SweepResult(runs, summary)


def run_sweep(sweep: Sweep, executor: Executor | None = None,
              progress: bool = False) -> SweepResult:
    """Run every (cell, seed) of *sweep* and tabulate; the executor only changes who runs."""
    total = len(sweep.cells) * len(sweep.seeds)
    executor = executor or execute_inline
    if not progress:
        return tabulate(sweep, executor(sweep, lambda: None))
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    with Progress("[progress.description]{task.description}", BarColumn(),
                  MofNCompleteColumn(), TimeElapsedColumn(),
                  console=Console(stderr=True)) as bar:
        task = bar.add_task(f"{len(sweep.cells)} cells x {len(sweep.seeds)} seeds", total=total)
        results = executor(sweep, lambda: bar.advance(task))
    return tabulate(sweep, results)


def _cell(v: Any) -> Any:
    return "" if isinstance(v, float) and math.isnan(v) else v


def write_tables(res: SweepResult, out_dir: str | Path) -> list[Path]:
    """``runs.csv`` and ``summary.csv`` (and Parquet twins if pyarrow is installed)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, rows in (("runs", res.runs), ("summary", res.summary)):
        p = out / f"{name}.csv"
        with open(p, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0]), lineterminator="\n")
            w.writeheader()
            w.writerows({k: _cell(v) for k, v in r.items()} for r in rows)
        written.append(p)
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        return written
    for name, rows in (("runs", res.runs), ("summary", res.summary)):
        p = out / f"{name}.parquet"
        try:
            table = pa.Table.from_pylist(rows)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            # a grid key whose values mix types (1 and "1-3"): store its column as text
            table = pa.Table.from_pylist([{k: v if k in ("cell", "seed", "metric", "n")
                                           or isinstance(v, float) else str(v)
                                           for k, v in r.items()} for r in rows])
        pq.write_table(table, p)
        written.append(p)
    return written

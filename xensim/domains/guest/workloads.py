"""Workloads a guest vCPU can run, named by spec strings such as ``duty:busy_ms=5,idle_ms=20``.

Each workload is a generator of guest actions (see :mod:`xensim.domains.guest.guest_vcpu`)
plus a parameter schema, registered by name so configs, scenarios and
researchers' code can name it.  Parameters are checked against the schema
with messages that list what is allowed, because a typo in a spec string
is the most common mistake in a scenario file.

Built in: ``cpu`` (always busy), ``duty`` (compute then sleep), ``periodic``
(released every period, records deadline misses), ``idle`` (blocks forever).
Randomness (the phase of a duty cycle) comes from a generator seeded per
domain, so a seed fixes a run.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from xensim.domains.guest.guest_vcpu import Action, Compute, GuestVcpu, Program, SleepUntil
from xensim.hypervisor.time import MILLISECS, SECONDS


class WorkloadError(ValueError):
    """A workload spec that names no workload or passes bad parameters."""


@dataclass(frozen=True, slots=True)
class Param:
    kind: type
    default: Any
    help: str
    minimum: float | None = None
    maximum: float = 1e9  # no parameter needs more; bounds the simulated work


ProgramFactory = Callable[[GuestVcpu, dict[str, Any], random.Random], Iterator[Action]]


@dataclass(frozen=True, slots=True)
class WorkloadType:
    name: str
    summary: str
    params: dict[str, Param]
    factory: ProgramFactory


@dataclass(frozen=True, slots=True)
class WorkloadSpec:
    """A parsed spec: the workload's name and its typed parameters."""

    name: str
    params: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        if not self.params:
            return self.name
        return self.name + ":" + ",".join(f"{k}={v}" for k, v in self.params.items())


WORKLOADS: dict[str, WorkloadType] = {}


def register_workload(name: str, summary: str, **params: Param) -> Callable[[ProgramFactory],
                                                                            ProgramFactory]:
    """Decorator: make a program factory available under *name*."""
    def deco(fn: ProgramFactory) -> ProgramFactory:
        if name in WORKLOADS:
            raise ValueError(f"workload {name!r} is already registered")
        WORKLOADS[name] = WorkloadType(name, summary, params, fn)
        return fn
    return deco


def _convert(wl: WorkloadType, key: str, raw: str) -> Any:
    param = wl.params[key]
    try:
        value = param.kind(raw)
    except ValueError:
        raise WorkloadError(f"workload {wl.name!r}: {key} must be {param.kind.__name__} "
                            f"({param.help}), got {raw!r}") from None
    if isinstance(value, float) and not math.isfinite(value):
        raise WorkloadError(f"workload {wl.name!r}: {key} must be a finite number "
                            f"({param.help}), got {raw}")
    if param.minimum is not None and value < param.minimum:
        raise WorkloadError(f"workload {wl.name!r}: {key} must be >= {param.minimum} "
                            f"({param.help}), got {raw}")
    if isinstance(value, (int, float)) and value > param.maximum:
        raise WorkloadError(f"workload {wl.name!r}: {key} must be <= {param.maximum:g} "
                            f"({param.help}), got {raw}")
    return value


def parse_workload(spec: str) -> WorkloadSpec:
    """``"duty:busy_ms=5,idle_ms=20"`` -> :class:`WorkloadSpec`, or :class:`WorkloadError`."""
    if not isinstance(spec, str) or not spec.strip():
        raise WorkloadError(f"a workload spec must be a non-empty string, got {spec!r}")
    name, _, rest = spec.strip().partition(":")
    wl = WORKLOADS.get(name)
    if wl is None:
        raise WorkloadError(f"unknown workload {name!r}; known workloads: "
                            f"{', '.join(sorted(WORKLOADS))}")
    params = {k: p.default for k, p in wl.params.items()}
    for item in filter(None, (s.strip() for s in rest.split(","))):
        key, eq, raw = item.partition("=")
        key = key.strip()
        if not eq:
            raise WorkloadError(f"workload {name!r}: expected key=value, got {item!r}")
        if key not in wl.params:
            allowed = ", ".join(wl.params) or "none"
            raise WorkloadError(f"workload {name!r} has no parameter {key!r}; "
                                f"parameters: {allowed}")
        params[key] = _convert(wl, key, raw.strip())
    missing = [k for k, v in params.items() if v is None]
    if missing:
        raise WorkloadError(f"workload {name!r} needs {', '.join(missing)}")
    return WorkloadSpec(name, params)


def make_program(spec: WorkloadSpec, guest: GuestVcpu, rng: random.Random) -> Program:
    return WORKLOADS[spec.name].factory(guest, dict(spec.params), rng)  # type: ignore[return-value]


# --- the built-in workloads -------------------------------------------------------------

@register_workload("idle", "does nothing: the vCPU blocks and stays blocked")
def _idle(g: GuestVcpu, p: dict[str, Any], rng: random.Random) -> Iterator[Action]:
    return
    yield  # pragma: no cover  (makes this a generator)


@register_workload("cpu", "always busy: a CPU hog")
def _cpu(g: GuestVcpu, p: dict[str, Any], rng: random.Random) -> Iterator[Action]:
    while True:
        yield Compute(SECONDS(1))
        g.stats["work_s"] = g.stats.get("work_s", 0) + 1


@register_workload(
    "duty", "computes busy_ms, then sleeps idle_ms, at a random phase",
    busy_ms=Param(float, None, "milliseconds of computation per cycle", 0.001),
    idle_ms=Param(float, None, "milliseconds of sleep per cycle", 0.001),
    phase=Param(int, 1, "1: start at a random point of the first cycle, 0: start busy", 0))
def _duty(g: GuestVcpu, p: dict[str, Any], rng: random.Random) -> Iterator[Action]:
    busy, idle = MILLISECS(p["busy_ms"]), MILLISECS(p["idle_ms"])
    if p["phase"]:
        yield SleepUntil(g.now + rng.randrange(busy + idle))
    while True:
        yield Compute(busy)
        g.stats["cycles"] = g.stats.get("cycles", 0) + 1
        yield SleepUntil(g.now + idle)


@register_workload(
    "periodic", "a real-time task: wcet_ms of work released every period_ms",
    period_ms=Param(float, None, "release period in ms (the relative deadline)", 0.001),
    wcet_ms=Param(float, None, "execution time of one job in ms", 0.001),
    offset_ms=Param(float, 0.0, "time of the first release in ms", 0))
def _periodic(g: GuestVcpu, p: dict[str, Any], rng: random.Random) -> Iterator[Action]:
    period, wcet = MILLISECS(p["period_ms"]), MILLISECS(p["wcet_ms"])
    release = g.now + MILLISECS(p["offset_ms"])
    stats = g.stats
    stats.setdefault("jobs", 0)
    stats.setdefault("deadline_misses", 0)
    response: list[int] = stats.setdefault("response_ns", [])
    while True:
        if g.now < release:
            yield SleepUntil(release)
        yield Compute(wcet)
        finish = g.now
        stats["jobs"] += 1
        response.append(finish - release)
        if finish > release + period:
            stats["deadline_misses"] += 1
        release += period

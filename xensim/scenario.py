"""Scenario files: a host, its domains, timed xl actions and a duration, in TOML.

The format (documented in the README) is checked against a schema before
anything runs, so a typo is reported as ``file:line: where: what was
expected`` instead of a traceback half-way through a run.  Every key of a
``[[domain]]`` table is the xl.cfg key of the same name.

Every value is checked, not only its type: numbers must be finite and in range,
names non-empty, the host must hold dom0's memory, values may nest at most
:data:`MAX_NESTING` deep, each action's command must split like a shell line, and
the simulated work is bounded (:data:`MAX_SIM_MS` of simulated time; ``xl top``
within it), so that no file can run without end or end in a traceback.
"""

from __future__ import annotations

import io
import math
import os
import re
import shlex
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xensim.domains.dom0.hostnet import HostNetError, parse_bridges
from xensim.domains.guest.workloads import WorkloadError, parse_workload
from xensim.host import Host, xl_value
from xensim.hypervisor.cpumap import CpumapError, parse_cpumap
from xensim.hypervisor.hostkind import GUEST_ARCHES, HOST_KINDS
from xensim.hypervisor.passthrough import PciError, parse_pci_devices
from xensim.hypervisor.sched.ops import SchedParamError, get_scheduler_class
from xensim.hypervisor.time import MILLISECS
from xensim.hypervisor.topology import Topology
from xensim.site import Site
from xensim.toolstack.domconfig import DomainConfig
from xensim.toolstack.libxl import LibxlError
from xensim.toolstack.xl.context import XlUsageError
from xensim.toolstack.xl.main import start_command
from xensim.toolstack.xl.xl_top import parse_options as parse_top_options
from xensim.toolstack.xlcfg import XlCfgError

ACTION_POLL_NS = MILLISECS(1)
"""How often a waiting action (``xl migrate``...) is checked for its end."""


class ScenarioError(ValueError):
    """A scenario that cannot run; the message names file, line, key and expectation."""


MAX_SIM_MS = 3_600_000
"""Longest simulated run (warm-up included): one simulated hour."""
MAX_NESTING = 16
"""Deepest nesting of TOML values (arrays and tables) a scenario may use."""
HOST_MEMORY_MIB = 16384
DOM0_MEMORY_MIB = 1024
"""The host's and dom0's memory when [host] does not say (as :class:`Host`'s defaults)."""
MAX_MEMORY_MIB = 1 << 24
"""Largest memory size (16 TiB) for the host or a guest."""


Check = Callable[[Any], str | None]
"""Returns None when the value is fine, else what was expected."""


def _short(text: str, limit: int = 60) -> str:
    """*text* cut to *limit* characters, for a one-line message."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _int(lo: int | None = None, hi: int | None = None) -> Check:
    def check(v: Any) -> str | None:
        rng = f" in {lo}..{hi}" if hi is not None else (f" >= {lo}" if lo is not None else "")
        if isinstance(v, bool) or not isinstance(v, int):
            return f"an integer{rng}"
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            return f"an integer{rng}"
        return None
    return check


def _number(lo: float = 0, strict: bool = False, hi: float = MAX_SIM_MS) -> Check:
    """A finite number in [*lo*, *hi*] (``(lo, hi]`` when *strict*); nan and inf fail."""
    def check(v: Any) -> str | None:
        want = f"a number {'>' if strict else '>='} {lo} and <= {hi:g}"
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            return want
        if not math.isfinite(v) or v < lo or (strict and v == lo) or v > hi:
            return want
        return None
    return check


def _str(choices: tuple[str, ...] | None = None) -> Check:
    def check(v: Any) -> str | None:
        if not isinstance(v, str) or (choices and v not in choices):
            return "one of " + ", ".join(repr(c) for c in choices) if choices else "a string"
        return None
    return check


def _name(v: Any) -> str | None:
    if not isinstance(v, str) or not v.strip():
        return "a non-empty name"
    if len(v) > 64 or not v.isprintable():
        return "a name of at most 64 printable characters"
    return None


def _command(v: Any) -> str | None:
    """An xl command line: it must split as a shell would (no unbalanced quote)."""
    if not isinstance(v, str):
        return "an xl command line such as \"pause web\""
    try:
        words = shlex.split(v)
    except ValueError as exc:
        return f"an xl command line that splits like a shell's ({exc})"
    if not words:
        return "an xl command line such as \"pause web\""
    return None


def _cpumap(v: Any) -> str | None:
    if isinstance(v, bool) or not isinstance(v, (str, int, list)):
        return "an xl cpumap such as \"0-3,^2\" (a string, an integer or a list)"
    return None


def _str_list(v: Any) -> str | None:
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        return "a list of xl spec strings, e.g. [\"bridge=xenbr0\"]"
    return None


def _params(v: Any) -> str | None:
    """A table of scheduler or cost parameters: each a finite number (or a word)."""
    if not isinstance(v, dict):
        return "a table"
    for key, x in v.items():
        if isinstance(x, (int, float)) and not (math.isfinite(x) and abs(x) <= 1e12):
            return f"a table of finite numbers up to 1e12, not {key} = {_short(repr(x))}"
        if not isinstance(x, (int, float, str)):
            return f"a table of numbers, not {key} = {x!r}"
    return None


def _declared(parse: Callable[[Any], Any], error: type[ValueError], what: str) -> Check:
    """A table (or list of tables) of host devices that *parse* accepts."""
    def check(v: Any) -> str | None:
        try:
            parse(v if isinstance(v, list) else [v])
        except error as exc:
            return f"{what}: {exc}"
        return None
    return check


def _topology(v: Any) -> str | None:
    expected = ("{ sockets = S, cores_per_socket = C, threads_per_core = T } "
                "or \"SxCxT\" such as \"2x8x2\"")
    try:
        if isinstance(v, dict):
            Topology.from_mapping(v)
        elif isinstance(v, str):
            Topology.parse(v)
        else:
            return expected
    except (ValueError, TypeError) as exc:
        return f"{expected} ({exc})"
    return None


def _pair(v: Any) -> str | None:
    if not isinstance(v, list) or len(v) != 2 or not all(isinstance(x, str) for x in v):
        return "two host names, e.g. [\"h1\", \"h2\"]"
    return None


def _scheduler(v: Any) -> str | None:
    if not isinstance(v, str):
        return "a scheduler name"
    try:
        get_scheduler_class(v)
    except ValueError as exc:
        return str(exc).replace("unknown scheduler", "a known scheduler, not")
    return None


def _hypervisor(v: Any) -> str | None:
    if v not in HOST_KINDS:
        return f"one of {', '.join(HOST_KINDS)}"
    return None


def _workload(v: Any) -> str | None:
    if not isinstance(v, str):
        return "a workload spec string such as \"cpu\" or \"duty:busy_ms=5,idle_ms=20\""
    try:
        parse_workload(v)
    except WorkloadError as exc:
        return f"a valid workload spec ({exc})"
    return None


SCHEMA: dict[str, dict[str, Check]] = {
    "host": {"pcpus": _int(1, 4096), "scheduler": _scheduler, "hypervisor": _hypervisor,
             "seed": _int(0, 2**64 - 1),
             "memory": _int(64, MAX_MEMORY_MIB), "dom0_vcpus": _int(1, 4096),
             "dom0_memory": _int(64, MAX_MEMORY_MIB), "sched": _params, "costs": _params,
             "name": _name,
             "topology": _topology, "xen_cmdline": _str(),
             "bridge": _declared(parse_bridges, HostNetError,
                                 "[[host.bridge]] tables with name (and kind, nic)"),
             "pci": _declared(parse_pci_devices, PciError,
                              "[[host.pci]] tables with bdf (and kind, assignable)")},
    "domain": {"name": _name, "vcpus": _int(1, 512), "maxvcpus": _int(1, 512),
               "memory": _int(1, MAX_MEMORY_MIB), "workload": _workload,
               "cpu_weight": _int(1, 65535), "cap": _int(0, 409600), "cpus": _cpumap,
               "cpus_soft": _cpumap, "type": _str(("pv", "pvh", "hvm")), "pool": _str(),
               "config": _str(), "vif": _str_list, "disk": _str_list,
               "maxmem": _int(1, MAX_MEMORY_MIB), "guest_arch": _str(GUEST_ARCHES),
               "qemu_args": _str(), "pci": _str_list, "uuid": _str(), "host": _str()},
    "pool": {"name": _name, "scheduler": _scheduler, "cpus": _cpumap, "sched": _params,
             "host": _str()},
    "action": {"at_ms": _number(0), "command": _command, "host": _str()},
    "link": {"between": _pair, "bandwidth_mbit": _number(0, strict=True),
             "latency_us": _number(0)},
    "run": {"duration_ms": _number(0, strict=True), "warmup_ms": _number(0)},
}
REQUIRED = {"domain": ("name",), "pool": ("name", "scheduler", "cpus"),
            "action": ("at_ms", "command"), "run": ("duration_ms",), "link": ("between",)}
"""Keys a table must have (a domain may take its name from its ``config`` file instead)."""


@dataclass
class Scenario:
    """A validated scenario, ready to run."""

    path: str
    host: dict[str, Any]
    domains: list[dict[str, Any]]
    actions: list[dict[str, Any]]
    pools: list[dict[str, Any]]
    duration_ms: float
    warmup_ms: float = 0.0
    raw: dict[str, Any] = field(default_factory=dict)
    hosts: list[dict[str, Any]] = field(default_factory=list)
    """``[[host]]`` tables of a site (empty for a single ``[host]``)."""
    links: list[dict[str, Any]] = field(default_factory=list)


class _Locator:
    """Finds the line of a key in the TOML text, for error messages."""

    def __init__(self, path: str, text: str) -> None:
        self.path = path
        self.lines = text.splitlines()

    def line_of(self, table: str, index: int, key: str | None) -> int | None:
        header = re.compile(r"^\s*\[\[?\s*%s\s*\]\]?" % re.escape(table))
        any_header = re.compile(r"^\s*\[")
        seen = -1
        start = None
        for no, line in enumerate(self.lines, 1):
            if header.match(line):
                seen += 1
                if seen == index:
                    start = no
                    break
        if start is None:
            return None
        if key is None:
            return start
        key_re = re.compile(r"^\s*%s\s*=" % re.escape(key))
        for no in range(start + 1, len(self.lines) + 1):
            line = self.lines[no - 1]
            if any_header.match(line) and not line.strip().startswith(f"[{table}."):
                break
            if key_re.match(line):
                return no
        return start

    def error(self, table: str, index: int, key: str | None, msg: str) -> ScenarioError:
        line = self.line_of(table, index, key)
        where = f"{self.path}:{line}" if line else self.path
        return ScenarioError(f"{where}: {msg}")


def _check_table(loc: _Locator, table: str, index: int, label: str,
                 data: dict[str, Any]) -> None:
    schema = SCHEMA[table]
    for key, value in data.items():
        if key not in schema:
            raise loc.error(table, index, key,
                            f"{label}: unknown key {key!r}; expected one of: "
                            f"{', '.join(schema)}")
        expected = schema[key](value)
        if expected:
            raise loc.error(table, index, key,
                            f"{label}: {key} = {_short(repr(value))}: expected {expected}")
    for key in REQUIRED.get(table, ()):
        if key not in data and not (table == "domain" and "config" in data):
            raise loc.error(table, index, None, f"{label}: missing required key {key!r}")


def read_toml(path: str, error: type[Exception]) -> tuple[dict[str, Any], str]:
    """A TOML file's table and text; unreadable or malformed files raise *error*
    with the path (scenario and sweep files share this)."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise error(f"{path}: cannot read: {exc.strerror}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise error(f"{path}:{line}: not UTF-8 (TOML files are UTF-8): byte "
                    f"0x{data[exc.start]:02x}") from None
    try:
        table = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{path}: TOML syntax error: {exc}") from None
    except RecursionError:  # tomllib recurses per level of [ and {
        raise error(f"{path}: values nested more than {MAX_NESTING} levels deep") from None
    if _depth(table) > MAX_NESTING:
        raise error(f"{path}: values nested more than {MAX_NESTING} levels deep")
    return table, text


def _depth(value: Any) -> int:
    """How deep arrays and tables nest in *value*, counted up to one past the limit
    (iterative: no recursion to exhaust)."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        v, d = stack.pop()
        deepest = max(deepest, d)
        if deepest > MAX_NESTING:
            break
        if isinstance(v, dict):
            stack.extend((x, d + 1) for x in v.values())
        elif isinstance(v, list):
            stack.extend((x, d + 1) for x in v)
    return deepest


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario file; raises :class:`ScenarioError`."""
    raw, text = read_toml(str(path), ScenarioError)
    return validate_scenario(raw, str(path), text)


def validate_scenario(raw: dict[str, Any], path: str = "<scenario>",
                      text: str = "") -> Scenario:
    loc = _Locator(path, text)
    top = {"host", "pool", "domain", "action", "run", "link"}
    for key in raw:
        if key not in top:
            raise ScenarioError(f"{path}: unknown top-level key {key!r}; expected "
                                "[host] (or [[host]] and [[link]]), [[pool]], [[domain]], "
                                "[[action]] and [run]")
    hosts, links = _check_site(loc, path, raw)
    host = hosts[0] if hosts else raw.get("host", {})
    if not isinstance(host, dict):
        raise ScenarioError(f"{path}: [host] must be a table")
    if not hosts:
        _check_table(loc, "host", 0, "[host]", host)
    domains = raw.get("domain", [])
    actions = raw.get("action", [])
    run = raw.get("run")
    if not isinstance(domains, list) or not isinstance(actions, list):
        raise ScenarioError(f"{path}: write domains as [[domain]] and actions as [[action]]")
    if run is None:
        raise ScenarioError(f"{path}: missing [run] table with duration_ms")
    if not isinstance(run, dict):
        raise ScenarioError(f"{path}: [run] must be a table")
    _check_table(loc, "run", 0, "[run]", run)
    if run["duration_ms"] + run.get("warmup_ms", 0) > MAX_SIM_MS:
        raise loc.error("run", 0, "duration_ms", f"[run]: warmup_ms + duration_ms is more than "
                        f"{MAX_SIM_MS} ms, xensim's bound on one run")
    for i, h in enumerate(hosts or [host]):
        dom0_mem = h.get("dom0_memory", DOM0_MEMORY_MIB)
        host_mem = h.get("memory", HOST_MEMORY_MIB)
        if host_mem < dom0_mem:
            label = f"[[host]] #{i + 1}" if hosts else "[host]"
            raise loc.error("host", i, "memory", f"{label}: memory = {host_mem} MiB cannot "
                            f"hold dom0's {dom0_mem} MiB (dom0_memory)")
    names: set[str] = set()
    nr_cpus = host.get("pcpus", 4)
    if "topology" in host:
        topo = host["topology"]
        topo = Topology.from_mapping(topo) if isinstance(topo, dict) else Topology.parse(topo)
        if "pcpus" in host and host["pcpus"] != topo.nr_cpus:
            raise loc.error("host", 0, "pcpus", f"[host]: pcpus = {host['pcpus']} but the "
                            f"topology has {topo.nr_cpus} pCPUs")
        nr_cpus = topo.nr_cpus
    for i, dom in enumerate(domains):
        if not isinstance(dom, dict):
            raise ScenarioError(f"{path}: write domains as [[domain]] tables")
        label = f"[[domain]] #{i + 1}" + (f" ({_short(str(dom['name']))})" if "name" in dom else "")
        _check_table(loc, "domain", i, label, dom)
        if "name" in dom:
            if dom["name"] in names or dom["name"] == "Domain-0":
                raise loc.error("domain", i, "name", f"{label}: duplicate domain name")
            names.add(dom["name"])
        for key in ("cpus", "cpus_soft"):
            if key in dom:
                try:
                    parse_cpumap(dom[key], nr_cpus)
                except CpumapError as exc:
                    raise loc.error("domain", i, key, f"{label}: {key}: {exc}") from None
    pools = raw.get("pool", [])
    if not isinstance(pools, list):
        raise ScenarioError(f"{path}: write cpupools as [[pool]]")
    taken: set[int] = set()
    for i, pool in enumerate(pools):
        if not isinstance(pool, dict):
            raise ScenarioError(f"{path}: write cpupools as [[pool]] tables")
        label = f"[[pool]] #{i + 1}" + (f" ({_short(str(pool['name']))})" if "name" in pool else "")
        _check_table(loc, "pool", i, label, pool)
        try:
            cpus = parse_cpumap(pool["cpus"], nr_cpus)
        except CpumapError as exc:
            raise loc.error("pool", i, "cpus", f"{label}: cpus: {exc}") from None
        if cpus & taken:
            raise loc.error("pool", i, "cpus", f"{label}: cpus: pCPU {min(cpus & taken)} is "
                                               "already in another [[pool]]")
        taken |= cpus
    if pools and len(taken) >= nr_cpus:
        raise loc.error("pool", len(pools) - 1, "cpus",
                        "[[pool]]: the pools take every pCPU; Pool-0 (Domain-0's) needs one")
    pool_names = {"Pool-0"} | {p["name"] for p in pools}
    for i, dom in enumerate(domains):
        if "pool" in dom and dom["pool"] not in pool_names:
            raise loc.error("domain", i, "pool", f"[[domain]] #{i + 1}: pool {dom['pool']!r} "
                            f"is not declared; pools: {', '.join(sorted(pool_names))}")
    for i, act in enumerate(actions):
        if not isinstance(act, dict):
            raise ScenarioError(f"{path}: write actions as [[action]] tables")
        _check_table(loc, "action", i, f"[[action]] #{i + 1}", act)
        expected = _bounded_work(act["command"])
        if expected:
            raise loc.error("action", i, "command",
                            f"[[action]] #{i + 1}: command = {act['command']!r}: {expected}")
    _check_placement(loc, hosts, {"domain": domains, "action": actions, "pool": pools})
    return Scenario(path, host, domains, actions, pools, float(run["duration_ms"]),
                    float(run.get("warmup_ms", 0)), raw, hosts, links)


def _check_site(loc: _Locator, path: str, raw: dict[str, Any]
                ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``[[host]]`` (each with a unique ``name``) and the ``[[link]]`` tables between them."""
    hosts = raw.get("host", {})
    links = raw.get("link", [])
    if not isinstance(links, list):
        raise ScenarioError(f"{path}: write links as [[link]]")
    if not isinstance(hosts, list):
        if links:
            raise loc.error("link", 0, None, "[[link]] joins hosts declared as [[host]] "
                                             "tables with a name")
        return [], []
    names: list[str] = []
    for i, h in enumerate(hosts):
        label = f"[[host]] #{i + 1}"
        if not isinstance(h, dict):
            raise ScenarioError(f"{path}: {label} must be a table")
        _check_table(loc, "host", i, label, h)
        if "name" not in h:
            raise loc.error("host", i, None, f"{label}: missing required key 'name'")
        if h["name"] in names:
            raise loc.error("host", i, "name", f"{label}: duplicate host name {h['name']!r}")
        names.append(h["name"])
    pairs: set[frozenset[str]] = set()
    for i, link in enumerate(links):
        label = f"[[link]] #{i + 1}"
        _check_table(loc, "link", i, label, link)
        a, b = link["between"]
        for end in (a, b):
            if end not in names:
                raise loc.error("link", i, "between", f"{label}: no [[host]] named {end!r}; "
                                f"hosts: {', '.join(names)}")
        if a == b or frozenset((a, b)) in pairs:
            raise loc.error("link", i, "between", f"{label}: a link joins two different "
                                                  "hosts, once")
        pairs.add(frozenset((a, b)))
    return hosts, links


def _check_placement(loc: _Locator, hosts: list[dict[str, Any]],
                     tables: dict[str, list[dict[str, Any]]]) -> None:
    """A ``host = "h1"`` key must name a ``[[host]]`` (and needs a site to mean anything)."""
    names = [h["name"] for h in hosts]
    for table, items in tables.items():
        for i, item in enumerate(items):
            if "host" not in item:
                continue
            if not names:
                raise loc.error(table, i, "host", f"[[{table}]] #{i + 1}: host = "
                                f"{item['host']!r} needs hosts declared as [[host]] tables")
            if item["host"] not in names:
                raise loc.error(table, i, "host", f"[[{table}]] #{i + 1}: no [[host]] named "
                                f"{item['host']!r}; hosts: {', '.join(names)}")


def _host_kwargs(sc: Scenario, h: dict[str, Any], seed: int | None,
                 trace: bool) -> dict[str, Any]:
    topology = h.get("topology")
    if isinstance(topology, dict):
        topology = Topology.from_mapping(topology)
    return dict(pcpus=h.get("pcpus"), scheduler=h.get("scheduler"),
                hypervisor=h.get("hypervisor", "xen"),
                sched=h.get("sched"), memory=h.get("memory", HOST_MEMORY_MIB),
                seed=h.get("seed", 0) if seed is None else seed,
                costs=h.get("costs"), trace=trace, dom0_vcpus=h.get("dom0_vcpus"),
                dom0_memory=h.get("dom0_memory", DOM0_MEMORY_MIB), bridges=h.get("bridge"),
                pci=h.get("pci"), topology=topology, xen_cmdline=h.get("xen_cmdline"))


def _bounded_work(command: str) -> str | None:
    """Why *command* would run past xensim's bound, or None (``xl top -i N -d S``)."""
    words = shlex.split(command)
    if words[0] != "top":
        return None
    try:
        top = parse_top_options(words[1:])
    except XlUsageError as exc:
        return f"xl top refuses it ({exc})"
    if (top.iterations or 1) * top.delay * 1000 > MAX_SIM_MS:
        return f"xl top would run for more than {MAX_SIM_MS} ms of simulated time"
    return None


def build_host(sc: Scenario, seed: int | None = None, trace: bool = False) -> Host:
    """The host a scenario describes, with its domains created and started."""
    try:
        host = Host(**_host_kwargs(sc, sc.host, seed, trace))
    except (SchedParamError, KeyError, ValueError) as exc:
        raise ScenarioError(f"{sc.path}: [host]: {exc}") from None
    _populate(sc, host, sc.pools, sc.domains)
    return host


def build_site(sc: Scenario, seed: int | None = None, trace: bool = False) -> Site:
    """The site of a ``[[host]]`` scenario: its hosts, links and domains (a domain or
    pool without ``host`` goes to the first host)."""
    site = Site(Path(sc.path).stem)
    first = sc.hosts[0]["name"]
    for i, h in enumerate(sc.hosts):  # a seed given for the run: one per host, in order
        kwargs = _host_kwargs(sc, {"seed": i, **h}, None if seed is None else seed + i, trace)
        try:
            site.add_host(h["name"], **kwargs)
        except (SchedParamError, KeyError, ValueError) as exc:
            raise ScenarioError(f"{sc.path}: [[host]] {h['name']}: {exc}") from None
    for link in sc.links:
        site.add_link(*link["between"], bandwidth_mbit=link.get("bandwidth_mbit", 1000),
                      latency_us=link.get("latency_us", 50))
    for name, host in site.hosts.items():
        _populate(sc, host, [p for p in sc.pools if p.get("host", first) == name],
                  [d for d in sc.domains if d.get("host", first) == name])
    return site


def _populate(sc: Scenario, host: Host, pools: list[dict[str, Any]],
              domains: list[dict[str, Any]]) -> None:
    pool0 = host.hv.pools[0]
    for pool in pools:
        cpus = sorted(parse_cpumap(pool["cpus"], len(host.hv.pcpus)))
        try:
            for cpu in cpus:
                host.toolstack.cpupool_cpu_remove(pool0, cpu)
            host.toolstack.cpupool_create(pool["name"], pool["scheduler"], pool["cpus"],
                                          pool.get("sched"))
        except LibxlError as exc:
            raise ScenarioError(f"{sc.path}: [[pool]] {pool['name']}: {exc}") from None
    for dom in domains:
        keys = {k: v for k, v in dom.items() if k not in ("name", "config", "host")}
        try:
            if "config" in dom:
                host.create_from_config(_config_for(sc, dom))
            else:
                host.create(dom["name"], **keys)
        except (LibxlError, XlCfgError, OSError) as exc:
            label = dom.get("name") or dom["config"]
            raise ScenarioError(f"{sc.path}: [[domain]] {label}: {exc}") from None


def _config_for(sc: Scenario, dom: dict[str, Any]) -> DomainConfig:
    """The ``config =`` xl.cfg file, with the table's other keys as xl create overrides."""
    cfg_path = Path(sc.path).parent / dom["config"]
    overrides = [f"{k}={xl_value(v)}" for k, v in dom.items() if k not in ("config", "host")]
    return DomainConfig.from_file(str(cfg_path), overrides)


def run_scenario(sc: Scenario, seed: int | None = None, trace: bool = False,
                 host_out: list[Host] | None = None) -> dict[str, Any]:
    """Run as fast as possible; returns the metrics (plus actions and wall_s).  A site
    scenario (``[[host]]``) returns each host's metrics under ``hosts``, the links and
    the migrations."""
    t0 = time.perf_counter()
    site = build_site(sc, seed, trace) if sc.hosts else None
    host = build_host(sc, seed, trace) if site is None else next(iter(site.hosts.values()))
    if host_out is not None:
        host_out.append(host)
    log: list[dict[str, Any]] = []
    for a in sorted(sc.actions, key=lambda a: a["at_ms"]):
        target = site.hosts[a.get("host", host.name)] if site is not None else host
        ev = host.env.timeout(MILLISECS(a["at_ms"]))
        ev.callbacks.append(lambda _e, a=a, target=target: _act(target, a, log))
    runner: Host | Site = site if site is not None else host
    if sc.warmup_ms:
        runner.run(ms=sc.warmup_ms)
        runner.reset_metrics()
    runner.run(ms=sc.duration_ms)
    result = runner.metrics()
    result["actions"] = log
    result["wall_s"] = time.perf_counter() - t0
    return result


def _act(host: Host, a: dict[str, Any], log: list[dict[str, Any]]) -> None:
    """Carry out one action; a command that waits (``migrate``, ``shutdown -w``) is
    followed as simulated time passes and logged when it is over."""
    out, err = io.StringIO(), io.StringIO()
    rc, ctx = start_command(host, a["command"], out, err, cwd=os.getcwd())
    entry = {"at_ms": a["at_ms"], "command": a["command"], "rc": rc}
    if "host" in a:
        entry["host"] = a["host"]
    log.append(entry)

    def finish(status: int) -> None:
        entry.update(rc=status, output=out.getvalue(), error=err.getvalue().strip())

    waiter = ctx.waiter if ctx is not None else None
    if waiter is None:
        finish(rc)
        return

    def poll(_ev: object = None) -> None:
        done = waiter()
        if done is not None:
            finish(done)
        else:
            host.env.timeout(ACTION_POLL_NS).callbacks.append(poll)  # type: ignore[union-attr]

    poll()

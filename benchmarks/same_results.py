"""Did an optimisation change any result?  Record every output once, then compare.

A speed-up must leave the simulation bit-identical: the same scenario and
seed give the same JSON (``wall_s`` aside), the same trace (its uncompressed bytes) and the same
``xensim compare`` table data.  This script runs a fixed set of cases that
between them exercise every hot path (credit at scale, credit2/rtds/null and
cpupools, PV and HVM I/O with xenstore, event channels, grants and qemu-dm,
device hotplug, ballooning, a hostile guest, a KVM host) and either records
their outputs or checks them against a recording::

    git stash; python benchmarks/same_results.py record /tmp/before; git stash pop
    python benchmarks/same_results.py check /tmp/before

``check`` prints one line per case and exits 1 at the first difference
(naming the first JSON path that differs).  ``--skip-events`` also ignores
the ``events`` count (SimPy events dispatched), for a change that removes
SimPy events on purpose: that count measures the simulator's work, like
``wall_s``, not the simulated host.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import hashlib
import io
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from xensim.cli import main as xensim_main

ROOT = Path(__file__).resolve().parent.parent
SC = ROOT / "scenarios"
BSC = ROOT / "benchmarks" / "scenarios"

CASES: dict[str, list[str]] = {
    "demo": ["run", str(SC / "demo.toml")],
    "demo-seed1": ["run", str(SC / "demo.toml"), "--seed", "1"],
    "cpupools": ["run", str(SC / "cpupools.toml")],
    "reference": ["run", str(BSC / "reference.toml")],
    "reference-seed2": ["run", str(BSC / "reference.toml"), "--seed", "2"],
    "io-mix": ["run", str(BSC / "io-mix.toml")],
    "policies": ["run", str(BSC / "policies.toml")],
    "kvm": ["run", str(BSC / "kvm.toml")],
    "compare-disk": ["compare", "--workload", "disk", "--seconds", "0.05",
                     "--kinds", "xen-pv,xen-hvm,kvm,kvm-virtio,qemu-tcg"],
    "compare-net": ["compare", "--workload", "net-stream", "--seconds", "0.05",
                    "--modes", "pv,hvm,hvm-shadow", "--hogs", "1"],
}
TRACED = {"demo"}
"""Cases also run with ``--trace``; the trace file's bytes are compared."""


def run_case(name: str, tmp: Path) -> dict[str, Any]:
    """Run one case in-process; its JSON (minus wall-clock fields) and trace digest."""
    out = tmp / f"{name}.json"
    argv = [*CASES[name], "-q", "--json", str(out)]
    if name in TRACED:
        argv += ["--trace", str(tmp / f"{name}.xtr")]
    with contextlib.redirect_stdout(io.StringIO()):
        rc = xensim_main(argv)
    if rc != 0:
        raise SystemExit(f"{name}: xensim {' '.join(argv)} exited {rc}")
    data = json.loads(out.read_text())
    data.pop("wall_s", None)
    if name in TRACED:
        raw = gzip.decompress((tmp / f"{name}.xtr").read_bytes())  # not the header's mtime
        data["trace_sha256"] = hashlib.sha256(raw).hexdigest()
    return data


def first_difference(a: Any, b: Any, path: str = "") -> str | None:
    """The first JSON path where *a* and *b* differ, or None."""
    if type(a) is not type(b):
        return f"{path or '.'}: {a!r} != {b!r}"
    if isinstance(a, dict):
        for k in sorted(set(a) | set(b)):
            if k not in a or k not in b:
                return f"{path}.{k}: only on one side"
            diff = first_difference(a[k], b[k], f"{path}.{k}")
            if diff:
                return diff
        return None
    if isinstance(a, list):
        if len(a) != len(b):
            return f"{path}: {len(a)} items != {len(b)}"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            diff = first_difference(x, y, f"{path}[{i}]")
            if diff:
                return diff
        return None
    return None if a == b else f"{path or '.'}: {a!r} != {b!r}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("action", choices=("record", "check"))
    ap.add_argument("dir", help="where the recording is (or goes)")
    ap.add_argument("--only", help="comma-separated case names (default: all)")
    ap.add_argument("--skip-events", action="store_true",
                    help="ignore the SimPy event count (see the module docstring)")
    args = ap.parse_args()
    names = args.only.split(",") if args.only else list(CASES)
    store = Path(args.dir)
    store.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            got = run_case(name, Path(tmp))
            path = store / f"{name}.json"
            text = json.dumps(got, indent=1, sort_keys=True)
            if args.action == "record":
                path.write_text(text)
                print(f"recorded {name}: {got.get('events', '-')} events")
                continue
            want = json.loads(path.read_text())
            if args.skip_events:
                for d in (want, got):
                    d.pop("events", None)
            diff = first_difference(want, got)
            if diff:
                print(f"DIFFERENT {name}: {diff}")
                return 1
            print(f"same      {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

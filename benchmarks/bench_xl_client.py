"""How long does one ``xl list`` take, wall clock, against a running host daemon?

Real xl answers at once; issue #13 asks for under 100 ms.  The time is the
whole client process (interpreter start, imports, connect, request, reply,
print), as a user sees it.  The benchmark starts a private host in a temporary
runtime directory, runs ``xl list`` *--repeat* times, prints each time and the
median, and stops the host.  It also prints which xensim modules the client
imported (a thin client imports only stdlib and the protocol).

    python benchmarks/bench_xl_client.py [--repeat 20]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _env(runtime: str) -> dict[str, str]:
    env = dict(os.environ)
    env["XENSIM_RUNTIME_DIR"] = runtime
    env["XENSIM_HOST"] = "bench"
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    return env


def time_xl_list(env: dict[str, str], repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        r = subprocess.run([sys.executable, "-m", "xensim.toolstack.xl.client", "list"],
                           env=env, capture_output=True, text=True, check=False)
        times.append(time.perf_counter() - t0)
        if r.returncode != 0:
            raise SystemExit(f"xl list failed: {r.stderr}")
    return times


def time_python_startup(repeat: int) -> list[float]:
    """The floor: an interpreter that starts and exits (same venv, same site)."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        times.append(time.perf_counter() - t0)
    return times


def client_imports(env: dict[str, str]) -> list[str]:
    """The xensim modules loaded by a client that has run ``xl list``."""
    code = ("import sys, xensim.toolstack.xl.client as c\n"
            "c.main(['list'])\n"
            "print(' '.join(sorted(m for m in sys.modules if m.startswith('xensim'))),"
            " file=sys.stderr)\n")
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                       text=True, check=False)
    return r.stderr.split()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=20)
    args = ap.parse_args()
    runtime = tempfile.mkdtemp(prefix="xsb", dir="/tmp")
    env = _env(runtime)
    try:
        start = subprocess.run([sys.executable, "-m", "xensim.cli", "host", "start"], env=env,
                               capture_output=True, text=True, check=False, timeout=60)
        if start.returncode != 0:
            raise SystemExit(start.stderr)
        times = time_xl_list(env, args.repeat)
        print("xl list wall ms: " + " ".join(f"{t * 1000:.0f}" for t in times))
        print(f"median {statistics.median(times) * 1000:.0f} ms, "
              f"min {min(times) * 1000:.0f} ms over {len(times)} runs")
        floor = time_python_startup(args.repeat)
        print(f"python startup alone: median {statistics.median(floor) * 1000:.0f} ms; "
              f"xl list above it: "
              f"{(statistics.median(times) - statistics.median(floor)) * 1000:.0f} ms")
        mods = client_imports(env)
        print(f"xensim modules imported by the client ({len(mods)}): {' '.join(mods)}")
    finally:
        subprocess.run([sys.executable, "-m", "xensim.cli", "host", "stop"], env=env,
                       capture_output=True, check=False, timeout=60)
        shutil.rmtree(runtime, ignore_errors=True)


if __name__ == "__main__":
    main()

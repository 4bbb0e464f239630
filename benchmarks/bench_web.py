"""What does the live web view cost?  A 4-pCPU host with 20 domains at ``--speed 1``, run
as the real daemon, once without ``--web`` and once with it and the page open in headless
Chromium; the difference in the daemon's CPU time is the web view's cost (recording the
context switches, building five frames a second, serving the page's polls).

The issue's bound is 5% of one core.  Machines here are shared and noisy: each mode is
measured over the same wall time, alternately, *--repeat* times, and the median is kept.
With ``--screenshot FILE`` it also saves the page as the README shows it.

    python benchmarks/bench_web.py [--seconds 20] [--repeat 2] [--screenshot docs/img/web-view.png]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GUESTS = (
    # (how many, vCPUs, workload): 20 domains of every kind a class would start
    (4, 2, "cpu"),
    (8, 1, "duty:busy_ms=2,idle_ms=8"),
    (4, 1, "periodic:period_ms=10,wcet_ms=1"),
    (4, 1, "duty:busy_ms=0.2,idle_ms=10"),
)


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, from /proc (clock ticks)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Daemon:
    def __init__(self, runtime: str, name: str, web: bool) -> None:
        self.env = {**os.environ, "XENSIM_RUNTIME_DIR": runtime, "XENSIM_HOST": name}
        self.name = name
        args = ["host", "start", "--pcpus", "4", "--speed", "1"] + (["--web", "0"] if web else [])
        out = self.run("xensim.cli", *args).stdout
        self.pid = int(re.search(r"pid (\d+)", out).group(1))  # type: ignore[union-attr]
        url = re.search(r"^web view: (\S+)$", out, re.M)
        self.url = url.group(1) if url else None
        n = 0
        for count, vcpus, workload in GUESTS:
            for _ in range(count):
                n += 1
                self.run("xensim.toolstack.xl.client", "create", "configs/cpu-hog.cfg",
                         f'name="g{n:02d}"', f"vcpus={vcpus}", f'workload="{workload}"')

    def run(self, module: str, *args: str) -> subprocess.CompletedProcess[str]:
        r = subprocess.run([sys.executable, "-m", module, *args], env=self.env, cwd=ROOT,
                           capture_output=True, text=True, check=False)
        if r.returncode:
            raise SystemExit(f"{module} {' '.join(args)}: {r.stderr}")
        return r

    def slips(self) -> int:
        out = self.run("xensim.cli", "host", "status").stdout
        m = re.search(r"clock slipped (\d+) times", out)
        return int(m.group(1)) if m else 0

    def stop(self) -> None:
        self.run("xensim.cli", "host", "stop")


def measure(web: bool, seconds: float, screenshot: str | None) -> tuple[float, int, float]:
    """(daemon CPU in % of one core, clock slips, frames the page received per second)."""
    runtime = tempfile.mkdtemp(prefix="xsb", dir="/tmp")
    daemon = Daemon(runtime, "bench", web)
    try:
        if not web:
            time.sleep(3)  # the same settling time as the page gets
            c0, t0 = cpu_seconds(daemon.pid), time.monotonic()
            time.sleep(seconds)
            return ((cpu_seconds(daemon.pid) - c0) * 100 / (time.monotonic() - t0),
                    daemon.slips(), 0.0)
        from playwright.sync_api import sync_playwright

        chromium = shutil.which("chromium")
        if chromium is None:
            raise SystemExit("needs chromium (apt-get install chromium)")
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1200, "height": 1000})
            page.goto(daemon.url)
            time.sleep(3)
            c0, t0, s0 = cpu_seconds(daemon.pid), time.monotonic(), page.evaluate("since")
            time.sleep(seconds)
            cpu = (cpu_seconds(daemon.pid) - c0) * 100 / (time.monotonic() - t0)
            fps = (page.evaluate("since") - s0) / (time.monotonic() - t0)
            if screenshot:
                page.screenshot(path=screenshot, full_page=True)
            browser.close()
        return cpu, daemon.slips(), fps
    finally:
        daemon.stop()
        shutil.rmtree(runtime, ignore_errors=True)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--repeat", type=int, default=2)
    p.add_argument("--screenshot", default=None)
    a = p.parse_args()
    off: list[float] = []
    on: list[float] = []
    for i in range(a.repeat):
        cpu, slips, _ = measure(False, a.seconds, None)
        off.append(cpu)
        print(f"run {i + 1}: without --web  daemon CPU {cpu:5.1f}% of a core, {slips} slips")
        cpu, slips, fps = measure(True, a.seconds, a.screenshot if i == a.repeat - 1 else None)
        on.append(cpu)
        print(f"run {i + 1}: with --web     daemon CPU {cpu:5.1f}% of a core, {slips} slips, "
              f"page got {fps:.1f} frames/s")
    cost = statistics.median(on) - statistics.median(off)
    print(f"web view cost (median with - median without): {cost:.1f}% of one core "
          f"(bound: 5%)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

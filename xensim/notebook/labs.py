"""What the classroom notebooks in ``labs/`` share: how long to simulate.

A lab asks for the durations a class needs (seconds of simulated time, so shares and
latency percentiles settle); CI executes every lab on each change with
``XENSIM_LAB_SCALE=0.05`` so that all six run in well under two minutes.  The figures
then come out noisier but the code paths, and any error, are the same.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

MIN_MS = 20
"""No piece of a lab runs shorter than this, whatever the scale (a few credit ticks)."""


def scale() -> float:
    """``$XENSIM_LAB_SCALE`` (default 1): the fraction of each lab's durations to run."""
    text = os.environ.get("XENSIM_LAB_SCALE", "1")
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"XENSIM_LAB_SCALE={text!r}: expected a number such as 0.1") from None
    if value <= 0:
        raise ValueError(f"XENSIM_LAB_SCALE={text!r}: expected a number above 0")
    return value


def scaled(ms: float) -> int:
    """*ms* simulated milliseconds at the lab scale (at least :data:`MIN_MS`)."""
    return max(MIN_MS, round(ms * scale()))


def execute(path: str | Path, *, lab_scale: float | None = None, timeout_s: int = 600) -> Any:
    """Run a lab notebook top to bottom in a fresh kernel (from the lab's own folder) and
    return it with its outputs; raises nbclient's ``CellExecutionError`` on the first
    failing cell.  The kernel talks over Unix sockets, so two runs at once cannot race for
    a TCP port.  *lab_scale* sets ``XENSIM_LAB_SCALE`` for the kernel."""
    import nbformat
    from jupyter_client.manager import KernelManager
    from nbclient import NotebookClient

    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    env = dict(os.environ)
    if lab_scale is not None:
        env["XENSIM_LAB_SCALE"] = str(lab_scale)
    with tempfile.TemporaryDirectory(prefix="xensim-lab-") as sockets:
        km = KernelManager(kernel_name="python3", transport="ipc",
                           ip=os.path.join(sockets, "kernel"))
        client = NotebookClient(nb, km=km, timeout=timeout_s,
                                resources={"metadata": {"path": str(path.parent)}})
        client.execute(env=env)
    return nb

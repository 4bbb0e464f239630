"""The ``xl`` console script: a thin client of the host daemon.

``xl [--host NAME] [-vfNtT] COMMAND [args]`` sends the command line and the
current directory to the daemon of host NAME (``$XENSIM_HOST``, else
``default``), starting that host with default settings first if nothing
answers, so ``xl create configs/pv-guest.cfg`` works on a fresh install.
What needs no host (``help``, ``COMMAND --help``, unknown commands) is
answered locally.  ``top`` and ``console`` loop here, fetching samples or
new console output from the daemon, so the daemon never blocks on one
client's refresh delay or terminal.
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any

from xensim.toolstack.hostd.client import HostdError, ensure_running, request
from xensim.toolstack.hostd.protocol import decode_files, encode_files
from xensim.toolstack.hostd.runtime import HostNameError, HostPaths
from xensim.toolstack.xl import console_client
from xensim.toolstack.xl.cmdtable import lookup, print_usage
from xensim.toolstack.xl.context import XlUsageError
from xensim.toolstack.xl.main import split_globals, start_command
from xensim.toolstack.xl.userfiles import files_to_send, precheck, write_failure
from xensim.toolstack.xl.xl_top import TopOptions, parse_options, render


def take_host_option(argv: list[str]) -> tuple[str | None, list[str]]:
    """Remove ``--host NAME`` / ``--host=NAME`` from before the command."""
    rest: list[str] = []
    host = None
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--host" and i + 1 < len(argv):
            host, i = argv[i + 1], i + 2
            continue
        if a.startswith("--host="):
            host, i = a.split("=", 1)[1], i + 1
            continue
        if not a.startswith("-"):
            rest.extend(argv[i:])
            break
        rest.append(a)
        i += 1
    return host, rest


def _is_local(argv: list[str]) -> bool:
    split = split_globals(argv)
    if isinstance(split, str):
        return True
    _, rest = split
    if not rest:
        return True
    spec = lookup(rest[0])
    return spec is None or spec.name == "help" or "-h" in rest[1:] or "--help" in rest[1:]


def run(paths: HostPaths, argv: list[str]) -> int:
    if _is_local(argv):
        rc, _ = start_command(None, argv, sys.stdout, sys.stderr)
        return rc
    flags, rest = split_globals(argv)  # type: ignore[misc]
    if ensure_running(paths):
        sys.stderr.write(f"xl: started simulated host '{paths.name}' "
                         f"(xensim host status --host {paths.name})\n")
    spec = lookup(rest[0])
    if spec is not None and spec.name == "top" and "--snapshot" not in rest and \
            "-S" not in rest and not flags["N"]:
        return top(paths, rest[1:])
    if spec is not None and spec.name == "console" and not flags["N"]:
        return console_client.follow(paths, argv[:len(argv) - len(rest)], rest[1:])
    refused = precheck(rest)
    if refused is not None:
        sys.stderr.write(refused + "\n")
        return 1
    req: dict[str, Any] = {"op": "xl", "argv": argv, "cwd": os.getcwd()}
    files = files_to_send(rest)
    if files:
        req["files"] = encode_files(files)
    reply = request(paths, req)
    sys.stdout.write(reply.get("stdout", ""))
    sys.stderr.write(reply.get("stderr", ""))
    rc = int(reply.get("rc", 1))
    for path, data in decode_files(reply.get("files")).items():
        try:
            with open(path, "wb") as f:  # xl save's file: the client writes it, not the daemon
                f.write(data)
        except OSError:
            sys.stderr.write(write_failure(rest, path) + "\n")
            rc = 1
    return rc


def _fetch(paths: HostPaths) -> dict[str, Any]:
    reply = request(paths, {"op": "xl", "argv": ["top", "--snapshot"], "cwd": "/"})
    if reply.get("rc"):
        raise HostdError(reply.get("stderr", "").strip() or "top: no sample")
    return json.loads(reply["stdout"])


def top(paths: HostPaths, args: list[str]) -> int:
    try:
        opts = parse_options(args)
    except XlUsageError as exc:
        sys.stderr.write(f"{exc}\n")
        spec = lookup("top")
        assert spec is not None
        print_usage(sys.stderr, spec)
        return 2
    if opts.batch or not sys.stdout.isatty():
        return _top_batch(paths, opts)
    return _top_live(paths, opts)


def _top_batch(paths: HostPaths, opts: TopOptions) -> int:
    prev = None
    n = 0
    while True:
        cur = _fetch(paths)
        sys.stdout.write(render(cur, prev, opts))
        sys.stdout.flush()
        prev, n = cur, n + 1
        if opts.iterations is not None and n >= opts.iterations:
            return 0
        time.sleep(opts.delay)


def _top_live(paths: HostPaths, opts: TopOptions) -> int:
    """Full-screen view with rich, refreshed every ``-d`` seconds until Ctrl-C."""
    from rich.console import Console
    from rich.live import Live
    from rich.text import Text

    def frame(cur: dict[str, Any], prev: dict[str, Any] | None) -> Text:
        text = Text()
        for i, line in enumerate(render(cur, prev, opts).splitlines()):
            text.append(line + "\n", style="reverse" if line.lstrip().startswith("NAME") else
                        "bold" if i == 0 else "")
        text.append("Ctrl-C to quit", style="dim")
        return text

    prev = None
    n = 0
    try:
        with Live(console=Console(), auto_refresh=False, screen=True) as live:
            while True:
                cur = _fetch(paths)
                live.update(frame(cur, prev), refresh=True)
                prev, n = cur, n + 1
                if opts.iterations is not None and n >= opts.iterations:
                    return 0
                time.sleep(opts.delay)
    except KeyboardInterrupt:
        return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        host, argv = take_host_option(argv)
        paths = HostPaths.for_host(host)
        return run(paths, argv)
    except HostNameError as exc:
        sys.stderr.write(f"xl: {exc}\n")
        return 1
    except HostdError as exc:
        sys.stderr.write(f"xl: {exc}\n")
        return 1
    except BrokenPipeError:
        return 0
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())

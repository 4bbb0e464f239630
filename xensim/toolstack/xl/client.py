"""The ``xl`` console script: a thin client of the host daemon.

``xl [--host NAME] [-vfNtT] COMMAND [args]`` sends the command line and the current
directory to the daemon of host NAME (``$XENSIM_HOST``, else ``default``), starting
that host first if no daemon holds its lock, so ``xl create configs/pv-guest.cfg``
works on a fresh install (and, after a crash, resumes the host from its checkpoint).

Thin: on the common path this module imports only the standard library and
:mod:`xensim.toolstack.hostd` (protocol, paths, client), never the simulator, so an
``xl list`` costs little more than starting Python.  The simulator's own modules are
imported lazily, only where the client does the work itself: ``help``, ``--help`` and
unknown commands when no host is running (they need none), and ``top``'s rendering.

Files: the client reads the files a command names (``xl create vm.cfg``), as real xl
reads its own config, and sends their bytes; the daemon asks for them
(``need_files``) and never opens a user's path.  Reads are bounded
(``protocol.MAX_FILE``: ``/dev/zero`` is refused with EFBIG); a FIFO blocks only this
client.  Files a command writes (``write_files``) are written here.
``top`` and ``console`` loop here, fetching samples or new console output from the
daemon, so the daemon never blocks on one client's refresh delay or terminal.
"""

from __future__ import annotations

import errno
import json
import os
import sys
import time
from typing import Any

from xensim.toolstack.hostd.client import HostdError, ensure_running, request
from xensim.toolstack.hostd.protocol import MAX_FILE, MAX_FILES, encode_file
from xensim.toolstack.hostd.runtime import HostNameError, HostPaths
from xensim.toolstack.xl.globalopts import split_globals
from xensim.toolstack.xl.userfiles import precheck, write_failure


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


def _command(word: str) -> str | None:
    """The full name of command *word* (prefixes accepted), from the command table."""
    from xensim.toolstack.xl.cmdtable import lookup

    spec = lookup(word)
    return spec.name if spec is not None else None


def _is_local(rest: list[str]) -> bool:
    """Answered without a host: no command, help, ``--help``, or an unknown command."""
    if not rest:
        return True
    name = _command(rest[0])
    return name is None or name == "help" or "-h" in rest[1:] or "--help" in rest[1:]


def _run_local(argv: list[str]) -> int:
    from xensim.toolstack.xl.main import start_command

    rc, _ = start_command(None, argv, sys.stdout, sys.stderr)
    return rc


def _may_be(word: str, name: str) -> bool:
    """Could *word* be a prefix naming *name*?  Only then is the table consulted."""
    return bool(word) and name.startswith(word)


def run(paths: HostPaths, argv: list[str]) -> int:
    split = split_globals(argv)
    if isinstance(split, str):
        return _run_local(argv)
    flags, rest = split
    if paths.daemon_pid() is None:
        if _is_local(rest):
            return _run_local(argv)
        started = ensure_running(paths)
        if started is not None:
            sys.stderr.write(f"xl: started simulated host '{paths.name}'"
                             f"{_restored_note(started.status)} "
                             f"(xensim host status --host {paths.name})\n")
    word = rest[0] if rest else ""
    if not flags["N"] and ("-h" not in rest[1:] and "--help" not in rest[1:]):
        if _may_be(word, "top") and _command(word) == "top" and "--snapshot" not in rest \
                and "-S" not in rest:
            return top(paths, rest[1:])
        if _may_be(word, "console") and _command(word) == "console":
            from xensim.toolstack.xl import console_client

            return console_client.follow(paths, argv[:len(argv) - len(rest)], rest[1:])
    refused = precheck(rest)
    if refused is not None:
        sys.stderr.write(refused + "\n")
        return 1
    return send(paths, argv, rest)


def _restored_note(status: dict[str, Any]) -> str:
    restored = status.get("restored")
    if not restored:
        return ""
    return (f", restored from its checkpoint ({restored['domains']} domains, "
            f"simulated time {restored['sim_ns'] / 1e9:.3f} s)")


def read_bounded(path: str) -> bytes | int:
    """The file's bytes, or the errno reading it gave (EFBIG past ``MAX_FILE``)."""
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_FILE + 1)
    except OSError as exc:
        return exc.errno or errno.EIO
    return errno.EFBIG if len(data) > MAX_FILE else data


def send(paths: HostPaths, argv: list[str], rest: list[str]) -> int:
    """Run one command on the daemon, giving it the files it asks for; print the answer."""
    files: dict[str, bytes | int] = {}
    cwd = os.getcwd()
    while True:
        reply = request(paths, {"op": "xl", "argv": argv, "cwd": cwd,
                                "files": {p: encode_file(d) for p, d in files.items()}})
        need = reply.get("need_files")
        if not need:
            break
        if not isinstance(need, list) or any(not isinstance(p, str) or p in files
                                             for p in need) \
                or len(files) + len(need) > MAX_FILES:
            raise HostdError(f"host {paths.name!r} asked for files it already has: {need}")
        for p in need:
            files[p] = read_bounded(p)
    sys.stdout.write(reply.get("stdout", ""))
    sys.stderr.write(reply.get("stderr", ""))
    rc = int(reply.get("rc", 1))
    return _write_files(rest, reply.get("write_files") or {}) or rc


def _write_files(rest: list[str], files: dict[str, Any]) -> int:
    """Write what the command produced (``xl save``'s file: xl writes it, not the daemon)."""
    import base64

    rc = 0
    for path, f in files.items():
        try:
            data = base64.b64decode(f["data"])
            with open(path, "wb") as out:
                out.write(data)
        except (OSError, KeyError, TypeError, ValueError):
            sys.stderr.write(write_failure(rest, path) + "\n")
            rc = 1
    return rc


def _fetch(paths: HostPaths) -> dict[str, Any]:
    reply = request(paths, {"op": "xl", "argv": ["top", "--snapshot"], "cwd": "/"})
    if reply.get("rc"):
        raise HostdError(reply.get("stderr", "").strip() or "top: no sample")
    return json.loads(reply["stdout"])


def top(paths: HostPaths, args: list[str]) -> int:
    from xensim.toolstack.xl.cmdtable import lookup, print_usage
    from xensim.toolstack.xl.context import XlUsageError
    from xensim.toolstack.xl.xl_top import parse_options

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


def _top_batch(paths: HostPaths, opts: Any) -> int:
    from xensim.toolstack.xl.xl_top import render

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


def _top_live(paths: HostPaths, opts: Any) -> int:
    """Full-screen view with rich, refreshed every ``-d`` seconds until Ctrl-C."""
    from rich.console import Console
    from rich.live import Live
    from rich.text import Text

    from xensim.toolstack.xl.xl_top import render

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
    except BrokenPipeError:
        return 0
    except (HostNameError, HostdError, OSError) as exc:
        sys.stderr.write(f"xl: {exc}\n")
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())

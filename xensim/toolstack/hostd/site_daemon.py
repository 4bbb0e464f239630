"""A site daemon: several hosts on one clock in one process, so ``xl migrate`` runs live.

``xensim site start --name lab --hosts h1,h2`` starts one process that holds a
:class:`~xensim.site.Site`; each host keeps the files a lone host has (``h1.sock``,
``h1.pid``, ``h1.lock``), so ``xl --host h1 list`` and ``XENSIM_HOST=h2 xl list`` reach
their own dom0 with the client unchanged, and ``xensim host start --name h1`` says h1 is
already running.  The site itself has one more set of files under the name
``lab.site`` (its lock, pid, log and a control socket answering ``status`` and ``stop``).

Each host is served by its own :class:`~xensim.toolstack.hostd.daemon.HostDaemon`
(requests, ``-w`` waiters, sample trimming): the same code as a lone host's, so what
xl does on a site host is what it does alone.  Only the clock differs: the hosts share
one SimPy environment, which the first host's daemon paces (``--speed`` is the site's),
so migrations between hosts run in step with everything else.  ``xensim host stop`` on
one host of a site is refused (a host cannot leave a running site); ``xensim site stop``
stops them all.

Not checkpointed: a site daemon writes no checkpoint (a migration in flight spans two
hosts, which the one-host checkpoint cannot hold), says so in its log at start, and
its ``status`` reports ``checkpointed: false``.  A lone host is unchanged.

Mirrors nothing in Xen (a site is the machine room around the hosts).
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import time
from typing import Any

from xensim.site import Site
from xensim.site.site import SiteError
from xensim.toolstack.hostd.client import EXIT_ALREADY_RUNNING
from xensim.toolstack.hostd.daemon import (
    TICK_S,
    HostDaemon,
    acquire_lock,
    drain,
    listen_socket,
    log,
    raise_fd_limit,
    stop_on_signals,
)
from xensim.toolstack.hostd.runtime import HostNameError, HostPaths, RuntimeDirError, host_name
from xensim.toolstack.hostd.server import Conn, Server
from xensim.toolstack.hostd.spec import HostSpec, HostSpecError

SITE_SUFFIX = ".site"
"""The site's own files are ``NAME.site.*`` beside its hosts' ``HOST.*``."""
DEFAULT_LINK = (1000.0, 50.0)
"""Mbit/s and one-way µs of a link when ``--link`` gives none (the Site API's defaults)."""

Link = tuple[str, str, float, float]


def site_paths(name: str, dir: Any = None) -> HostPaths:
    """The files of site *name* (checked like a host name)."""
    paths = HostPaths.for_host(host_name(name))
    return HostPaths(name + SITE_SUFFIX, dir if dir is not None else paths.dir)


def parse_hosts(text: str) -> list[str]:
    names = [host_name(n.strip()) for n in text.split(",") if n.strip()]
    if len(names) < 2:
        raise SiteError(f"--hosts {text!r}: a site needs at least two host names")
    if len(set(names)) != len(names):
        raise SiteError(f"--hosts {text!r}: a host is named twice")
    for n in names:
        if n.endswith(SITE_SUFFIX):
            raise SiteError(f"--hosts: {n!r} ends with {SITE_SUFFIX!r}, which names sites")
    return names


def parse_link(text: str, hosts: list[str]) -> Link:
    """``A-B[:MBIT[:US]]`` (host names may contain ``-``: the split that names two of
    *hosts* is the one meant)."""
    pair, *nums = text.split(":")
    ends = [(pair[:i], pair[i + 1:]) for i, c in enumerate(pair) if c == "-"
            and pair[:i] in hosts and pair[i + 1:] in hosts]
    if not ends or len(nums) > 2:
        raise SiteError(f"--link {text!r}: expected HOST-HOST[:MBIT[:US]] with hosts from "
                        f"{', '.join(hosts)}")
    try:
        values = [float(n) for n in nums] + list(DEFAULT_LINK[len(nums):])
    except ValueError:
        raise SiteError(f"--link {text!r}: MBIT and US must be numbers") from None
    mbit, us = values
    if not (0 < mbit < float("inf")) or not (0 <= us < float("inf")):
        raise SiteError(f"--link {text!r}: MBIT must be above 0 and US at least 0")
    return ends[0][0], ends[0][1], mbit, us


def default_links(hosts: list[str]) -> list[Link]:
    """Without ``--link``: every pair of hosts joined at :data:`DEFAULT_LINK`."""
    return [(a, b, *DEFAULT_LINK) for i, a in enumerate(hosts) for b in hosts[i + 1:]]


def build_site(name: str, hosts: list[str], links: list[Link], spec: HostSpec) -> Site:
    """The site: every host built from *spec*, seeds ``seed``, ``seed+1``... (a site's
    hosts need different seeds), then the links."""
    site = Site(name)
    for i, h in enumerate(hosts):
        kw = spec.host_kwargs()
        kw["seed"] = spec.seed + i
        site.add_host(h, **kw, keep_destroyed=False)
    for a, b, mbit, us in links:
        site.add_link(a, b, mbit, us)
    return site


class SiteDaemon:
    """The site's loop: one clock, every host's sockets, and the site's control socket."""

    def __init__(self, paths: HostPaths, site: Site, spec: HostSpec,
                 members: dict[str, tuple[HostPaths, int]]) -> None:
        self.paths = paths
        self.site = site
        self.spec = spec
        self.stopping = False
        self.wall_start = time.monotonic()
        self.hosts: dict[str, HostDaemon] = {}
        for hname, (hpaths, _lock) in members.items():
            d = HostDaemon(hpaths, site.hosts[hname], spec)
            d.checkpointing = False
            d.site_name = site.name
            self.hosts[hname] = d
        self.clock = next(iter(self.hosts.values()))
        """The host daemon that paces the shared clock."""
        self.server: Server | None = None

    def status(self) -> dict[str, Any]:
        return {"name": self.site.name, "pid": os.getpid(),
                "uptime_s": round(time.monotonic() - self.wall_start, 3),
                "sim_ns": self.site.now, "speed": self.spec.speed,
                "slips": self.clock.slips, "checkpointed": False,
                "hosts": {n: d.status() for n, d in self.hosts.items()},
                "links": [link.describe() for link in self.site.links],
                "migrations": [m.report() for m in self.site.migrations]}

    def handle(self, conn: Conn, req: dict[str, Any]) -> None:
        assert self.server is not None
        op = req["op"]
        reply: dict[str, Any] = {"rc": 0, "stdout": "", "stderr": ""}
        if op == "status":
            reply["status"] = self.status()
        elif op == "stop":
            self.stopping = True
        elif op == "xl":
            reply = {"rc": 1, "stdout": "", "stderr": f"xl: {self.paths.name!r} is site "
                     f"{self.site.name!r}'s control socket; run xl on one of its hosts: "
                     f"--host {', --host '.join(self.hosts)}\n"}
        else:
            reply["pid"] = os.getpid()
        self.server.reply(conn, reply)

    def serve(self, listener: socket.socket, host_listeners: dict[str, socket.socket]) -> None:
        self.server = Server(listener, self.handle, log)
        for name, d in self.hosts.items():
            d.server = Server(host_listeners[name], d.handle, log)
        servers = [self.server] + [d.server for d in self.hosts.values() if d.server]
        try:
            while not self.stopping and not any(d.stopping for d in self.hosts.values()):
                self.clock.advance()
                for i, server in enumerate(servers):
                    server.poll(TICK_S / len(servers) if i == 0 else 0)
                for d in self.hosts.values():
                    d.housekeeping()
            for d in self.hosts.values():
                d.finish("site stop")
            drain(self.server)
        finally:
            for server in servers:
                server.close_all()


def run_site(paths: HostPaths, hosts: list[str], links: list[Link], spec: HostSpec) -> int:
    paths.ensure_dir()
    site_lock = acquire_lock(paths)
    if site_lock is None:
        log(f"xensim: site {paths.name!r} is already running (pid {paths.read_pid()})")
        return EXIT_ALREADY_RUNNING
    members: dict[str, tuple[HostPaths, int]] = {}
    listeners: dict[str, socket.socket] = {}
    listener: socket.socket | None = None
    try:
        for h in hosts:
            hp = HostPaths(h, paths.dir)
            lock = acquire_lock(hp)
            if lock is None:
                log(f"xensim: host {h!r} is already running (pid {hp.read_pid()}); the "
                    f"site cannot hold it")
                return EXIT_ALREADY_RUNNING
            members[h] = (hp, lock)
        for hp, _lock in members.values():
            hp.write_private(hp.pidfile, f"{os.getpid()}\n".encode())
            listeners[hp.name] = listen_socket(hp)
        paths.write_private(paths.pidfile, f"{os.getpid()}\n".encode())
        listener = listen_socket(paths)
        raise_fd_limit()
        site_name = paths.name[:-len(SITE_SUFFIX)]
        try:
            site = build_site(site_name, hosts, links, spec)
        except (ValueError, TypeError, KeyError) as exc:
            log(f"xensim: cannot build site: {exc}")
            return 1
        daemon = SiteDaemon(paths, site, spec, members)

        stop_on_signals(daemon)
        log(f"xensim: site {site_name!r} up: pid {os.getpid()}, hosts {', '.join(hosts)}, "
            f"links {', '.join(f'{a}-{b} {m:g} Mbit/s {u:g} us' for a, b, m, u in links)}, "
            f"speed {spec.speed}x; a site daemon is not checkpointed")
        daemon.serve(listener, listeners)
    finally:
        for sock in [*listeners.values(), *([listener] if listener else [])]:
            sock.close()
        for hp, lock in members.values():
            _remove(hp)
            os.close(lock)
        if listener is not None:
            _remove(paths)
        os.close(site_lock)
    log(f"xensim: site {paths.name[:-len(SITE_SUFFIX)]!r} stopped")
    return 0


def _remove(paths: HostPaths) -> None:
    for path in (paths.socket, paths.pidfile):
        try:
            path.unlink()
        except FileNotFoundError:
            pass


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="xensim-sited")
    p.add_argument("--name", required=True, help="the site's name")
    p.add_argument("--hosts", required=True)
    p.add_argument("--link", action="append", default=[])
    p.add_argument("--spec", default="{}", help="the HostSpec of every host, as JSON")
    a = p.parse_args(argv)
    try:
        hosts = parse_hosts(a.hosts)
        links = [parse_link(t, hosts) for t in a.link] or default_links(hosts)
        spec = HostSpec.from_json(a.spec)
        return run_site(site_paths(a.name), hosts, links, spec)
    except (HostSpecError, RuntimeDirError, HostNameError, SiteError) as exc:
        log(f"xensim: {exc}")
        return 1


if __name__ == "__main__":
    sys.exit(main())

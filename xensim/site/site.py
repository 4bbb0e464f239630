"""Several hosts in one simulation: a site owns the clock, the hosts and the links.

A :class:`Site` is the layer above :class:`~xensim.host.Host` (DESIGN.md, "the
next shape"): its hosts share one SimPy environment, so their schedulers,
dom0s and guests advance on one clock; :class:`~xensim.site.link.Link`\\ s
join their NICs; and the LAN outside (the external clients of ``ping`` and
``web`` guests) is one network that reaches every host, so a guest that
moves is followed by its clients once it announces itself.  A host alone
(``Host(...)``) needs none of this and runs exactly as before.

Mirrors nothing in Xen (a site is the data centre around the hosts).
"""

from __future__ import annotations

import io
import os
from typing import Any

from simpy import Environment

from xensim.host import Host, advance
from xensim.hypervisor.time import SimTime
from xensim.site.link import Link


class SiteError(ValueError):
    """A site that cannot be built (duplicate host, link to a host that is not there)."""


class Site:
    """Hosts on one clock, the links between them and the LAN that reaches them all."""

    def __init__(self, name: str = "site") -> None:
        self.name = name
        self.env = Environment()
        self.hosts: dict[str, Host] = {}
        self.links: list[Link] = []
        self.migrations: list[Any] = []
        """Every migration started here (:class:`~xensim.toolstack.migration.Migration`)."""
        self._lan_receivers: dict[Any, Any] = {}
        self._lan_clients: dict[Any, Any] = {}

    def add_host(self, name: str, **kw: Any) -> Host:
        """A new host on the site's clock; *kw* are :class:`Host`'s arguments.  Its seed
        defaults to the number of hosts before it: hosts need different seeds, since
        their domains' uuids come from them and a uuid names a guest on the LAN."""
        if name in self.hosts:
            raise SiteError(f"host {name!r} is already in site {self.name!r}")
        seed = kw.setdefault("seed", len(self.hosts))
        for other in self.hosts.values():
            if other.hv.seed == seed:
                raise SiteError(f"host {name!r}: seed {seed} is host {other.name!r}'s; the "
                                "hosts of a site need different seeds (domain uuids)")
        host = Host(env=self.env, name=name, **kw)
        host.site = self
        ext = host.toolstack.io.ext
        if ext is not None:  # one LAN: every host's NIC reaches the same clients
            ext.receivers = self._lan_receivers
            ext.clients = self._lan_clients
        self.hosts[name] = host
        return host

    def add_link(self, a: str, b: str, bandwidth_mbit: float = 1000,
                 latency_us: float = 50) -> Link:
        for end in (a, b):
            if end not in self.hosts:
                raise SiteError(f"link {a}-{b}: no host {end!r} in site {self.name!r}; "
                                f"hosts: {', '.join(self.hosts)}")
        if a == b:
            raise SiteError(f"link {a}-{b}: a link joins two different hosts")
        if self.link_between(a, b) is not None:
            raise SiteError(f"link {a}-{b}: the hosts are already linked")
        link = Link(self.env, a, b, bandwidth_mbit, latency_us)
        self.links.append(link)
        return link

    def link_between(self, a: str, b: str) -> Link | None:
        for link in self.links:
            if set(link.ends) == {a, b}:
                return link
        return None

    def host(self, name: str) -> Host:
        try:
            return self.hosts[name]
        except KeyError:
            raise SiteError(f"no host {name!r} in site {self.name!r}; hosts: "
                            f"{', '.join(self.hosts)}") from None

    @property
    def now(self) -> SimTime:
        return self.env.now

    def run(self, ms: float | None = None, *, ns: SimTime | None = None) -> None:
        """Advance every host by *ms* milliseconds (or *ns* nanoseconds)."""
        advance(self.env, ms, ns)

    def reset_metrics(self) -> None:
        for host in self.hosts.values():
            host.reset_metrics()

    def xl(self, host: str, command: str) -> tuple[int, str, str]:
        """Run an xl command line on *host*'s dom0, in-process."""
        from xensim.toolstack.xl.main import run_command

        out, err = io.StringIO(), io.StringIO()
        rc = run_command(self.host(host), command, out, err, cwd=os.getcwd())
        return rc, out.getvalue(), err.getvalue()

    def metrics(self) -> dict[str, Any]:
        """Each host's metrics, the links and the migrations (``xensim run --json``)."""
        hosts = {name: h.metrics() for name, h in self.hosts.items()}
        first = next(iter(hosts.values()))
        return {"duration_ns": first["duration_ns"], "hosts": hosts,
                "links": [link.describe() for link in self.links],
                "migrations": [m.report() for m in self.migrations],
                "events": first["events"]}

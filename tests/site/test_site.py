"""Several hosts in one simulation: one clock, links, scenarios with [[host]] and [[link]]."""

from __future__ import annotations

import json

import pytest

from xensim.host import Host
from xensim.scenario import ScenarioError, run_scenario, validate_scenario
from xensim.site import Site, SiteError

ONE_HOST = {
    "domain": [{"name": "web", "workload": "web:rate=200"},
               {"name": "pinged", "workload": "ping:rate=300"},
               {"name": "hog", "workload": "cpu"}],
    "action": [{"at_ms": 200, "command": "pause hog"}],
    "run": {"duration_ms": 500},
}


def test_hosts_of_a_site_share_one_clock_and_keep_their_own_schedulers() -> None:
    site = Site()
    h1 = site.add_host("h1", pcpus=1, seed=1)
    h2 = site.add_host("h2", pcpus=2, scheduler="credit2", seed=2)
    h1.create("a", workload="cpu")
    h2.create("b", workload="cpu")
    site.run(ms=100)
    assert h1.env is h2.env and h1.now == h2.now == 100_000_000
    assert h2.hv.pools[0].sched.name == "credit2" and len(h1.hv.pcpus) == 1
    m = site.metrics()
    # each host ran its own guest a whole pCPU's worth (10 ms of slack for the boot)
    assert m["hosts"]["h1"]["domains"]["a"]["cpu_ns"] > 90_000_000
    assert m["hosts"]["h2"]["domains"]["b"]["cpu_ns"] > 90_000_000


def test_a_host_of_a_site_runs_exactly_as_a_host_alone() -> None:
    alone = run_scenario(validate_scenario({**ONE_HOST, "host": {"pcpus": 2, "seed": 3}}))
    site = run_scenario(validate_scenario({**ONE_HOST,
                                           "host": [{"name": "h", "pcpus": 2, "seed": 3}]}))
    for r in (alone, site):
        r.pop("wall_s")
    assert json.dumps(site["hosts"]["h"], sort_keys=True) == json.dumps(
        {k: v for k, v in alone.items() if k != "actions"}, sort_keys=True)
    assert alone["domains"]["pinged"]["io"]["ops"] > 100  # the LAN reaches the guests


def test_links_join_existing_hosts_once() -> None:
    site = Site()
    site.add_host("h1", pcpus=1)
    site.add_host("h2", pcpus=1)
    site.add_link("h1", "h2", bandwidth_mbit=100)
    with pytest.raises(SiteError, match="already linked"):
        site.add_link("h2", "h1")
    with pytest.raises(SiteError, match="no host 'h3'"):
        site.add_link("h1", "h3")
    with pytest.raises(SiteError, match="already in site"):
        site.add_host("h1")
    with pytest.raises(SiteError, match="need different seeds"):
        site.add_host("h3", seed=1)  # h2's (by default the hosts' seeds are 0, 1, ...)
    assert site.link_between("h2", "h1") is not None


def test_a_link_serialises_at_its_rate_and_loses_what_is_on_it_when_cut() -> None:
    site = Site()
    site.add_host("h1", pcpus=1)
    site.add_host("h2", pcpus=1)
    link = site.add_link("h1", "h2", bandwidth_mbit=1000, latency_us=50)
    got: list[int] = []
    free = link.transmit("h1", 125_000, lambda: got.append(site.now))  # 1 ms at 1 Gbit/s
    assert free == 1_000_000
    link.transmit("h1", 125_000, lambda: got.append(site.now))
    site.run(ms=1.5)
    link.cut()
    site.run(ms=5)
    assert got == [1_050_000]  # the second was still on the wire when the cable went


@pytest.mark.parametrize("raw, message", [
    ({"host": [{"name": "h1"}, {"name": "h1"}]}, "duplicate host name 'h1'"),
    ({"host": [{"pcpus": 2}]}, "missing required key 'name'"),
    ({"host": [{"name": "h1"}], "link": [{"between": ["h1", "h9"]}]}, "no [[host]] named 'h9'"),
    ({"host": [{"name": "h1"}, {"name": "h2"}], "link": [{"between": ["h1", "h2"]},
                                                       {"between": ["h2", "h1"]}]},
     "two different hosts, once"),
    ({"host": [{"name": "h1"}], "link": [{"between": "h1"}]}, "two host names"),
    ({"host": [{"name": "h1"}], "domain": [{"name": "a", "host": "h2"}]},
     "no [[host]] named 'h2'"),
    ({"host": {"pcpus": 1}, "action": [{"at_ms": 1, "command": "list", "host": "h1"}]},
     "needs hosts declared as [[host]]"),
    ({"host": {"pcpus": 1}, "link": [{"between": ["a", "b"]}]}, "joins hosts declared"),
])
def test_site_scenarios_are_checked_before_anything_runs(raw: dict, message: str) -> None:
    with pytest.raises(ScenarioError) as exc:
        validate_scenario({**raw, "run": {"duration_ms": 10}}, "s.toml", "")
    assert message in str(exc.value)


def test_domains_and_actions_go_to_their_host() -> None:
    sc = validate_scenario({
        "host": [{"name": "h1", "pcpus": 1}, {"name": "h2", "pcpus": 1}],
        "domain": [{"name": "a", "workload": "cpu"},  # no host: the first
                   {"name": "b", "host": "h2", "workload": "cpu"}],
        "action": [{"at_ms": 10, "host": "h2", "command": "pause b"}],
        "run": {"duration_ms": 50}})
    r = run_scenario(sc)
    assert set(r["hosts"]["h1"]["domains"]) == {"Domain-0", "a"}
    assert set(r["hosts"]["h2"]["domains"]) == {"Domain-0", "b"}
    assert r["actions"][0]["rc"] == 0 and r["actions"][0]["host"] == "h2"
    assert r["hosts"]["h2"]["domains"]["b"]["cpu_ns"] < 11_000_000  # paused at 10 ms


def test_the_python_api_names_hosts() -> None:
    site = Site()
    h = site.add_host("h1", pcpus=1)
    assert isinstance(h, Host) and h.site is site and h.name == "h1"
    assert site.xl("h1", "list")[0] == 0
    with pytest.raises(SiteError, match="no host 'nope'"):
        site.xl("nope", "list")


def test_guests_with_the_same_domid_on_two_hosts_keep_their_own_lan_flows() -> None:
    site = Site()
    hosts = [site.add_host(n, pcpus=1, seed=i) for i, n in enumerate(("h1", "h2"))]
    for h in hosts:  # domid 1 on each host, one LAN outside
        h.create("s", workload="net-stream:mbps=10")
        h.create("p", workload="ping:rate=100")
    site.run(ms=300)
    for h in hosts:
        doms = h.metrics()["domains"]
        assert doms["s"]["io"]["ops"] > 100 and doms["p"]["io"]["ops"] > 20

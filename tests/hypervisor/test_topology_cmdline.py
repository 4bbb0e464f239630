"""The host topology and the Xen command line: parsing, checks, and what xl shows."""

from __future__ import annotations

from pathlib import Path

import pytest

from xensim.host import Host
from xensim.hypervisor.cmdline import XenCmdline
from xensim.hypervisor.topology import Topology
from xensim.scenario import ScenarioError, build_host, load_scenario


def test_topology_numbers_threads_next_to_each_other() -> None:
    t = Topology.parse("2x4x2")
    assert (t.nr_cpus, t.nr_nodes) == (16, 2)
    assert [(t.socket(c), t.core(c)) for c in (0, 1, 2, 7, 8, 15)] == \
        [(0, 0), (0, 0), (0, 1), (0, 3), (1, 0), (1, 3)]
    assert t.siblings(5) == {4, 5} and t.core_mask(9) == set(range(8, 16))
    assert t.same_core(4, 5) and not t.same_core(5, 6) and t.same_socket(0, 7)
    assert not t.same_node(7, 8) and t.node_mask(1) == set(range(8, 16))
    assert Topology.flat(4) == Topology(1, 4, 1)


@pytest.mark.parametrize("spec", ["2x8", "0x4x1", "axbxc", ""])
def test_a_bad_topology_is_refused_with_what_was_expected(spec: str) -> None:
    with pytest.raises(ValueError, match="SOCKETSxCORESxTHREADS|positive integer"):
        Topology.parse(spec)
    with pytest.raises(ValueError, match="unknown topology key"):
        Topology.from_mapping({"sockets": 1, "dies": 2})


def test_cmdline_parses_xen_style_options_and_keeps_the_text() -> None:
    c = XenCmdline.parse("sched=credit2  credit2_runqueue=all sched_ratelimit_us=0x1f4 "
                         "load-balance-ratelimit=010 no-tickle_one_idle_cpu "
                         "sched_smt_power_savings credit2_balance_over=-2 console=com1")
    assert c.sched == "credit2" and c.sched_given and c.credit2_runqueue == "all"
    assert c.sched_ratelimit_us == 500  # base 0: hex
    assert c.load_balance_ratelimit == 8  # base 0: a leading 0 is octal
    assert c.tickle_one_idle_cpu == 0 and c.sched_smt_power_savings == 1
    assert c.credit2_balance_over == -2
    assert c.messages == ['parameter "console" unknown!']
    assert c.text.startswith("sched=credit2  credit2_runqueue")


def test_cmdline_reports_bad_values_and_out_of_range_options_and_boots_anyway() -> None:
    c = XenCmdline.parse("sched_ratelimit_us=abc credit2_runqueue=numa "
                         "sched_credit_tslice_ms=5000 load-balance-ratelimit=2000000")
    assert c.messages[:2] == ['parameter "sched_ratelimit_us" has invalid value "abc", rc=-22!',
                              'parameter "credit2_runqueue" has invalid value "numa", rc=-22!']
    assert any("sched_credit_tslice_ms outside of valid range [1,1000]" in m
               for m in c.messages)
    assert (c.sched_ratelimit_us, c.credit2_runqueue) == (1000, "socket")
    assert (c.sched_credit_tslice_ms, c.load_balance_ratelimit) == (30, 1_000_000)


def test_boot_parameters_reach_the_policies() -> None:
    host = Host(pcpus=2, xen_cmdline="sched_credit_tslice_ms=10 sched_ratelimit_us=500 "
                                     "vcpu_migration_delay=300")
    got = host.hv.pools[0].sched.adjust_global()
    assert got == {"tslice_ms": 10, "ratelimit_us": 500, "migration_delay_us": 300}
    assert host.hv.pools[0].sched.load_balance_ratelimit == 1_000_000


def test_an_unknown_boot_scheduler_falls_back_to_credit_as_xen_does() -> None:
    host = Host(pcpus=1, xen_cmdline="sched=credit9")
    assert host.hv.pools[0].sched.name == "credit"
    _, out, _ = host.xl("dmesg")
    assert "Could not find scheduler: credit9" in out
    with pytest.raises(ValueError, match="conflicts with sched=rtds"):
        Host(pcpus=1, scheduler="credit2", xen_cmdline="sched=rtds")


def test_xl_info_shows_the_topology_and_the_command_line() -> None:
    host = Host(topology="2x2x2", xen_cmdline="sched=credit2 credit2_runqueue=core")
    _, out, _ = host.xl("info")
    rows = {k.strip(): v.strip() for k, v in (line.split(":", 1) for line in out.splitlines())}
    assert (rows["nr_cpus"], rows["nr_nodes"]) == ("8", "2")
    assert (rows["cores_per_socket"], rows["threads_per_core"]) == ("2", "2")
    assert rows["xen_commandline"] == "sched=credit2 credit2_runqueue=core"
    _, out, _ = host.xl("info -n")
    table = out.split("cpu:    core    socket     node\n")[1].split("device topology")[0]
    assert table.splitlines()[5] == "  5:       0        1        1"
    assert "   1:      8192" in out and "20,10" in out


def test_flat_default_keeps_xl_info_as_before() -> None:
    _, out, _ = Host(pcpus=3).xl("info")
    assert "cores_per_socket       : 3\nthreads_per_core       : 1" in out
    assert "nr_nodes               : 1" in out
    assert "xen_commandline        : sched=credit dom0_mem=1024M" in out


def test_scenario_host_topology_and_cmdline(tmp_path: Path) -> None:
    f = tmp_path / "s.toml"
    f.write_text('[host]\ntopology = { sockets = 2, cores_per_socket = 8, '
                 'threads_per_core = 2 }\nxen_cmdline = "sched=credit2"\n'
                 '[run]\nduration_ms = 1\n')
    host = build_host(load_scenario(str(f)))
    assert len(host.hv.pcpus) == 32 and len(host.hv.pools[0].sched.rqds) == 2
    f.write_text('[host]\npcpus = 4\ntopology = "2x2x2"\n[run]\nduration_ms = 1\n')
    with pytest.raises(ScenarioError, match=r"s.toml:2: \[host\]: pcpus = 4 but the topology"):
        load_scenario(str(f))
    f.write_text('[host]\ntopology = "2x2"\n[run]\nduration_ms = 1\n')
    with pytest.raises(ScenarioError, match=r"s.toml:2: .*topology.*SxCxT"):
        load_scenario(str(f))

"""``xensim host start --topology ... --xen-cmdline ...`` through the real daemon."""

from __future__ import annotations

from tests.cli.conftest import XlHost


def test_host_start_with_a_topology_and_a_xen_command_line(xlhost: XlHost) -> None:
    r = xlhost.xensim("host", "start", "--host", xlhost.name, "--topology", "2x8x2",
                      "--xen-cmdline", "sched=credit2 credit2_runqueue=socket")
    assert r.returncode == 0, r.stderr
    assert "32 pCPUs" in r.stdout and "credit2" in r.stdout
    info = xlhost.xl("info").stdout
    assert "nr_cpus                : 32" in info and "threads_per_core       : 2" in info
    assert "xen_commandline        : sched=credit2 credit2_runqueue=socket" in info
    assert xlhost.xl("debug-keys", "r").returncode == 0
    assert "Active queues: 2" in xlhost.xl("dmesg").stdout


def test_host_start_refuses_a_pcpu_count_the_topology_contradicts(xlhost: XlHost) -> None:
    r = xlhost.xensim("host", "start", "--host", xlhost.name, "--topology", "2x2x2",
                      "--pcpus", "4")
    assert r.returncode == 2  # a bad host option is a usage error, like --memory -5
    assert "--pcpus 4 does not match --topology 2x2x2 (8 pCPUs)" in r.stderr
    bad = xlhost.xensim("host", "start", "--host", xlhost.name, "--topology", "2x2")
    assert bad.returncode == 2 and "SOCKETSxCORESxTHREADS" in bad.stderr

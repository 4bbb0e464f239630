"""cpupool-create reads its config as xl_cpupool.c does: the file's bytes, then each
key=value after a newline, parsed as one source ("command line" without a file)."""

from __future__ import annotations

from xensim.host import Host


def test_a_bad_key_value_gets_libxlus_lines_and_xls_cpupool_message():
    rc, out, err = Host().xl(["cpupool-create", 'name="p"', "Sched=x"])
    assert (rc, out) == (1, "")
    assert err == (
        "command line:3: config parsing error near `Sched=x': lexical error\n"
        "Failed to parse config file: Invalid argument\n"
    )


def test_good_key_values_still_create_the_pool():
    host = Host()
    assert host.xl("cpupool-cpu-remove Pool-0 3")[0] == 0
    assert host.xl(["cpupool-create", 'name="p"', 'sched="credit"', 'cpus="3"'])[0] == 0
    assert "p " in host.xl("cpupool-list")[1]

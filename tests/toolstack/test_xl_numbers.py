"""Numbers in xl's arguments: huge, non-ASCII or half-numeric ones get xl's own answer
(read with strtol/strtoul as xl reads them), never "internal error" or a traceback."""

from __future__ import annotations

import pytest

from xensim.host import Host
from xensim.hypervisor.vcpu import PauseFlag

BIG = "9" * 5000  # past Python's 4,300-digit int() limit


@pytest.fixture
def host() -> Host:
    h = Host()
    h.create("g", memory=256, maxmem=512, vcpus=2)
    return h


@pytest.mark.parametrize("arg", [BIG, "٣", "-1", "x"])
def test_vcpu_set_refuses_what_strtoul_cannot_read_into_an_int(host, arg):
    assert host.xl(f"vcpu-set g {arg}") == (1, "", "Error: Invalid argument.\n")


def test_vcpu_set_reads_the_leading_digits_as_xl_does(host):
    assert host.xl("vcpu-set g 1abc")[0] == 0
    online = [v for v in host.hv.domain_by_name("g").vcpus if not v.pause_flags & PauseFlag.DOWN]
    assert len(online) == 1


def test_vcpu_pin_with_a_non_ascii_vcpu_is_xls_invalid_argument(host):
    assert host.xl("vcpu-pin g ٣ all") == (1, "", "Error: Invalid argument ٣ as VCPU.\n")


@pytest.mark.parametrize("arg", [BIG, "٣"])
def test_cpumaps_with_huge_or_non_ascii_numbers_are_refused(host, arg):
    rc, _, err = host.xl(f"vcpu-pin g 0 {arg}")
    assert rc == 1 and err.startswith("Invalid cpumap: ")


def test_domname_takes_strtol_into_a_uint32(host):
    assert host.xl("domname ٣") == (1, "", "Invalid domain id.\n\n")
    assert host.xl(f"domname {BIG}") == (
        1, "", "Can't get domain name of domain id '4294967295', maybe this domain does "
        "not exist.\n")


@pytest.mark.parametrize("cmd", [f"list {BIG}", f"pause {BIG}", f"mem-set {BIG} 100"])
def test_a_huge_domain_id_is_just_not_found(host, cmd):
    rc, _, err = host.xl(cmd)
    assert rc == 1 and err.endswith("is an invalid domain identifier (rc=-6)\n")


@pytest.mark.parametrize("size", [BIG, f"{BIG}g", "٣", "12q"])
def test_mem_set_sizes_xl_cannot_use(host, size):
    rc, _, err = host.xl(f"mem-set g {size}")
    assert rc == 1 and "Traceback" not in err and "internal error" not in err


@pytest.mark.parametrize("cmd", [f"block-detach g {BIG}", f"network-detach g {BIG}",
                                 f"network-attach g rate={BIG}Mb/s", f"top -b -i {BIG}",
                                 "top -b -i 1 -d nan", f"sched-credit -d g -w {BIG}",
                                 "sched-credit -d g -w ٣"])
def test_other_numeric_arguments_fail_cleanly(host, cmd):
    rc, _, err = host.xl(cmd)
    assert rc in (1, 2) and "Traceback" not in err

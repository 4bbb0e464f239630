"""A student's typing mistake gets the same answer in a notebook (``host.xl``) as from the
real ``xl`` client against a running host: same message, same status, no traceback."""

from __future__ import annotations

import pytest

from tests.cli.conftest import XlHost
from xensim.host import Host

MISTAKES = [
    "sched-credit -d nosuch",          # no such domain
    "sched-credit -d Domain-0 -w 0",   # weight out of range
    "sched-credit -d Domain-0 -x",     # unknown option: usage on stderr, status 2
    "lsit",                            # no such command
    "create /no/such/file.cfg",        # missing config file
    "vcpu-pin Domain-0 0 99",          # no such pCPU
]


@pytest.mark.parametrize("command", MISTAKES)
def test_notebook_and_cli_give_the_same_error(xlhost: XlHost, command: str) -> None:
    xlhost.start("--pcpus", "2")
    cli = xlhost.xl(*command.split())
    rc, out, err = Host(pcpus=2).xl(command)
    assert (rc, out, err) == (cli.returncode, cli.stdout, cli.stderr)
    assert rc != 0 and err.strip() and "Traceback" not in err

"""xl's argument handling, fuzzed: getopt either parses or raises XlUsageError, and any
command line with odd numbers, quotes and options ends with an exit code and xl's
words, never an exception out of the command."""

from __future__ import annotations

import io

from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.budget import fuzz
from xensim.host import Host
from xensim.toolstack.xl.context import XlUsageError
from xensim.toolstack.xl.getopt import getopt
from xensim.toolstack.xl.main import run_command

_args = st.lists(st.one_of(
    st.sampled_from(["-w", "-w512", "--weight=1", "--weight", "-d", "--", "-", "-p", "-ab",
                     "--nope", "-x", "-5", "9" * 5000, "٣", "0x10", "1abc", "", "-i", "all"]),
    st.text(max_size=8)), max_size=8)


@fuzz(300)
@given(_args)
def test_getopt_parses_or_raises_a_usage_error(args: list[str]) -> None:
    try:
        opts, ops = getopt(args, "w:d:pi:", {"weight": "w", "domain": "d"}, cmd="x", reqargs=1)
    except XlUsageError:
        return
    assert len(ops) >= 1 and all(letter in "wdpi" for letter, _ in opts)


_COMMANDS = ["vcpu-set g", "vcpu-pin g", "vcpu-pin g 0", "mem-set g", "mem-max g", "domname",
             "domid", "list", "list -l", "sched-credit -d g -w", "sched-credit2 -d g -w",
             "sched-rtds -d g -p", "pause", "unpause", "rename g", "block-detach g",
             "network-detach g", "network-attach g", "xenstore-read", "xenstore-write /x",
             "cpupool-cpu-add Pool-0", "top -b -i", "debug-keys", "uptime", "vcpu-list"]
_words = st.one_of(st.sampled_from(["g", "0", "1", "-1", "all", "9" * 5000, "٣", "1abc",
                                    "0x10", "64k", "1g", "rate=1Mb/s", "\"", "'", "-w",
                                    "nan", "inf"]),
                   st.text(st.characters(blacklist_categories=("Cs",)), max_size=6))


@fuzz(60)
@given(st.sampled_from(_COMMANDS), st.lists(_words, max_size=3))
def test_xl_commands_with_odd_arguments_end_with_an_exit_code(cmd: str, words) -> None:
    host = Host()
    host.create("g", memory=256, maxmem=512, vcpus=2)
    out, err = io.StringIO(), io.StringIO()
    rc = run_command(host, cmd.split() + words, out, err)
    assert isinstance(rc, int) and "Traceback" not in err.getvalue()

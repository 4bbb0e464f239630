"""xl's command table: every xl 4.19 command has a documented status, lookups are xl's."""

from __future__ import annotations

import re
from pathlib import Path

from xensim.host import Host
from xensim.toolstack.xl.cmdtable import CMD_TABLE, XL_COMMANDS, lookup

DOC = Path(__file__).resolve().parents[2] / "docs" / "xl.md"


def _statuses() -> dict[str, str]:
    text = DOC.read_text()
    table = text[text.index("## Every xl command"):]
    return {m.group(1): m.group(2) for m in re.finditer(r"^\| `([a-z0-9-]+)` \| (.+) \|$",
                                                      table, re.M)}


def test_docs_give_every_xl_command_a_status_in_xls_order() -> None:
    statuses = _statuses()
    assert list(statuses) == list(XL_COMMANDS)
    have = {spec.name for spec in CMD_TABLE}
    for name, status in statuses.items():
        if status.startswith("not modelled"):
            assert name not in have, f"{name} is implemented but documented as not modelled"
        elif status.startswith(("as xl", "partial")):
            assert name in have, f"{name} is documented as {status!r} but missing"


def test_missing_commands_answer_as_xl_does() -> None:
    host = Host(pcpus=1)
    statuses = _statuses()
    for name in (n for n, s in statuses.items() if s.startswith("not modelled")):
        assert host.xl(name) == (1, "", "command not implemented\n"), name


def test_abbreviations_are_ambiguous_among_all_of_xls_commands() -> None:
    assert lookup("sh") is None  # shutdown or sharing, to real xl
    assert lookup("cd") is None
    assert getattr(lookup("shu"), "name", None) == "shutdown"
    assert getattr(lookup("vm"), "name", None) == "vm-list"
    assert getattr(lookup("xenstore-li"), "name", None) == "xenstore-list"

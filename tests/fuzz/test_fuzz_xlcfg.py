"""Properties of the xl.cfg reader, fuzzed: any bytes give settings or an XlCfgError
(never another exception), what xensim writes parses back the same, and the typed layer
turns anything the parser accepts into a DomainConfig or an XlCfgError."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.budget import fuzz
from xensim.toolstack.domconfig import DomainConfig
from xensim.toolstack.domconfig_build import _fmt
from xensim.toolstack.xlcfg import MAX_NESTING, Atom, ListValue, XlCfgError, parse_xlcfg

# Pieces that reach every lexer rule and parser state, plus bytes no rule wants.
_PIECES = [b"name", b"memory", b"vcpus", b"cpus", b"disk", b"vif", b"type", b"x.y", b"=",
           b"+=", b"[", b"]", b",", b";", b"\n", b" ", b"\t", b"0", b"1", b"0x1f", b"12ab",
           b"9" * 30, b"9" * 5000, b'"9999999999999999999999-1"', b'"hvm"', b'"pv"',
           b'"0-3,^2"', b"'q'", b'"a\\n"', b'"\\0123"',
           b'"\\x41"', b'"\\q"', b"#c\n", b"#c", b"(", b"-", b"Name", b"_k", b"\r", b"\xc3\xa9",
           b'"\xff"', b'"x', b"'", b"\\", b"\x00", b'"phy:/d,xvda,w"', b'"bridge=xenbr0"']
xlish = st.lists(st.sampled_from(_PIECES), max_size=40).map(b"".join)
any_bytes = st.one_of(st.binary(max_size=300), xlish)


@fuzz(300)
@given(any_bytes)
def test_any_bytes_parse_or_raise_xlcfgerror(data: bytes) -> None:
    try:
        raw = parse_xlcfg(data, "fuzz.cfg")
    except XlCfgError as e:
        assert str(e).endswith("Failed to parse config: Invalid argument")
        assert all(line.startswith(("fuzz.cfg:", "warning:")) for line in e.report)
        return
    for s in raw.settings:
        assert s.filename == "fuzz.cfg" and s.line >= 1


@fuzz(300)
@given(any_bytes)
def test_any_bytes_give_a_domain_config_or_an_xlcfgerror(data: bytes) -> None:
    try:
        cfg = DomainConfig.from_text(b'name = "f"\nkernel = "/k"\n' + data, "fuzz.cfg")
    except XlCfgError:
        return
    json.dumps(cfg.to_dict())  # xl list -l / create -n must be able to print it
    assert DomainConfig.from_text(cfg.to_xlcfg(), "again.cfg") == cfg


_keys = st.from_regex(r"[a-z][._0-9a-z]{0,12}", fullmatch=True)
_text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\0"),
                max_size=20)
_atoms = st.one_of(_text.map(lambda t: Atom(t, "string")),
                   st.from_regex(r"[0-9][0-9a-fx]{0,30}", fullmatch=True)
                   .map(lambda t: Atom(t, "number")))
_values = st.recursive(_atoms, lambda inner: st.lists(inner, max_size=4).map(
    lambda xs: ListValue(tuple(xs))), max_leaves=12)


@fuzz(100)
@given(st.lists(st.tuples(_keys, _values), max_size=12))
def test_written_settings_parse_back_the_same(pairs) -> None:
    text = "".join(f"{k} = {_fmt(v)}\n" for k, v in pairs)
    raw = parse_xlcfg(text, "rt.cfg")
    assert [(s.key, s.value) for s in raw.settings] == pairs


@fuzz(50)
@given(st.integers(1, 300))
def test_nesting_past_the_limit_is_an_error_not_a_crash(depth: int) -> None:
    text = "x = " + "[" * depth + "]" * depth + "\n"
    try:
        raw = parse_xlcfg(text)
    except XlCfgError as e:
        assert depth > MAX_NESTING and "nested more than" in str(e)
    else:
        assert depth <= MAX_NESTING and isinstance(raw.get("x").value, ListValue)

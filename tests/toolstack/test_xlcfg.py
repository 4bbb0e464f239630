"""The raw xl.cfg parser: every syntax form of libxlu_cfg_y.y and xl-style errors."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xensim.toolstack.xlcfg import PYTHON_HINT, Atom, ListValue, RawConfig, XlCfgError, parse_xlcfg


def values(raw: RawConfig) -> dict[str, object]:
    """key -> plain Python (text for atoms, lists for lists), last setting wins."""

    def py(v):
        return [py(x) for x in v.items] if isinstance(v, ListValue) else v.text

    return {k: py(raw.get(k).value) for k in raw.keys()}


def err(text: str, filename: str = "vm.cfg") -> str:
    with pytest.raises(XlCfgError) as info:
        parse_xlcfg(text, filename)
    return str(info.value)


# -- accepted syntax ----------------------------------------------------------


def test_real_world_pv_config_shape():
    text = """\
# Example PV Linux guest
name = "guest1"       # the domain name
kernel = '/boot/vmlinuz'
memory = 512
vcpus = 2
disk = [ 'phy:/dev/vg/guest1,xvda,w',
         'file:/srv/data.img,xvdb,r', ]   # trailing comma

vif = [ "mac=00:16:3e:00:00:01,bridge=xenbr0" ]
on_crash = "restart"
"""
    raw = parse_xlcfg(text, "guest1.cfg")
    assert values(raw) == {
        "name": "guest1",
        "kernel": "/boot/vmlinuz",
        "memory": "512",
        "vcpus": "2",
        "disk": ["phy:/dev/vg/guest1,xvda,w", "file:/srv/data.img,xvdb,r"],
        "vif": ["mac=00:16:3e:00:00:01,bridge=xenbr0"],
        "on_crash": "restart",
    }
    assert raw.keys() == ["name", "kernel", "memory", "vcpus", "disk", "vif", "on_crash"]


def test_numbers_and_strings_are_atoms_with_a_kind_tag():
    raw = parse_xlcfg("a = 512\nb = \"512\"\nc = 0x1f\nd = 'x'\n")
    assert raw.get("a").value == Atom("512", "number")
    assert raw.get("b").value == Atom("512", "string")
    assert raw.get("c").value == Atom("0x1f", "number")
    assert raw.get("d").value == Atom("x", "string")


def test_upper_case_hex_digits_are_not_part_of_a_number_as_in_xls_lexer():
    # libxlu_cfg_l.l: NUMBER is [0-9][0-9a-fx]*, so "0x1F" is "0x1" then "F".
    assert err("c = 0x1F\n") == (
        "vm.cfg:1:8: config parsing error near `F': syntax error, unexpected identifier, "
        "expecting newline or `;' or end of file"
    )


def test_hex_number_kept_as_text():
    raw = parse_xlcfg("maxmem = 0x400\n")
    assert raw.get("maxmem").value == Atom("0x400", "number")


def test_both_quote_styles_and_the_other_quote_inside():
    raw = parse_xlcfg("""a = "it's"\nb = 'say "hi"'\n""")
    assert values(raw) == {"a": "it's", "b": 'say "hi"'}


@pytest.mark.parametrize(
    ("src", "want"),
    [
        (r'"a\nb"', "a\nb"),
        (r'"a\tb"', "a\tb"),
        (r'"back\\slash"', "back\\slash"),
        (r'"q\"q"', 'q"q'),
        (r"'q\'q'", "q'q"),
        (r'"\x41\x7a"', "Az"),
        (r'"\101\60"', "A0"),
        (r'"\a\b\f\r\v"', "\a\b\f\r\v"),
    ],
)
def test_c_escapes(src, want):
    assert parse_xlcfg(f"k = {src}\n").get("k").value.text == want


def test_semicolons_separate_settings_on_one_line():
    raw = parse_xlcfg('name = "a"; memory = 64; vcpus = 1;\n')
    assert values(raw) == {"name": "a", "memory": "64", "vcpus": "1"}


def test_no_trailing_newline():
    assert values(parse_xlcfg('name = "a"\nmemory = 64')) == {"name": "a", "memory": "64"}


def test_comment_on_last_line_without_newline():
    assert values(parse_xlcfg("memory = 64 # no newline after me")) == {"memory": "64"}


def test_blank_lines_and_comments_everywhere():
    text = """

# leading comment

name = "a"   # after a value
   # indented comment

disk = [   # after the bracket
    # inside a list
    "x",   # after an item

    "y"
    # before the close
]
"""
    assert values(parse_xlcfg(text)) == {"name": "a", "disk": ["x", "y"]}


def test_list_forms():
    raw = parse_xlcfg("a = []\nb = [\n]\nc = [ 1 ]\nd = [1,]\ne = [\n 1\n ,\n 2\n ,\n]\n")
    assert values(raw) == {"a": [], "b": [], "c": ["1"], "d": ["1"], "e": ["1", "2"]}


def test_nested_lists_parse_as_in_modern_xl():
    # vnuma = [ [..], [..] ] needs this; see the grammar's header comment.
    raw = parse_xlcfg('vnuma = [ [ "pnode=0", "size=512" ], [ "pnode=1" ] ]\n')
    assert values(raw) == {"vnuma": [["pnode=0", "size=512"], ["pnode=1"]]}


def test_last_assignment_wins():
    raw = parse_xlcfg("memory = 64\nmemory = 128\n")
    assert raw.get("memory").value.text == "128"
    assert len(raw.settings) == 2


def test_plus_equals_appends_to_lists_and_concatenates_strings():
    raw = parse_xlcfg('disk = [ "a" ]\ndisk += [ "b", "c" ]\nextra = "x"\nextra += " y"\n')
    assert values(raw) == {"disk": ["a", "b", "c"], "extra": "x y"}
    assert raw.get("disk").op == "+="


def test_plus_equals_without_a_previous_value_is_a_plain_setting():
    assert values(parse_xlcfg('disk += [ "a" ]\n')) == {"disk": ["a"]}


def test_positions_of_keys_and_values():
    raw = parse_xlcfg('\n  memory = 512\ndisk = [\n  "a" ]\n', "f.cfg")
    mem = raw.get("memory")
    assert (mem.line, mem.column, mem.value.line, mem.value.column) == (2, 3, 2, 12)
    disk = raw.get("disk")
    assert (disk.value.line, disk.value.column) == (3, 8)
    assert (disk.value.items[0].line, disk.value.items[0].column) == (4, 3)
    assert mem.filename == "f.cfg"


def test_extended_applies_plus_equals_across_sources():
    base = parse_xlcfg('disk = [ "a" ]\nmemory = 64\n', "vm.cfg")
    over = parse_xlcfg('disk += [ "b" ]\nmemory = 128', "<command line>")
    merged = base.extended(over)
    assert values(merged) == {"disk": ["a", "b"], "memory": "128"}
    assert merged.get("memory").filename == "<command line>"


def test_empty_file():
    assert parse_xlcfg("").settings == ()
    assert parse_xlcfg("\n\n# only a comment\n").settings == ()


# -- errors ---------------------------------------------------------------------


def test_error_unterminated_string():
    assert err('name = "guest\nmemory = 5\n') == (
        "vm.cfg:1:8: config parsing error near `\"guest': unterminated string"
    )


def test_error_missing_equals():
    assert err('name = "a"\nmemory 512\n') == (
        "vm.cfg:2:8: config parsing error near `512': syntax error, unexpected number, "
        "expecting `=' or `+=' (every setting is KEY = VALUE)"
    )


def test_error_bad_list_missing_comma():
    assert err('disk = [ "a" "b" ]\n') == (
        'vm.cfg:1:14: config parsing error near `"b"\': syntax error, unexpected string, '
        "expecting `,' or `]' or newline "
        "(list items are separated by `,' and the list ends with `]')"
    )


def test_error_list_never_closed():
    assert err('disk = [ "a",\n') == (
        "vm.cfg:2:1: config parsing error near end of file: syntax error, "
        "unexpected end of file (the list is not closed with `]')"
    )


def test_error_double_comma_in_list():
    assert err("cpus = [ 1,, 2 ]\n").startswith(
        "vm.cfg:1:12: config parsing error near `,': syntax error, unexpected `,'"
    )


def test_error_stray_token_after_value():
    assert err('memory = 512 "MiB"\n') == (
        'vm.cfg:1:14: config parsing error near `"MiB"\': syntax error, unexpected string, '
        "expecting newline or `;' or end of file"
    )


def test_error_missing_value_reports_newline_like_xl():
    assert err("name = \n") == (
        "vm.cfg:1:8: config parsing error near <newline>: syntax error, "
        "unexpected newline, expecting string or number or `['"
    )


def test_error_unquoted_string_value():
    assert err("type = hvm\n") == (
        "vm.cfg:1:8: config parsing error near `hvm': syntax error, unexpected identifier, "
        "expecting string or number or `['"
    )


def test_error_lexical_garbage():
    assert err("memory = 5 @x\n") == "vm.cfg:1:12: config parsing error near `@x': lexical error"


def test_error_bad_escape():
    assert err(r'k = "a\qb"' + "\n") == (
        'vm.cfg:1:7: config parsing error near `"a\\qb"\': '
        "invalid character after backslash in quoted string"
    )


def test_error_bad_hex_escape():
    assert "hex numerical character escape" in err(r'k = "\xZZ"' + "\n")


def test_error_plus_equals_type_mismatch():
    assert err('disk = "a"\ndisk += [ "b" ]\n') == (
        "vm.cfg:2:1: config parsing error near `disk': can't add [list] to \"string\" or vice versa"
    )


def test_python_looking_config_gets_xls_hint():
    msg = err("import os\nmemory = int(512)\n")
    assert msg.endswith(PYTHON_HINT)
    assert msg.startswith("vm.cfg:1:8: config parsing error near `os'")


def test_plain_errors_get_no_python_hint():
    assert "Python" not in err("memory 512\n")


def test_error_carries_fields():
    with pytest.raises(XlCfgError) as info:
        parse_xlcfg("x = ]\n", "a.cfg")
    e = info.value
    assert (e.filename, e.line, e.column) == ("a.cfg", 1, 5)
    assert isinstance(e, ValueError)


@pytest.mark.parametrize(
    "text",
    [
        "=",
        "[",
        "]",
        "x",
        "x =",
        "x = [",
        "x = [[",
        "x = [1 2",
        "'",
        '"',
        "x = 1 = 2",
        "x = [1,,]",
        "+",
        "x += ",
        "\\",
        'x = "\\',
        "0 = 1",
        "x = ()",
        "x = {}",
        "\x00",
    ],
)
def test_garbage_raises_xlcfgerror_never_a_lark_exception(text):
    with pytest.raises(XlCfgError):
        parse_xlcfg(text, "g.cfg")


def test_crlf_line_endings_are_tolerated():
    assert values(parse_xlcfg('name = "a"\r\nmemory = 64\r\n')) == {"name": "a", "memory": "64"}


_xlish = st.text(alphabet=st.sampled_from(list("ab01x=+[],;#'\"\\ \t\n.():@^")), max_size=40)


@settings(max_examples=500, deadline=None)
@given(_xlish)
def test_any_text_parses_or_raises_xlcfgerror_with_a_location(text):
    try:
        parse_xlcfg(text, "fuzz.cfg")
    except XlCfgError as e:
        assert str(e).startswith(f"fuzz.cfg:{e.line}:{e.column}: ")
        assert 1 <= e.line <= text.count("\n") + 1

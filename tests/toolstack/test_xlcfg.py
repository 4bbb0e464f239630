"""The raw xl.cfg parser: libxlu's grammar, lexer and report, line for line.

Every expected error text below is what libxlu 4.19 prints for the same bytes (checked
against libxlu compiled from Xen's tree; tests/toolstack/test_xlcfg_oracle.py repeats
that comparison on random input when the tree and a C compiler are at hand).
"""

from __future__ import annotations

import time

import pytest

from xensim.toolstack.xlcfg import (
    MAX_NESTING,
    PARSE_FAILED,
    PYTHON_HINT,
    Atom,
    ListValue,
    RawConfig,
    XlCfgError,
    parse_xlcfg,
)


def values(raw: RawConfig) -> dict[str, object]:
    """key -> plain Python (text for atoms, lists for lists), last setting wins."""

    def py(v):
        return [py(x) for x in v.items] if isinstance(v, ListValue) else v.text

    return {k: py(raw.get(k).value) for k in raw.keys()}


def err(data: str | bytes, filename: str = "vm.cfg") -> str:
    """libxlu's lines for *data*, without xl's final "Failed to parse config"."""
    with pytest.raises(XlCfgError) as info:
        parse_xlcfg(data, filename)
    text = str(info.value)
    assert text.endswith("\n" + PARSE_FAILED)
    return text[: -len(PARSE_FAILED) - 1]


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


def test_bytes_and_text_give_the_same_settings():
    text = 'name = "café"\nmemory = 64\n'
    assert parse_xlcfg(text.encode()) == parse_xlcfg(text)
    assert parse_xlcfg(text.encode()).get("name").value.text == "café"


def test_numbers_and_strings_are_atoms_with_a_kind_tag():
    raw = parse_xlcfg("a = 512\nb = \"512\"\nc = 0x1f\nd = 'x'\n")
    assert raw.get("a").value == Atom("512", "number")
    assert raw.get("b").value == Atom("512", "string")
    assert raw.get("c").value == Atom("0x1f", "number")
    assert raw.get("d").value == Atom("x", "string")


def test_keys_may_hold_dots_and_digits_as_in_the_flex_rule():
    assert values(parse_xlcfg("a.b_2 = 1\n")) == {"a.b_2": "1"}


def test_a_huge_number_is_kept_as_text_without_converting_it():
    digits = "9" * 5000
    assert parse_xlcfg(f"memory = {digits}\n").get("memory").value.text == digits


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
        (r'"\a\b\f\r\v"', "\a\b\f\r\v"),
        # libxlu reads an octal escape's next bytes in base 10 and then drops them.
        (r'"a\1012b"', "ab"),
        (r'"\101"', ""),
    ],
)
def test_c_escapes_as_libxlu_decodes_them(src, want):
    assert parse_xlcfg(f"k = {src}\n").get("k").value.text == want


def test_semicolons_separate_settings_on_one_line():
    raw = parse_xlcfg('name = "a"; memory = 64; vcpus = 1;;\n')
    assert values(raw) == {"name": "a", "memory": "64", "vcpus": "1"}


def test_no_trailing_newline_after_a_value():
    assert values(parse_xlcfg('name = "a"\nmemory = 64')) == {"name": "a", "memory": "64"}


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


def test_nested_lists():
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


def test_a_setting_records_the_line_of_its_value_as_libxlu_does():
    raw = parse_xlcfg('\n  memory = 512\ndisk = [\n  "a" ]\n', "f.cfg")
    mem, disk = raw.get("memory"), raw.get("disk")
    assert (mem.line, mem.value.line, mem.filename) == (2, 2, "f.cfg")
    assert (disk.line, disk.value.line, disk.value.items[0].line) == (3, 3, 4)


def test_extended_applies_plus_equals_across_sources():
    base = parse_xlcfg('disk = [ "a" ]\nmemory = 64\n', "vm.cfg")
    over = parse_xlcfg('disk += [ "b" ]\nmemory = 128', "<command line>")
    merged = base.extended(over)
    assert values(merged) == {"disk": ["a", "b"], "memory": "128"}
    assert merged.get("memory").filename == "<command line>"


def test_empty_file():
    assert parse_xlcfg("").settings == ()
    assert parse_xlcfg("\n\n# only a comment\n").settings == ()


# -- what libxlu refuses, with its exact lines ------------------------------------


@pytest.mark.parametrize(
    ("data", "report"),
    [
        (
            'name = "guest\nmemory = 5\n',
            "vm.cfg:1: config parsing error near `\"guest': lexical error",
        ),
        (
            'name = "a"\nmemory 512\n',
            "vm.cfg:2: config parsing error near `512': syntax error, unexpected NUMBER, "
            "expecting += or '='",
        ),
        (
            'disk = [ "a" "b" ]\n',
            "vm.cfg:1: config parsing error near `\"b\"': syntax error, unexpected STRING, "
            "expecting ']'",
        ),
        (
            'disk = [ "a",\n',
            "vm.cfg:1: config parsing error near `': syntax error, unexpected $end, "
            "expecting ']'",
        ),
        (
            "cpus = [ 1,, 2 ]\n",
            "vm.cfg:1: config parsing error near `,': syntax error, unexpected ',', "
            "expecting ']'",
        ),
        (
            'memory = 512 "MiB"\n',
            "vm.cfg:1: config parsing error near `\"MiB\"': syntax error, unexpected STRING, "
            "expecting $end",
        ),
        (  # an error at a newline is reported one line early, as libxlu does
            "\nname = \n",
            "vm.cfg:1: config parsing error near <newline>: syntax error, unexpected NEWLINE, "
            "expecting STRING or NUMBER or '['",
        ),
        (
            "type = hvm\n",
            "vm.cfg:1: config parsing error near `hvm': syntax error, unexpected IDENT, "
            "expecting STRING or NUMBER or '['",
        ),
        ("memory = 5 @x\n", "vm.cfg:1: config parsing error near `@x': lexical error"),
        (
            'k = "a\\qb"\n',
            "vm.cfg:1: config parsing error near `\"a\\qb\"': invalid character after backlash "
            "in quoted string",
        ),
        (
            'k = "\\x41"\n',
            "vm.cfg:1: config parsing error near `\"\\x41\"': invalid digit after backslash "
            "hexnumerical character escape in quoted string",
        ),
        (
            'disk = "a"\ndisk += [ "b" ]\n',
            "vm.cfg:2: config parsing error near `]': can't add [list] to \"string\" "
            "or vice versa",
        ),
        ("Memory = 512\n", "vm.cfg:1: config parsing error near `Memory': lexical error"),
        ("_x = 1\n", "vm.cfg:1: config parsing error near `_x': lexical error"),
        ("memory = 64 # no newline", "vm.cfg:1: config parsing error near `#': lexical error"),
        ("c = 0x1F\n", "vm.cfg:1: config parsing error near `F': lexical error"),
        (
            "x = ]\n",
            "vm.cfg:1: config parsing error near `]': syntax error, unexpected ']', "
            "expecting STRING or NUMBER or '['",
        ),
    ],
)
def test_errors_read_exactly_like_libxlu(data, report):
    assert err(data) == report


def test_crlf_line_endings_are_refused_like_libxlu_with_the_cr_in_the_message():
    assert err('name = "a"\r\nmemory = 64\r\n') == (
        "vm.cfg:1: config parsing error near `\r': lexical error\n"
        "vm.cfg:2: config parsing error near `\r': lexical error"
    )


def test_parsing_goes_on_after_an_error_and_reports_each_bad_line():
    assert err("= 1\nb = 2\n= 3\n") == (
        "vm.cfg:1: config parsing error near `=': syntax error, unexpected '=', "
        "expecting $end or IDENT or NEWLINE or ';'\n"
        "vm.cfg:3: config parsing error near `=': syntax error, unexpected '=', "
        "expecting $end or IDENT or NEWLINE or ';'"
    )


def test_python_looking_config_gets_xls_hint():
    assert err("import os\nmemory = int(512)\n") == (
        "vm.cfg:1: config parsing error near `os': syntax error, unexpected IDENT, "
        "expecting += or '='\n"
        "vm.cfg:2: config parsing error near `int': syntax error, unexpected IDENT, "
        "expecting STRING or NUMBER or '['\n"
        "vm.cfg:2: config parsing error near `(512)': lexical error\n" + PYTHON_HINT
    )


def test_plain_errors_get_no_python_hint():
    assert "Python" not in err("memory 512\n")


def test_non_ascii_bytes_outside_strings_are_a_lexical_error_not_an_exception():
    assert err(b"memory = 64 \xff\xfe\n") == (
        "vm.cfg:1: config parsing error near `\\xff\\xfe': lexical error"
    )


def test_a_string_that_is_not_utf8_is_refused_with_a_located_error():
    assert err(b'name = "caf\xe9"\n') == (
        "vm.cfg:1: config parsing error near `\"caf\\xe9\"': "
        "quoted string is not valid UTF-8 (xensim)"
    )


def test_lists_nested_too_deep_stop_with_a_located_error_not_a_recursion_error():
    deep = "x = " + "[" * 1000 + "]" * 1000 + "\n"
    assert err(deep) == (
        f"vm.cfg:1: config parsing error near `[': lists nested more than {MAX_NESTING} "
        "deep (xensim's limit)"
    )
    ok = "x = " + "[" * MAX_NESTING + "]" * MAX_NESTING + "\n"
    assert isinstance(parse_xlcfg(ok).get("x").value, ListValue)


def test_error_carries_fields():
    with pytest.raises(XlCfgError) as info:
        parse_xlcfg("\nx = ]\n", "a.cfg")
    e = info.value
    assert (e.filename, e.line) == ("a.cfg", 2)
    assert isinstance(e, ValueError)


def test_parse_time_is_linear_in_the_file_size():
    """A 1.2 MB config with 80,000 keys: about a second (it took 100 s before)."""

    def cost(n: int) -> float:
        data = "".join(f"k{i} = {i}\n" for i in range(n)).encode()
        start = time.process_time()
        parse_xlcfg(data)
        return time.process_time() - start

    # best of a few runs: a GC pause or a busy neighbour inflates one run, never all
    small, big = min(cost(8_000) for _ in range(3)), min(cost(80_000) for _ in range(2))
    # Ten times the input may cost at most ~20 times as much (quadratic would be 100x);
    # the slack absorbs timer noise on a shared CI machine.
    assert big < 20 * max(small, 0.01)
    assert big < 10.0

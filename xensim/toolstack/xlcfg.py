"""The xl.cfg reader: text in, ordered raw settings (with positions) out.

Mirrors: tools/libs/util/libxlu_cfg_y.y and libxlu_cfg_l.l (grammar, in
``xlcfg.lark``), libxlu_cfg.c (``xlu__cfg_set_store`` for ``+=``,
``xlu__cfgl_dequote`` for escapes, ``xlu__cfg_yyerror`` for the message).

Like libxlu, this layer knows nothing about keys: a value is an *atom*
(a string or a number, both kept as text, with a kind tag) or a *list*.
Converting ``"512"`` to an int is the job of the typed layer
(:mod:`xensim.toolstack.domconfig`), exactly as xl converts per key with
``xlu_cfg_get_long``.  Errors read like xl's,
``vm.cfg:7: config parsing error near `[': syntax error``, with the column
added after the line.  Lark exceptions never escape this module.

Departures from libxlu, on purpose: we stop at the first error (bison's
``error NEWLINE`` recovery would print a cascade); ``\\xHH`` and octal
escapes work as documented (libxlu's bounds check rejects well-formed
ones and reads octal in base 10).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Literal

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import LarkError, UnexpectedCharacters, UnexpectedEOF, UnexpectedToken

__all__ = [
    "PYTHON_HINT",
    "Atom",
    "ListValue",
    "RawConfig",
    "Setting",
    "Value",
    "XlCfgError",
    "parse_xlcfg",
]

PYTHON_HINT = (
    "warning: Config file looks like it contains Python code.\n"
    "warning:  Arbitrary Python is no longer supported.\n"
    "warning:  See https://wiki.xen.org/wiki/PythonInXlConfig"
)
"""What xl prints after a parse error when the lexer saw Python-ish characters."""


class XlCfgError(ValueError):
    """A config that xl would refuse, located at *filename*:*line*:*column*.

    ``str()`` reads like xl's own report so users can grep for it; *hint*
    (xl's "looks like Python" warning) follows on extra lines when set.
    """

    def __init__(
        self, filename: str, line: int, column: int, message: str, hint: str | None = None
    ) -> None:
        self.filename = filename
        self.line = line
        self.column = column
        self.message = message
        self.hint = hint
        super().__init__(str(self))

    def __str__(self) -> str:
        head = f"{self.filename}:{self.line}:{self.column}: {self.message}"
        return f"{head}\n{self.hint}" if self.hint else head

    def __reduce__(self):  # keep pickling (multiprocessing) working
        return (XlCfgError, (self.filename, self.line, self.column, self.message, self.hint))


@dataclass(frozen=True)
class Atom:
    """A scalar: xl keeps both strings and numbers as text (``kind`` says which)."""

    text: str
    kind: Literal["string", "number"]
    line: int = field(default=0, compare=False)
    column: int = field(default=0, compare=False)


@dataclass(frozen=True)
class ListValue:
    """A bracketed list; *line*/*column* are those of its ``[``."""

    items: tuple[Value, ...]
    line: int = field(default=0, compare=False)
    column: int = field(default=0, compare=False)


Value = Atom | ListValue


@dataclass(frozen=True)
class Setting:
    """One ``KEY = VALUE`` or ``KEY += VALUE``, after ``+=`` was applied.

    *value* is the effective value (for ``+=``, the concatenation with the
    earlier setting, as ``xlu__cfg_set_store`` does); *line*/*column* locate
    the key, and ``value.line``/``value.column`` the value.
    """

    key: str
    value: Value
    op: Literal["=", "+="]
    filename: str
    line: int
    column: int


@dataclass(frozen=True)
class RawConfig:
    """The settings of one or more sources, in the order they were read.

    As in libxlu, the *last* setting of a key is the one that counts.
    """

    filename: str
    settings: tuple[Setting, ...] = ()

    def get(self, key: str) -> Setting | None:
        """The setting in force for *key* (the last one), or ``None``."""
        for s in reversed(self.settings):
            if s.key == key:
                return s
        return None

    def keys(self) -> list[str]:
        """Keys in order of first appearance, each once."""
        return list(dict.fromkeys(s.key for s in self.settings))

    def __contains__(self, key: object) -> bool:
        return any(s.key == key for s in self.settings)

    def extended(self, other: RawConfig) -> RawConfig:
        """Settings of *other* stored after ours, with ``+=`` applied across
        the two, as xl create does for ``key=value`` arguments."""
        settings = list(self.settings)
        for s in other.settings:
            _store(settings, s)
        return RawConfig(self.filename, tuple(settings))


# ---------------------------------------------------------------------------
# Parsing


@lru_cache(maxsize=1)
def _parser() -> Lark:
    return Lark.open(
        str(Path(__file__).with_name("xlcfg.lark")),
        start="file",
        parser="lalr",
        lexer="basic",
        transformer=_Build(),
    )


_ESCAPES = {
    '"': '"',
    "'": "'",
    "\\": "\\",
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
}


class _EscapeError(Exception):
    def __init__(self, offset: int, message: str) -> None:
        self.offset = offset
        self.message = message


def _dequote(src: str) -> str:
    """Strip the quotes and decode C escapes (``xlu__cfgl_dequote``)."""
    body = src[1:-1]
    out: list[str] = []
    i = 0
    while i < len(body):
        c = body[i]
        if c != "\\":
            out.append(c)
            i += 1
            continue
        nc = body[i + 1]  # the lexer guarantees a character after `\`
        if nc in _ESCAPES:
            out.append(_ESCAPES[nc])
            i += 2
        elif nc == "x":
            m = re.match(r"[0-9a-fA-F]{2}", body[i + 2 :])
            if not m:
                raise _EscapeError(
                    i + 1,
                    "invalid digit after backslash hex numerical character escape in quoted string",
                )
            out.append(chr(int(m.group(), 16)))
            i += 4
        elif "0" <= nc <= "7":
            m = re.match(r"[0-7]{1,3}", body[i + 1 :])
            assert m is not None
            out.append(chr(int(m.group(), 8) & 0xFF))
            i += 1 + len(m.group())
        else:
            raise _EscapeError(i + 1, "invalid character after backslash in quoted string")
    return "".join(out)


@v_args(inline=True)
class _Build(Transformer):
    """Builds values as the LALR parser reduces (no recursion on big files)."""

    def string(self, tok: Token) -> Atom:
        try:
            text = _dequote(str(tok))
        except _EscapeError as e:
            raise _LexicalError(tok.line, tok.column + e.offset, str(tok), e.message) from None
        return Atom(text, "string", tok.line, tok.column)

    def number(self, tok: Token) -> Atom:
        return Atom(str(tok), "number", tok.line, tok.column)

    def value(self, atom: Atom) -> Atom:
        return atom

    def list(self, lsqb: Token, _nlok: None, items: list[Value]) -> ListValue:
        return ListValue(tuple(items), lsqb.line, lsqb.column)

    def valuelist(self, *args: object) -> list[Value]:
        return args[0] if args else []  # type: ignore[return-value]

    def values(self, *args: object) -> list[Value]:
        if len(args) == 2:  # value nlok
            return [args[0]]  # type: ignore[list-item]
        vals, _nl1, val, _nl2 = args
        vals.append(val)  # type: ignore[union-attr]
        return vals  # type: ignore[return-value]

    def nlok(self, *args: object) -> None:
        return None

    def assign(self, ident: Token, value: Value) -> tuple:
        return (str(ident), "=", value, ident.line, ident.column)

    def append(self, ident: Token, _op: Token, value: Value) -> tuple:
        return (str(ident), "+=", value, ident.line, ident.column)

    def endstmt(self, *args: object) -> None:
        return None

    def stmt(self, *args: object) -> tuple | None:
        return args[0] if args else None

    def stmts(self, *args: object) -> list:
        if not args:
            return []
        acc, st = args
        if st is not None:
            acc.append(st)  # type: ignore[union-attr]
        return acc  # type: ignore[return-value]

    def file(self, stmts: list, last: tuple | None = None) -> list:
        if last is not None:
            stmts.append(last)
        return stmts


class _LexicalError(Exception):
    def __init__(self, line: int, column: int, near: str, message: str) -> None:
        self.line, self.column, self.near, self.message = line, column, near, message


def _store(settings: list[Setting], new: Setting) -> None:
    """Append *new*; for ``+=`` concatenate with the setting in force first
    (``xlu__cfg_set_store`` / ``xlu__cfg_concat_vals``)."""
    if new.op == "+=":
        prev = next((s for s in reversed(settings) if s.key == new.key), None)
        if prev is not None:
            old, add = prev.value, new.value
            if type(old) is not type(add):
                raise XlCfgError(
                    new.filename,
                    new.line,
                    new.column,
                    f"config parsing error near `{new.key}': "
                    'can\'t add [list] to "string" or vice versa',
                )
            if isinstance(old, Atom) and isinstance(add, Atom):
                merged: Value = Atom(old.text + add.text, "string", add.line, add.column)
            else:
                assert isinstance(old, ListValue) and isinstance(add, ListValue)
                merged = ListValue(old.items + add.items, add.line, add.column)
            new = Setting(new.key, merged, "+=", new.filename, new.line, new.column)
    settings.append(new)


_TOKEN_NAMES = {
    "IDENT": "identifier",
    "NUMBER": "number",
    "STRING": "string",
    "NEWLINE": "newline",
    "SEMICOLON": "`;'",
    "EQUAL": "`='",
    "PLUSEQ": "`+='",
    "LSQB": "`['",
    "RSQB": "`]'",
    "COMMA": "`,'",
    "$END": "end of file",
}
_EXPECT_ORDER = [
    "EQUAL",
    "PLUSEQ",
    "STRING",
    "NUMBER",
    "LSQB",
    "COMMA",
    "RSQB",
    "NEWLINE",
    "SEMICOLON",
    "IDENT",
    "$END",
]
_PYTHONISH = set("+-.():")


def _looks_like_python(text: str) -> bool:
    """xl's ``likely_python``: a ``+ - . ( ) :`` outside strings and comments."""
    stripped = re.sub(r"#[^\n]*|'([^'\\\n]|\\.)*'|\"([^\"\\\n]|\\.)*\"|\+=", "", text)
    return any(c in _PYTHONISH for c in stripped)


def _line_text(text: str, line: int) -> str:
    lines = text.split("\n")
    return lines[line - 1] if 0 < line <= len(lines) else ""


def _syntax_message(tok_type: str, expected: set[str]) -> str:
    msg = f"syntax error, unexpected {_TOKEN_NAMES.get(tok_type, tok_type)}"
    exp = [e for e in _EXPECT_ORDER if e in expected]
    if 0 < len(exp) <= 4:  # bison's %error-verbose stops listing after four
        msg += ", expecting " + " or ".join(_TOKEN_NAMES[e] for e in exp)
    if "RSQB" in expected and tok_type == "$END":
        msg += " (the list is not closed with `]')"
    elif "RSQB" in expected:
        msg += " (list items are separated by `,' and the list ends with `]')"
    elif expected <= {"EQUAL", "PLUSEQ"}:
        msg += " (every setting is KEY = VALUE)"
    return msg


def _near(text: str, line: int, column: int) -> str:
    """The blank-delimited run of text at the error (what flex's yymore eats)."""
    rest = _line_text(text, line)[column - 1 :]
    m = re.match(r"[^ \t\r\n]*", rest)
    return m.group() if m else ""


def _acceptable(e: UnexpectedToken) -> set[str]:
    """Exactly the tokens the parser could take here.

    LALR merges states, so ``e.expected`` over-approximates after a value;
    asking the interactive parser gives bison-like, precise lists.
    """
    ip = e.interactive_parser
    if ip is None:
        return set(e.expected)
    try:
        return set(ip.accepts())
    except LarkError:  # pragma: no cover - defensive; accepts() re-feeds tokens
        return set(e.expected)


def _error_from_lark(e: LarkError, text: str, filename: str) -> XlCfgError:
    hint = PYTHON_HINT if _looks_like_python(text) else None
    if isinstance(e, UnexpectedCharacters):
        line, col = e.line, e.column
        ch = text[e.pos_in_stream] if e.pos_in_stream < len(text) else ""
        if ch in "'\"":
            message = "unterminated string"
        else:
            message = "lexical error"
        near = _near(text, line, col)
        return XlCfgError(
            filename, line, col, f"config parsing error near `{near}': {message}", hint
        )
    if isinstance(e, UnexpectedToken):
        tok = e.token
        expected = _acceptable(e)
        if tok.type == "$END":
            # Report at the end of the last line, as xl does.
            lines = text.split("\n")
            line = len(lines)
            col = len(lines[-1]) + 1
            return XlCfgError(
                filename,
                line,
                col,
                "config parsing error near end of file: " + _syntax_message("$END", expected),
                hint,
            )
        if tok.type == "NEWLINE":
            return XlCfgError(
                filename,
                tok.line,
                tok.column,
                "config parsing error near <newline>: " + _syntax_message("NEWLINE", expected),
                hint,
            )
        return XlCfgError(
            filename,
            tok.line,
            tok.column,
            f"config parsing error near `{tok}': " + _syntax_message(tok.type, expected),
            hint,
        )
    if isinstance(e, UnexpectedEOF):  # not raised by LALR, kept for safety
        return XlCfgError(
            filename,
            text.count("\n") + 1,
            1,
            "config parsing error near end of file: syntax error",
            hint,
        )
    return XlCfgError(filename, 1, 1, f"config parsing error: {e}", hint)


def parse_xlcfg(text: str, filename: str = "<string>") -> RawConfig:
    """Parse xl.cfg *text* into a :class:`RawConfig`; raise :class:`XlCfgError`.

    *filename* is only used in messages (xl's ``config_source``).
    """
    try:
        stmts = _parser().parse(text)
    except _LexicalError as e:
        raise XlCfgError(
            filename, e.line, e.column, f"config parsing error near `{e.near}': {e.message}"
        ) from None
    except LarkError as e:
        inner = getattr(e, "orig_exc", None)
        if isinstance(inner, _LexicalError):
            raise XlCfgError(
                filename,
                inner.line,
                inner.column,
                f"config parsing error near `{inner.near}': {inner.message}",
            ) from None
        raise _error_from_lark(e, text, filename) from None
    settings: list[Setting] = []
    for key, op, value, line, col in stmts:
        _store(settings, Setting(key, value, op, filename, line, col))
    return RawConfig(filename, tuple(settings))

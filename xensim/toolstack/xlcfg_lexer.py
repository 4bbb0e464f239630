"""The xl.cfg lexer: bytes in, tokens out, exactly as libxlu's flex scanner cuts them.

Mirrors: tools/libs/util/libxlu_cfg_l.l (rules, the ``lexerr`` start condition with
``yymore``, ``yylineno``) and ``xlu__cfgl_dequote`` in libxlu_cfg.c.  Like flex with
``%option 8bit`` it reads bytes, so any file can be scanned; a byte that no rule wants
(an upper-case letter, ``_`` at the start of a key, ``\\r``, a non-ASCII byte outside a
string) starts a lexical error that runs to the next blank, and scanning goes on.

Flex picks the longest match and, on a tie, the earlier rule.  Here the first byte
decides which rule can win, so one alternation tried in a fixed order gives the same
cut; the order is commented where it matters.

Reproduced on purpose, because xl users see them: ``\\xHH`` always fails (the hex
branch skips a digit, so its bound can never be met), an octal escape needs two more
decimal digits and then vanishes from the string, and the message says "backlash".
Simplified: a string must be valid UTF-8 without NUL bytes (xensim keeps names and
paths as text; libxlu would keep the bytes, or assert on a NUL).
"""

from __future__ import annotations

import re
from collections.abc import Callable

__all__ = ["EOF", "TOKEN_NAMES", "Lexer", "Token"]

# Token numbers as bison numbers them (libxlu_cfg_y.y's %token order).
EOF, ERROR, IDENT, STRING, NUMBER, NEWLINE, OP_ADD, EQUAL, SEMI, LSQB, RSQB, COMMA = (
    0, 1, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
)
TOKEN_NAMES = {
    EOF: "$end", IDENT: "IDENT", STRING: "STRING", NUMBER: "NUMBER", NEWLINE: "NEWLINE",
    OP_ADD: "+=", EQUAL: "'='", SEMI: "';'", LSQB: "'['", RSQB: "']'", COMMA: "','",
}
"""Names as bison's ``%error-verbose`` prints them (``yytnamerr`` unquotes ``"+="``)."""

Token = tuple[int, bytes, int, object]
"""(token number, its text, its line as ``yylloc.first_line``, its value)."""

# One alternation; Python takes the first alternative that matches, which equals flex's
# longest-then-earliest choice because each alternative is the only candidate for its
# first byte, except where ordered: `#...\n` before the lone-byte error (a comment
# needs its newline), strings before it (an unclosed quote is an error), `+=` before
# the Python-ish bytes, and `,` before them (flex lists `,` first; `[+-.]` includes it).
_SCAN = re.compile(
    rb"(?P<ident>[a-z][._0-9a-z]*)"
    rb"|(?P<number>[0-9][0-9a-fx]*)"
    rb"|(?P<blank>[ \t]+)"
    rb"|(?P<newline>\n|\#[^\n]*\n)"
    rb"|(?P<string>'(?:[^'\\\n]|\\[^\n])*'|\"(?:[^\"\\\n]|\\[^\n])*\")"
    rb"|(?P<punct>\+=|[,\[\]=;])"
    rb"|(?P<python>[+\-.():])"
    rb"|(?P<other>[^\n])"
)
_PUNCT = {b"+=": OP_ADD, b",": COMMA, b"[": LSQB, b"]": RSQB, b"=": EQUAL, b";": SEMI}
# In the lexerr state: a blank, or a newline (which is also returned as NEWLINE), or
# the run of non-blanks (possibly empty at the end of the input).
_LEXERR = re.compile(rb"[ \t]|\n|[^ \t\n]*")
_SIMPLE_ESCAPES = {
    ord('"'): b'"', ord("'"): b"'", ord("\\"): b"\\", ord("a"): b"\a", ord("b"): b"\b",
    ord("f"): b"\f", ord("n"): b"\n", ord("r"): b"\r", ord("t"): b"\t", ord("v"): b"\v",
}
_STRTOUL = re.compile(rb"[ \t\n\v\f\r]*[+-]?[0-9]+")
"""What ``strtoul(numbuf, &ep, 10)`` consumes (blanks and a sign are allowed)."""


class Lexer:
    """Hands out tokens one at a time (bison's ``yylex``), reporting lexical errors.

    *report(text, line, message)* is libxlu's ``xlu__cfgl_lexicalerror``: it is called
    with the current ``yytext`` and ``yylineno``.  ``likely_python`` is set when a
    ``+ - . ( ) :`` started an error, as the flex rule does.
    """

    __slots__ = ("data", "pos", "lineno", "text", "eof_text", "likely_python", "_report",
                 "_quiet")

    def __init__(self, data: bytes, report: Callable[[bytes, int, str], None]) -> None:
        self.data = data
        self.pos = 0
        self.lineno = 1
        self.text = b""  # yytext of the last token, for yyerror's "near ..."
        self.eof_text = b"\0"  # yytext once the input is used up
        self.likely_python = False
        self._report = report
        self._quiet = False  # set once an error is recorded: no more dequote errors

    def silence_semantics(self) -> None:
        """libxlu skips string work once ``ctx->err`` is set; so do we."""
        self._quiet = True

    def next(self) -> Token:
        data = self.data
        while True:
            m = _SCAN.match(data, self.pos)
            if m is None:  # end of input: flex leaves a NUL in yytext
                self.text = self.eof_text
                return (EOF, b"", -1, None)
            kind = m.lastgroup
            text = m.group()
            self.pos = m.end()
            if kind == "blank":
                continue
            self.text = text
            if kind == "ident":
                return (IDENT, text, self.lineno, None)
            if kind == "number":
                return (NUMBER, text, self.lineno, None)
            if kind == "newline":
                self.lineno += 1
                return (NEWLINE, text, self.lineno - 1, None)
            if kind == "punct":
                return (_PUNCT[text], text, self.lineno, None)
            if kind == "string":
                return (STRING, text, self.lineno, self._dequote(text))
            if kind == "python":
                self.likely_python = True
            tok = self._lexerr(text)
            if tok is not None:
                return tok

    def _lexerr(self, start: bytes) -> Token | None:
        """The ``lexerr`` start condition: gather up to a blank, report, carry on."""
        m = _LEXERR.match(self.data, self.pos)
        assert m is not None  # the pattern can match the empty string
        more = m.group()
        self.pos = m.end()
        self.text = start + more
        if more == b"\n":
            self.lineno += 1
            self._report(self.text, self.lineno, "lexical error")
            return (NEWLINE, self.text, self.lineno, None)  # GOT(): yylineno, not -1
        if more or self.pos < len(self.data):
            self._report(self.text, self.lineno, "lexical error")
        else:  # flex meets the end of the input first: no report, and the text stays
            self.eof_text = self.text
        return None

    def _dequote(self, src: bytes) -> str | None:
        """``xlu__cfgl_dequote``, bugs included (see the module docstring)."""
        if self._quiet:
            return None
        if b"\\" not in src:
            return self._decoded(src, src[1:-1])
        out = bytearray()
        p, end = 1, len(src) - 1
        while p < end:
            c = src[p]
            p += 1
            if c != 0x5C:  # backslash
                out.append(c)
                continue
            nc = src[p]
            p += 1
            if nc in _SIMPLE_ESCAPES:
                out += _SIMPLE_ESCAPES[nc]
            elif nc == ord("x"):
                return self._bad_escape(src, "hex")  # see the module docstring
            elif ord("0") <= nc <= ord("7"):
                # strtoul(base 10) over at most three bytes after the first digit.
                m = _STRTOUL.match(src[p : p + 3].split(b"\0")[0])
                used = m.end() if m else 0
                if used <= 1:
                    return self._bad_escape(src, "octal")
                p += used  # the value is computed and dropped, as in libxlu
            else:
                self._report(
                    src, self.lineno, "invalid character after backlash in quoted string"
                )
                return None
        return self._decoded(src, bytes(out))

    def _bad_escape(self, src: bytes, base: str) -> None:
        self._report(
            src,
            self.lineno,
            f"invalid digit after backslash {base}numerical character escape in quoted string",
        )

    def _decoded(self, src: bytes, body: bytes) -> str | None:
        if 0 in body:
            self._report(src, self.lineno, "NUL byte in quoted string (xensim)")
            return None
        try:
            return body.decode("utf-8")
        except UnicodeDecodeError:
            self._report(src, self.lineno, "quoted string is not valid UTF-8 (xensim)")
            return None

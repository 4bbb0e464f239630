"""The xl.cfg reader: bytes in, ordered raw settings (with line numbers) out.

Mirrors: tools/libs/util/libxlu_cfg_y.y (the grammar, run here as the LALR automaton
bison builds from it, with bison's default reductions, ``error NEWLINE`` recovery and
``%error-verbose`` messages), libxlu_cfg_l.l (in :mod:`xensim.toolstack.xlcfg_lexer`)
and libxlu_cfg.c (``xlu__cfg_set_store`` for ``+=``, ``xlu__cfg_yyerror`` for the
report).  A file xl accepts gives the same settings here; a file xl refuses gives
xl's very lines, e.g.::

    vm.cfg:7: config parsing error near `[': syntax error, unexpected '[', expecting ...
    Failed to parse config: Invalid argument

including libxlu's quirks (an error at a newline is reported one line early and
reads ``near <newline>``; errors on a line that already had a lexical error are not
repeated).  Like libxlu this layer knows nothing about keys: a value is an *atom*
(text, with a kind tag) or a *list*; :mod:`xensim.toolstack.cfgvalue` converts.

The work is linear in the input: one regex step per token, one table step per
parser action, a dict from key to its last setting.  Lists may nest
:data:`MAX_NESTING` deep (xl's parser gives up near 5,000 levels with "memory
exhausted"; xensim stops far earlier so that nothing downstream recurses deeply).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from xensim.toolstack.xlcfg_lexer import (
    COMMA,
    EOF,
    EQUAL,
    ERROR,
    IDENT,
    LSQB,
    NEWLINE,
    NUMBER,
    OP_ADD,
    RSQB,
    SEMI,
    STRING,
    TOKEN_NAMES,
    Lexer,
)

__all__ = [
    "MAX_NESTING",
    "PARSE_FAILED",
    "PYTHON_HINT",
    "Atom",
    "ListValue",
    "RawConfig",
    "Setting",
    "Value",
    "XlCfgError",
    "parse_xlcfg",
]

MAX_NESTING = 64
"""Deepest list nesting xensim reads (xl reads at most two: ``vnuma``)."""

PYTHON_HINT = (
    "warning: Config file looks like it contains Python code.\n"
    "warning:  Arbitrary Python is no longer supported.\n"
    "warning:  See https://wiki.xen.org/wiki/PythonInXlConfig"
)
"""What libxlu prints after a parse error when the lexer saw Python-ish characters."""

PARSE_FAILED = "Failed to parse config: Invalid argument"
"""xl_parse.c's line after a failed ``xlu_cfg_readdata`` (then ``exit(1)``)."""


class XlCfgError(ValueError):
    """A config that xl refuses, at *filename*:*line*.

    A parse error carries *report*, the lines libxlu printed, and ``str()`` adds
    *trailer* (xl's ``Failed to parse config`` line); other errors read
    ``FILE:LINE: key: message``.  *column* is kept for callers but never printed:
    xl prints none.
    """

    def __init__(
        self,
        filename: str,
        line: int,
        column: int,
        message: str,
        hint: str | None = None,
        report: tuple[str, ...] = (),
        trailer: str | None = PARSE_FAILED,
    ) -> None:
        self.filename = filename
        self.line = line
        self.column = column
        self.message = message
        self.hint = hint
        self.report = report
        self.trailer = trailer
        super().__init__(str(self))

    def __str__(self) -> str:
        if self.report:
            return "\n".join((*self.report, *([self.trailer] if self.trailer else [])))
        head = f"{self.filename}:{self.line}: {self.message}"
        return f"{head}\n{self.hint}" if self.hint else head

    def __reduce__(self):  # keep pickling (multiprocessing) working
        return (
            XlCfgError,
            (self.filename, self.line, self.column, self.message, self.hint, self.report,
             self.trailer),
        )


@dataclass(frozen=True)
class Atom:
    """A scalar: xl keeps both strings and numbers as text (``kind`` says which)."""

    text: str
    kind: Literal["string", "number"]
    line: int = field(default=0, compare=False)
    column: int = field(default=0, compare=False)


@dataclass(frozen=True)
class ListValue:
    """A bracketed list; *line* is that of its ``[``."""

    items: tuple[Value, ...]
    line: int = field(default=0, compare=False)
    column: int = field(default=0, compare=False)


Value = Atom | ListValue


@dataclass(frozen=True)
class Setting:
    """One ``KEY = VALUE`` or ``KEY += VALUE``, after ``+=`` was applied.

    *value* is the effective value (for ``+=``, the concatenation with the earlier
    setting, as ``xlu__cfg_set_store`` does); *line* is the line of the value's
    first token, the line libxlu records and prints in its warnings.
    """

    key: str
    value: Value
    op: Literal["=", "+="]
    filename: str
    line: int
    column: int = 0


@dataclass(frozen=True)
class RawConfig:
    """The settings of one source, in the order they were read.

    As in libxlu, the *last* setting of a key is the one that counts.
    """

    filename: str
    settings: tuple[Setting, ...] = ()
    _last: dict[str, Setting] = field(default_factory=dict, init=False, repr=False,
                                      compare=False)

    def __post_init__(self) -> None:
        for s in self.settings:  # one pass: lookups stay O(1) however long the file
            self._last[s.key] = s

    def get(self, key: str) -> Setting | None:
        """The setting in force for *key* (the last one), or ``None``."""
        return self._last.get(key)

    def keys(self) -> list[str]:
        """Keys in order of first appearance, each once."""
        return list(dict.fromkeys(s.key for s in self.settings))

    def __contains__(self, key: object) -> bool:
        return key in self._last

    def extended(self, other: RawConfig) -> RawConfig:
        """Settings of *other* stored after ours, with ``+=`` applied across the two."""
        last = dict(self._last)
        settings = list(self.settings)
        for s in other.settings:
            settings.append(_stored(last, s))
        return RawConfig(self.filename, tuple(settings))


# ---------------------------------------------------------------------------
# The automaton bison builds from libxlu_cfg_y.y.  Rules, numbered as bison does:
#   2 file: stmts            3 file: stmts assignment     4 stmts: (empty)
#   5 stmts: stmts stmt      6 stmt: assignment endstmt   7 stmt: endstmt
#   8 stmt: error NEWLINE    9 assignment: IDENT '=' value
#  10 assignment: IDENT "+=" value                        11 endstmt: NEWLINE
#  12 endstmt: ';'          13 value: atom               14 value: '[' nlok valuelist ']'
#  15 atom: STRING          16 atom: NUMBER              17 valuelist: (empty)
#  18 valuelist: values     19 valuelist: values ',' nlok
#  20 values: value nlok    21 values: values ',' nlok value nlok
#  22 nlok: (empty)         23 nlok: nlok NEWLINE

_FILE, _STMTS, _STMT, _ASSIGNMENT, _ENDSTMT, _VALUE, _ATOM, _VALUELIST, _VALUES, _NLOK = range(10)
_RULES: dict[int, tuple[int, int]] = {  # rule -> (left-hand side, length of right-hand side)
    2: (_FILE, 1), 3: (_FILE, 2), 4: (_STMTS, 0), 5: (_STMTS, 2), 6: (_STMT, 2),
    7: (_STMT, 1), 8: (_STMT, 2), 9: (_ASSIGNMENT, 3), 10: (_ASSIGNMENT, 3),
    11: (_ENDSTMT, 1), 12: (_ENDSTMT, 1), 13: (_VALUE, 1), 14: (_VALUE, 4), 15: (_ATOM, 1),
    16: (_ATOM, 1), 17: (_VALUELIST, 0), 18: (_VALUELIST, 1), 19: (_VALUELIST, 3),
    20: (_VALUES, 2), 21: (_VALUES, 5), 22: (_NLOK, 0), 23: (_NLOK, 2),
}
_ACCEPT = 3  # the state reached by shifting $end
_LSQB_STATE = 17  # the state reached by shifting '['
# state -> {token: action}; a positive action shifts to that state, a negative one
# reduces by that rule.  Tokens not listed take the state's default (below).
_ACTIONS: dict[int, dict[int, int]] = {
    1: {EOF: 3},
    2: {EOF: -2, ERROR: 4, IDENT: 5, NEWLINE: 6, SEMI: 7},
    4: {NEWLINE: 11},
    5: {OP_ADD: 12, EQUAL: 13},
    9: {NEWLINE: 6, SEMI: 7},
    12: {STRING: 15, NUMBER: 16, LSQB: 17},
    13: {STRING: 15, NUMBER: 16, LSQB: 17},
    21: {STRING: 15, NUMBER: 16, NEWLINE: 22, LSQB: 17},
    24: {RSQB: 27},
    25: {COMMA: 28},
    26: {NEWLINE: 22},
    29: {STRING: 15, NUMBER: 16, NEWLINE: 22, LSQB: 17},
    31: {NEWLINE: 22},
}
# state -> rule reduced when the token has no entry (0: a syntax error).  A state
# without _ACTIONS reduces without reading a token, as bison's defaulted states do.
_DEFAULT = [4, 0, 0, 0, 0, 0, 11, 12, 5, 3, 7, 8, 0, 0, 6, 15, 16, 22, 10, 13, 9, 17,
            23, 22, 0, 18, 20, 14, 22, 19, 22, 21]
# nonterminal -> ({state below: state to go to}, default state)
_GOTO: dict[int, tuple[dict[int, int], int]] = {
    _FILE: ({}, 1), _STMTS: ({}, 2), _STMT: ({}, 8), _ASSIGNMENT: ({}, 9),
    _ENDSTMT: ({9: 14}, 10), _VALUE: ({13: 20, 21: 23, 29: 30}, 18), _ATOM: ({}, 19),
    _VALUELIST: ({}, 24), _VALUES: ({}, 25), _NLOK: ({23: 26, 28: 29, 30: 31}, 21),
}
_VALUE_RULES = frozenset((9, 10, 13, 14, 15, 16, 17, 18, 19, 20, 21))
"""Rules with an action (the others, such as ``stmts: stmts stmt``, carry no value)."""
_VERBOSE_MAX = 4  # bison lists at most four expected tokens, else none


def _syntax_message(state: int, token: int) -> str:
    """bison's ``yysyntax_error``: the tokens this state has an explicit action for."""
    msg = f"syntax error, unexpected {TOKEN_NAMES[token]}"
    expected = [t for t in sorted(_ACTIONS.get(state, {})) if t != ERROR]
    if 0 < len(expected) <= _VERBOSE_MAX:
        msg += ", expecting " + " or ".join(TOKEN_NAMES[t] for t in expected)
    return msg


class _TooDeep(Exception):
    def __init__(self, line: int) -> None:
        self.line = line


class _Parse:
    """One run of ``yyparse`` over one source, with libxlu's context (``ctx``)."""

    def __init__(self, data: bytes, filename: str) -> None:
        self.filename = filename
        self.report: list[str] = []  # the lines libxlu printed
        self.failed = False  # ctx->err
        self.lexerr_line = -1  # ctx->lexerrlineno
        self.first_error_line = 0
        self.lexer = Lexer(data, self._lexical_error)
        self.settings: list[Setting] = []
        self.last: dict[str, Setting] = {}

    # -- libxlu's reporting (xlu__cfg_yyerror, xlu__cfgl_lexicalerror) --------------

    def _yyerror(self, text: bytes, line: int, msg: str) -> None:
        if line <= self.lexerr_line:
            return
        newline = ""
        if text.endswith(b"\n"):
            text = text[:-1]
            line -= 1
            if not text:
                newline = "<newline>"
        text = text.rstrip(b" \t")
        shown = text.split(b"\0")[0].decode("utf-8", "backslashreplace")  # printf's %.*s
        near = f"`{shown}'" if text else ""
        self.report.append(
            f"{self.filename}:{line}: config parsing error near {near}{newline}: {msg}"
        )
        self._fail(line)

    def _lexical_error(self, text: bytes, lineno: int, msg: str) -> None:
        self._yyerror(text, lineno, msg)
        self.lexerr_line = lineno

    def _fail(self, line: int) -> None:
        if not self.failed:
            self.failed = True
            self.first_error_line = line
            self.lexer.silence_semantics()

    # -- semantic actions ---------------------------------------------------------

    def _store(self, name: bytes, op: Literal["=", "+="], value: Value, line: int) -> None:
        """``xlu__cfg_set_store``: ``+=`` joins the setting in force first."""
        setting = Setting(name.decode("ascii"), value, op, self.filename, line)
        try:
            setting = _stored(self.last, setting)
        except _ConcatError:
            self._lexical_error(self.lexer.text, self.lexer.lineno,
                                "can't add [list] to \"string\" or vice versa")
            return
        self.settings.append(setting)

    def _reduce(self, rule: int, vals: list, lines: list[int], n: int) -> tuple[object, int]:
        """Rule *rule*'s action over the top *n* values; returns ($$, @$.first_line)."""
        line = lines[-n] if n else lines[-1]
        if self.failed:  # libxlu builds nothing once ctx->err is set
            return None, line
        if rule in (15, 16):
            return vals[-1], line
        if rule == 13:  # atom: the lexer left (kind, text) for us
            kind, text = vals[-1]
            return Atom(text, kind, line), line
        if rule == 14:
            return ListValue(tuple(vals[-2]), line), line
        if rule == 17:
            return [], line
        if rule in (18, 19):
            return vals[-n], line
        if rule == 20:
            return [vals[-2]], line
        if rule == 21:
            vals[-5].append(vals[-2])
            return vals[-5], line
        if rule in (9, 10):
            self._store(vals[-3], "=" if rule == 9 else "+=", vals[-1], lines[-1])
        return None, line

    # -- yyparse ------------------------------------------------------------------

    def run(self) -> None:
        """Parse to the end (or to bison's abort); the outcome is in :meth:`result`."""
        try:
            self._run()
        except _TooDeep as e:
            self.report.append(
                f"{self.filename}:{e.line}: config parsing error near `[': lists nested "
                f"more than {MAX_NESTING} deep (xensim's limit)"
            )
            self._fail(e.line)

    def _run(self) -> None:
        states, vals, lines = [0], [None], [1]
        errstatus = 0  # yyerrstatus: tokens to shift before errors are reported again
        depth = 0
        tok: tuple | None = None
        last_line = 1  # yylloc: the lexer leaves it alone at the end of the input
        lexer = self.lexer
        reductions = {rule: (n, *_GOTO[lhs]) for rule, (lhs, n) in _RULES.items()}
        while True:
            state = states[-1]
            if state == _ACCEPT:
                return
            acts = _ACTIONS.get(state)
            if acts is None:
                action = -_DEFAULT[state]
            else:
                if tok is None:
                    tok = lexer.next()
                    if tok[2] >= 0:
                        last_line = tok[2]
                action = acts.get(tok[0], -_DEFAULT[state])
            if action > 0:  # shift
                if errstatus:
                    errstatus -= 1
                kind, text, _, value = tok  # type: ignore[misc]
                if kind == LSQB:
                    depth += 1
                    if depth > MAX_NESTING:
                        raise _TooDeep(last_line)
                elif kind == RSQB:
                    depth -= 1
                states.append(action)
                lines.append(last_line)
                if kind == STRING:
                    vals.append(("string", value))
                elif kind == NUMBER:
                    vals.append(("number", text.decode("ascii")))
                else:
                    vals.append(text)
                tok = None
            elif action < 0:  # reduce
                rule = -action
                n, gotos, default = reductions[rule]
                if rule in _VALUE_RULES:
                    value, line = self._reduce(rule, vals, lines, n)
                else:  # a rule without a value: only its location moves
                    value, line = None, lines[-n] if n else lines[-1]
                if n:
                    del states[-n:], vals[-n:], lines[-n:]
                states.append(gotos.get(states[-1], default))
                vals.append(value)
                lines.append(line)
            else:  # syntax error: report, then bison's `error NEWLINE' recovery
                assert tok is not None
                if not errstatus:
                    self._yyerror(lexer.text, last_line, _syntax_message(state, tok[0]))
                elif errstatus == 3:  # nothing shifted since the last error
                    if tok[0] == EOF:
                        return
                    tok = None  # discard the token that could not follow
                errstatus = 3
                while ERROR not in _ACTIONS.get(states[-1], {}):
                    if len(states) == 1:
                        return
                    if states.pop() == _LSQB_STATE:
                        depth -= 1
                    vals.pop(), lines.pop()
                states.append(_ACTIONS[states[-1]][ERROR])
                vals.append(None)
                lines.append(last_line)

    def result(self) -> RawConfig:
        if self.failed:
            if self.lexer.likely_python:
                self.report.extend(PYTHON_HINT.split("\n"))
            raise XlCfgError(self.filename, self.first_error_line, 0,
                             "config parsing error", report=tuple(self.report))
        return RawConfig(self.filename, tuple(self.settings))


class _ConcatError(Exception):
    pass


def _stored(last: dict[str, Setting], new: Setting) -> Setting:
    """*new*, with ``+=`` applied against the setting in force (``xlu__cfg_concat_vals``);
    records it in *last*."""
    if new.op == "+=":
        prev = last.get(new.key)
        if prev is not None:
            old, add = prev.value, new.value
            if isinstance(old, Atom) and isinstance(add, Atom):
                merged: Value = Atom(old.text + add.text, "string", add.line)
            elif isinstance(old, ListValue) and isinstance(add, ListValue):
                merged = ListValue(old.items + add.items, add.line)
            else:
                raise _ConcatError
            new = Setting(new.key, merged, "+=", new.filename, new.line)
    last[new.key] = new
    return new


def parse_xlcfg(data: str | bytes, filename: str = "<string>") -> RawConfig:
    """Parse xl.cfg *data* (bytes, as xl reads them) into a :class:`RawConfig`.

    Raise :class:`XlCfgError` with libxlu's report.  *filename* is only used in
    messages (xl's ``config_source``).
    """
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogateescape")
    parse = _Parse(data, filename)
    parse.run()
    return parse.result()

"""Run filter expressions, parsed into an AST and compiled to parameterised SQL.

Grammar (keywords case-insensitive)::

    expr       := or
    or         := and ("or" and)*
    and        := not ("and" not)*
    not        := "not" not | "(" expr ")" | comparison
    comparison := field op literal
    field      := name ("." key)*        e.g. params.optimizer.lr, summary.val/acc, status
    key        := [A-Za-z0-9_/:@+-]+ | `any text`
    op         := = | == | != | < | <= | > | >=
    literal    := number | 'text' | "text" | true | false

Fields: ``params.KEY`` (also ``config.KEY``), ``summary.KEY`` (the explicit summary, else
the last logged value of metric KEY), ``tags.KEY``, ``label`` (``label = 'x'``: the run has
label x), and the run's own ``id``, ``name``, ``experiment``, ``group``, ``status``,
``host``, ``world_size``, ``start_time``, ``end_time``, ``duration_s``. A comparison of a
param, summary or tag the run lacks, or of a different type (text against a number), is
false. Values are always bound as SQL parameters, never pasted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from trainwire.errors import InvalidQueryError

__all__ = ["Compare", "Logical", "Not", "compile_filter", "field_sql", "parse_filter"]

_TOKEN = re.compile(
    r"""\s*(?:
      (?P<num>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?(?![A-Za-z_]))
    | (?P<str>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
    | (?P<op>==|!=|<=|>=|<>|=|<|>)
    | (?P<paren>[()])
    | (?P<quoted>`[^`]*`)
    | (?P<dot>\.)
    | (?P<word>[A-Za-z0-9_/:@+\-]+)
    )""",
    re.VERBOSE,
)
_OPS = {"=": "=", "==": "=", "!=": "!=", "<>": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_COLUMNS = {
    "id": "r.run_id",
    "run_id": "r.run_id",
    "name": "coalesce(r.name, r.run_id)",
    "experiment": "r.experiment",
    "group": "r.group_name",
    "host": "r.host",
    "world_size": "r.world_size",
    "start_time": "r.start_time",
    "end_time": "r.end_time",
    "duration_s": "((r.end_time - r.start_time) / 1e9)",
}
_KEYED = {
    "params": "params",
    "param": "params",
    "config": "params",
    "summary": "summary",
    "summaries": "summary",
    "tags": "tags",
    "tag": "tags",
}
MAX_LENGTH = 4000


@dataclass(frozen=True)
class Compare:
    """``field op value``; ``field`` is the dotted path split into parts."""

    field: tuple[str, ...]
    op: str
    value: str | float | int | bool
    position: int


@dataclass(frozen=True)
class Logical:
    """``and`` / ``or`` of several expressions."""

    op: str
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    """``not`` an expression."""

    item: Node


Node = Compare | Logical | Not


@dataclass(frozen=True)
class _Tok:
    kind: str
    text: str
    pos: int


def _error(text: str, pos: int, message: str) -> InvalidQueryError:
    return InvalidQueryError(
        f"{message} at position {pos} of the filter:\n  {text}\n  {' ' * pos}^"
    )


def _tokens(text: str) -> list[_Tok]:
    out: list[_Tok] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if m is None or m.lastgroup is None:
            start = len(text) - len(text[pos:].lstrip())
            raise _error(text, start, f"unexpected character {text[start]!r}")
        start = m.start(m.lastgroup)
        out.append(_Tok(m.lastgroup, m.group(m.lastgroup), start))
        pos = m.end()
    return out


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.toks = _tokens(text)
        self.i = 0

    def peek(self) -> _Tok | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def next(self, what: str) -> _Tok:
        tok = self.peek()
        if tok is None:
            raise _error(self.text, len(self.text), f"expected {what}, the filter ended")
        self.i += 1
        return tok

    def keyword(self, word: str) -> bool:
        tok = self.peek()
        if tok is not None and tok.kind == "word" and tok.text.lower() == word:
            self.i += 1
            return True
        return False

    def parse(self) -> Node:
        node = self.or_()
        tok = self.peek()
        if tok is not None:
            raise _error(self.text, tok.pos, f"unexpected {tok.text!r}; expected 'and' or 'or'")
        return node

    def or_(self) -> Node:
        items = [self.and_()]
        while self.keyword("or"):
            items.append(self.and_())
        return items[0] if len(items) == 1 else Logical("or", tuple(items))

    def and_(self) -> Node:
        items = [self.not_()]
        while self.keyword("and"):
            items.append(self.not_())
        return items[0] if len(items) == 1 else Logical("and", tuple(items))

    def not_(self) -> Node:
        if self.keyword("not"):
            return Not(self.not_())
        tok = self.peek()
        if tok is not None and tok.kind == "paren" and tok.text == "(":
            self.i += 1
            node = self.or_()
            close = self.next("')'")
            if close.text != ")":
                raise _error(self.text, close.pos, f"expected ')', found {close.text!r}")
            return node
        return self.compare()

    def compare(self) -> Compare:
        first = self.next("a field such as params.lr or status")
        if first.kind not in ("word", "quoted") or first.text.lower() in ("and", "or"):
            raise _error(self.text, first.pos, f"expected a field, found {first.text!r}")
        parts = [_key(first)]
        while (tok := self.peek()) is not None and tok.kind in ("dot", "num"):
            if tok.kind == "num":  # ".0" after a key lexes as a number: it is key "0"
                if not re.fullmatch(r"\.\d+", tok.text):
                    break
                self.i += 1
                parts.append(tok.text[1:])
                continue
            self.i += 1
            part = self.next("a key after '.'")
            if part.kind not in ("word", "quoted", "num"):
                raise _error(self.text, part.pos, f"expected a key after '.', found {part.text!r}")
            parts.append(_key(part))
        field = _check_field(self.text, first.pos, tuple(parts))
        op = self.next("an operator (=, !=, <, <=, >, >=)")
        if op.kind != "op":
            raise _error(
                self.text, op.pos, f"expected an operator (=, !=, <, <=, >, >=), found {op.text!r}"
            )
        return Compare(field, _OPS[op.text], self.literal(), first.pos)

    def literal(self) -> str | float | int | bool:
        tok = self.next("a value (a number, 'text', true or false)")
        if tok.kind == "num":
            number = float(tok.text)
            if re.fullmatch(r"[-+]?\d+", tok.text) and abs(int(tok.text)) < 2**63:
                return int(tok.text)
            if number != number or number in (float("inf"), float("-inf")):
                raise _error(self.text, tok.pos, f"number {tok.text} is out of range")
            return number
        if tok.kind == "str":
            return re.sub(r"\\(.)", r"\1", tok.text[1:-1])
        if tok.kind == "word" and tok.text.lower() in ("true", "false"):
            return tok.text.lower() == "true"
        raise _error(
            self.text,
            tok.pos,
            f"expected a value (a number, 'quoted text', true or false), found {tok.text!r}",
        )


def _key(tok: _Tok) -> str:
    return tok.text[1:-1] if tok.kind == "quoted" else tok.text


def _check_field(text: str, pos: int, parts: tuple[str, ...]) -> tuple[str, ...]:
    head = parts[0].lower()
    if head in _KEYED:
        if len(parts) < 2:
            raise _error(text, pos, f"'{parts[0]}' needs a key, e.g. {parts[0]}.lr")
        return (_KEYED[head], ".".join(parts[1:]))
    if head in ("status", "label", "labels") or head in _COLUMNS:
        if len(parts) > 1:
            raise _error(text, pos, f"'{parts[0]}' has no keys")
        return ("label",) if head == "labels" else (head,)
    known = sorted({*_COLUMNS, "status", "label", "params", "summary", "tags"})
    raise _error(text, pos, f"unknown field {parts[0]!r}; use one of {', '.join(known)}")


def parse_filter(text: str) -> Node:
    """Parse a filter expression; raise InvalidQueryError naming the position of a mistake."""
    if len(text) > MAX_LENGTH:
        raise InvalidQueryError(f"filter is {len(text)} characters long; at most {MAX_LENGTH}")
    if not text.strip():
        raise InvalidQueryError("filter is empty; e.g. where=params.lr < 0.01")
    return _Parser(text).parse()


def compile_filter(node: Node, status_sql: str) -> tuple[str, list[Any]]:
    """SQL condition (over ``runs r``) and its parameters for a parsed filter."""
    args: list[Any] = []
    return _sql(node, status_sql, args), args


def _sql(node: Node, status_sql: str, args: list[Any]) -> str:
    if isinstance(node, Logical):
        return (
            "(" + f" {node.op.upper()} ".join(_sql(n, status_sql, args) for n in node.items) + ")"
        )
    if isinstance(node, Not):
        return f"(NOT coalesce({_sql(node.item, status_sql, args)}, 0))"
    head = node.field[0]
    if head == "label":
        args.append(str(node.value))
        exists = (
            "EXISTS (SELECT 1 FROM labels l"
            " WHERE l.run_id = r.run_id AND l.label = ? AND l.present)"
        )
        if node.op == "=":
            return exists
        if node.op == "!=":
            return f"(NOT {exists})"
        raise InvalidQueryError(f"label supports only = and !=, not {node.op}")
    # The field's SQL appears twice (type guard, comparison), so its parameters do too.
    guard = _type_guard(field_sql(node.field, status_sql, args), node.value)
    value_sql = field_sql(node.field, status_sql, args)
    args.append(int(node.value) if isinstance(node.value, bool) else node.value)
    return f"({guard} AND {value_sql} {node.op} ?)"


def field_sql(field: tuple[str, ...], status_sql: str, args: list[Any]) -> str:
    """SQL expression of one field's value for run ``r`` (NULL when the run lacks it)."""
    head = field[0]
    if head == "status":
        return status_sql
    if head in _COLUMNS:
        return _COLUMNS[head]
    key = field[1]
    if head == "params" or head == "tags":
        args.append(key)
        return (
            f"(SELECT CASE WHEN json_valid(k.value) THEN json_extract(k.value, '$') END"
            f" FROM {head} k WHERE k.run_id = r.run_id AND k.key = ?)"
        )
    # summary: the explicit value, else the metric's last logged value.
    args.extend((key, key, key))
    return (
        "coalesce((SELECT CASE WHEN json_valid(k.value) THEN json_extract(k.value, '$') END"
        " FROM summaries k WHERE k.run_id = r.run_id AND k.key = ?),"
        " (SELECT v FROM (SELECT p.time AS t, p.value AS v FROM resources rs"
        " JOIN series s ON s.resource_id = rs.id JOIN points p ON p.series_id = s.id"
        " WHERE rs.run_id = r.run_id AND s.name = ?"
        " UNION ALL SELECT c.last_time, c.last_value FROM resources rs"
        " JOIN series s ON s.resource_id = rs.id JOIN point_chunks c ON c.series_id = s.id"
        " WHERE rs.run_id = r.run_id AND s.name = ?) ORDER BY t DESC LIMIT 1))"
    )


def _type_guard(value_sql: str, value: Any) -> str:
    """Compare like with like: text only with text, numbers only with numbers."""
    if isinstance(value, str):
        return f"typeof({value_sql}) = 'text'"
    return f"typeof({value_sql}) IN ('integer', 'real')"

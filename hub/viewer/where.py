"""The ``where`` and ``orderby`` parameters of ``/filter``, parsed into parameterized SQL.

The Hub's viewer takes a SQL predicate: columns in double quotes (``"col"``, sub-fields as
``"col"."field"``), strings in single quotes (``''`` escapes a quote), numbers, ``true``,
``false``, ``null``; comparisons ``= <> != < <= > >=``, ``LIKE``/``ILIKE`` (with ``NOT``),
``IS [NOT] NULL``, ``IN (...)``; ``AND``, ``OR``, ``NOT`` and parentheses. datasets-server checks
the text against a regular expression and pastes it into its query; here it is parsed instead,
every column is checked against the split's schema and every literal becomes a ``?`` parameter,
so nothing of the request text reaches DuckDB as SQL.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from .errors import InvalidParameterError

MAX_CLAUSE_CHARS = 4096
MAX_DEPTH = 40
_TOKEN_RE = re.compile(
    r"""\s*(?:
        (?P<ident>"(?:[^"]|"")+")
      | (?P<string>'(?:[^']|'')*')
      | (?P<number>-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
      | (?P<op><=|>=|<>|!=|=|<|>|\(|\)|,|\.)
      | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
    )""",
    re.X,
)
_KEYWORDS = {
    "AND",
    "OR",
    "NOT",
    "IS",
    "NULL",
    "TRUE",
    "FALSE",
    "LIKE",
    "ILIKE",
    "IN",
    "ASC",
    "DESC",
}
_COMPARE = {"=", "<>", "!=", "<", "<=", ">", ">="}


@dataclass(frozen=True)
class Token:
    kind: str  # ident, string, number, op, word (upper-cased keyword), name (bare identifier)
    text: str
    value: Any = None


def tokenize(text: str, what: str) -> list[Token]:
    tokens, pos = [], 0
    stripped = text.rstrip()
    while pos < len(stripped):
        match = _TOKEN_RE.match(stripped, pos)
        if match is None or match.end() == pos:
            raise InvalidParameterError(
                f"Parameter '{what}' cannot be parsed at character {pos + 1}: {stripped[pos : pos + 20]!r}."
            )
        pos = match.end()
        kind = match.lastgroup or ""
        raw = match.group(kind)
        if kind == "ident":
            tokens.append(Token("ident", raw, raw[1:-1].replace('""', '"')))
        elif kind == "string":
            tokens.append(Token("string", raw, raw[1:-1].replace("''", "'")))
        elif kind == "number":
            value = float(raw) if any(c in raw for c in ".eE") else int(raw)
            tokens.append(Token("number", raw, value))
        elif kind == "word" and raw.upper() in _KEYWORDS:
            tokens.append(Token("word", raw.upper()))
        elif kind == "word":
            tokens.append(Token("name", raw, raw))
        else:
            tokens.append(Token("op", raw))
    return tokens


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class _Parser:
    def __init__(self, tokens: list[Token], schema: pa.Schema, what: str):
        self.tokens, self.pos, self.schema, self.what = tokens, 0, schema, what
        self.params: list[Any] = []

    # -- helpers -------------------------------------------------------------------------
    def peek(self, offset: int = 0) -> Token | None:
        i = self.pos + offset
        return self.tokens[i] if i < len(self.tokens) else None

    def is_word(self, word: str, offset: int = 0) -> bool:
        token = self.peek(offset)
        return token is not None and token.kind == "word" and token.text == word

    def is_op(self, op: str) -> bool:
        token = self.peek()
        return token is not None and token.kind == "op" and token.text == op

    def take(self) -> Token:
        token = self.peek()
        if token is None:
            raise self.error("ends too early")
        self.pos += 1
        return token

    def expect_op(self, op: str) -> None:
        if not self.is_op(op):
            raise self.error(f"expects {op!r}")
        self.pos += 1

    def error(self, message: str) -> InvalidParameterError:
        token = self.peek()
        near = f" near {token.text!r}" if token is not None else ""
        return InvalidParameterError(f"Parameter '{self.what}' {message}{near}.")

    # -- grammar -------------------------------------------------------------------------
    def column(self) -> str:
        token = self.take()
        if token.kind not in ("ident", "name"):
            self.pos -= 1
            raise self.error('expects a column name in double quotes, e.g. "text"')
        name = token.value
        if token.kind == "name" and self.is_op("("):
            self.pos -= 1
            raise self.error(
                "calls a function: only comparisons of columns with values are allowed"
            )
        if self.schema.get_field_index(name) < 0:
            known = ", ".join(self.schema.names)
            raise InvalidParameterError(
                f"Parameter '{self.what}' names column {name!r}, which the split does not have "
                f"(columns: {known})."
            )
        field_type = self.schema.field(name).type
        sql = quote_ident(name)
        while self.is_op("."):
            self.pos += 1
            sub = self.take()
            if sub.kind not in ("ident", "name") or not pa.types.is_struct(field_type):
                raise self.error("uses '.' on a column that has no sub-fields")
            index = field_type.get_field_index(sub.value)
            if index < 0:
                raise self.error(f"names sub-field {sub.value!r}, which does not exist")
            field_type = field_type.field(index).type
            sql += "." + quote_ident(sub.value)
        return sql

    def literal(self) -> str:
        token = self.take()
        if token.kind in ("string", "number"):
            self.params.append(token.value)
            return "?"
        if token.kind == "word" and token.text in ("TRUE", "FALSE"):
            self.params.append(token.text == "TRUE")
            return "?"
        if token.kind == "word" and token.text == "NULL":
            return "NULL"
        self.pos -= 1
        raise self.error("expects a value: a 'string', a number, true, false or null")

    def comparison(self) -> str:
        col = self.column()
        if self.is_word("IS"):
            self.pos += 1
            negate = self.is_word("NOT")
            self.pos += int(negate)
            if not self.is_word("NULL"):
                raise self.error("expects NULL after IS")
            self.pos += 1
            return f"{col} IS {'NOT ' if negate else ''}NULL"
        negate = self.is_word("NOT")
        self.pos += int(negate)
        token = self.take()
        prefix = "NOT " if negate else ""
        if token.kind == "word" and token.text in ("LIKE", "ILIKE"):
            pattern = self.take()
            if pattern.kind != "string":
                raise self.error(f"expects a 'pattern' after {token.text}")
            self.params.append(pattern.value)
            return f"{col} {prefix}{token.text} ?"
        if token.kind == "word" and token.text == "IN":
            self.expect_op("(")
            values = [self.literal()]
            while self.is_op(","):
                self.pos += 1
                values.append(self.literal())
            self.expect_op(")")
            return f"{col} {prefix}IN ({', '.join(values)})"
        if negate or token.kind != "op" or token.text not in _COMPARE:
            self.pos -= 1
            raise self.error("expects an operator (=, <>, <, <=, >, >=, LIKE, ILIKE, IN, IS)")
        op = "<>" if token.text == "!=" else token.text
        return f"{col} {op} {self.literal()}"

    def primary(self, depth: int) -> str:
        if depth > MAX_DEPTH:
            raise self.error("is nested too deeply")
        if self.is_op("("):
            self.pos += 1
            inner = self.or_expr(depth + 1)
            self.expect_op(")")
            return f"({inner})"
        if self.is_word("NOT"):
            self.pos += 1
            return f"NOT {self.primary(depth + 1)}"
        return self.comparison()

    def and_expr(self, depth: int) -> str:
        parts = [self.primary(depth)]
        while self.is_word("AND"):
            self.pos += 1
            parts.append(self.primary(depth))
        return " AND ".join(parts)

    def or_expr(self, depth: int) -> str:
        parts = [self.and_expr(depth)]
        while self.is_word("OR"):
            self.pos += 1
            parts.append(self.and_expr(depth))
        return " OR ".join(parts)

    def orderby(self) -> str:
        items = []
        while True:
            col = self.column()
            direction = ""
            if self.is_word("ASC") or self.is_word("DESC"):
                direction = " " + self.take().text
            items.append(col + direction)
            if not self.is_op(","):
                return ", ".join(items)
            self.pos += 1


def _check_length(text: str, what: str) -> None:
    if len(text) > MAX_CLAUSE_CHARS:
        raise InvalidParameterError(
            f"Parameter '{what}' is longer than {MAX_CLAUSE_CHARS} characters."
        )


def parse_where(text: str, schema: pa.Schema) -> tuple[str, list[Any]]:
    """SQL (with ``?`` placeholders) and parameters for a ``where`` clause; 422 when invalid."""
    _check_length(text, "where")
    parser = _Parser(tokenize(text, "where"), schema, "where")
    if not parser.tokens:
        raise InvalidParameterError("Parameter 'where' is empty.")
    sql = parser.or_expr(0)
    if parser.peek() is not None:
        raise parser.error("has unexpected text after the condition")
    return sql, parser.params


def parse_orderby(text: str, schema: pa.Schema) -> str:
    """SQL for an ``orderby`` parameter (``"col" [ASC|DESC]``, comma-separated)."""
    _check_length(text, "orderby")
    parser = _Parser(tokenize(text, "orderby"), schema, "orderby")
    if not parser.tokens:
        raise InvalidParameterError("Parameter 'orderby' is empty.")
    sql = parser.orderby()
    if parser.peek() is not None:
        raise parser.error("has unexpected text after the columns")
    return sql

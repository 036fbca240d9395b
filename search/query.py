"""The query language, parsed once for every backend.

    words "exact phrases" prefix* AND OR NOT -word (groups)
    type:invoice customer:C-1042 order:PO-4711 date:2024-07-01..2024-09-30 amount:>10000 filed:2025 status:active

Juxtaposition means AND; NOT binds tighter than AND, AND tighter than OR. Anything else, including raw engine syntax
(`*:*`, JSON, FTS5 operators), is plain text. A syntax error names its position.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Union

from archive.errors import InvalidInput
from search.normalize import fold, identifier_key, words

MAX_QUERY_CHARS = 1000
STATUSES = ("active", "on_hold", "disposed", "restricted")
_IDENTIFIER = re.compile(r"^(?=.*\d)\w+(?:[-/._]\w+)+$|^\d{4,}$|^(?=.*\d)(?=.*[^\W\d_])\w{3,}$", re.UNICODE)


class QuerySyntaxError(InvalidInput):
    code = "query_syntax"

    def __init__(self, message: str, position: int) -> None:
        super().__init__(f"{message} (at position {position})", code="query_syntax", position=position)


@dataclass(frozen=True)
class Term:
    word: str
    prefix: bool = False


@dataclass(frozen=True)
class Phrase:
    words: tuple[str, ...]


@dataclass(frozen=True)
class Identifier:
    """An order, invoice or customer number as typed; matches identifier keys, or its words as a phrase."""

    key: str
    words: tuple[str, ...]


@dataclass(frozen=True)
class Filter:
    """field is one of type, customer, order, status (value) or date, filed, amount (lo/hi range)."""

    field: str
    value: str | None = None
    lo: date | Decimal | None = None
    hi: date | Decimal | None = None
    lo_inclusive: bool = True
    hi_inclusive: bool = True


@dataclass(frozen=True)
class And:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    item: Node


Node = Union[Term, Phrase, Identifier, Filter, And, Or, Not]
FIELDS = ("type", "customer", "order", "date", "filed", "amount", "status")


def parse(text: str) -> Node | None:
    """None when the query has nothing to search for (only punctuation): it then matches nothing."""
    if not text or not text.strip():
        raise InvalidInput("q: the query is empty", code="empty_query", field="q")
    if len(text) > MAX_QUERY_CHARS:
        raise InvalidInput(f"q: the query is longer than {MAX_QUERY_CHARS} characters", code="query_too_long",
                           field="q")
    parser = _Parser(_tokens(text), len(text))
    node = parser.or_expr()
    if parser.peek() is not None:
        token = parser.peek()
        raise QuerySyntaxError(f"unexpected {token.text!r}", token.position)
    return node


@dataclass(frozen=True)
class _Token:
    kind: str  # word, phrase, lparen, rparen, and, or, not, minus
    text: str
    position: int


def _tokens(text: str) -> list[_Token]:
    tokens, i = [], 0
    while i < len(text):
        char = text[i]
        if char.isspace():
            i += 1
        elif char in "()":
            tokens.append(_Token("lparen" if char == "(" else "rparen", char, i))
            i += 1
        elif char == '"':
            end = text.find('"', i + 1)
            if end < 0:
                raise QuerySyntaxError("unbalanced quote", i)
            tokens.append(_Token("phrase", text[i + 1:end], i))
            i = end + 1
        elif char == "-" and i + 1 < len(text) and not text[i + 1].isspace() and text[i + 1] != "-" \
                and (i == 0 or text[i - 1].isspace() or text[i - 1] == "("):
            tokens.append(_Token("minus", char, i))
            i += 1
        else:
            end = i
            while end < len(text) and not text[end].isspace() and text[end] not in '()"':
                end += 1
            word = text[i:end]
            kind = {"AND": "and", "OR": "or", "NOT": "not"}.get(word, "word")
            tokens.append(_Token(kind, word, i))
            i = end
    return tokens


class _Parser:
    def __init__(self, tokens: list[_Token], length: int) -> None:
        self.tokens, self.index, self.length = tokens, 0, length

    def peek(self) -> _Token | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def take(self) -> _Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def or_expr(self) -> Node | None:
        items = [self.and_expr()]
        while (token := self.peek()) is not None and token.kind == "or":
            self.take()
            items.append(self.and_expr(after=token))
        return _combine(Or, items)

    def and_expr(self, after: _Token | None = None) -> Node | None:
        items = []
        while (token := self.peek()) is not None and token.kind not in ("or", "rparen"):
            if token.kind == "and":
                self.take()
                after = token
                continue
            items.append(self.unary())
            after = None
        if after is not None or (not items and self.peek() is not None):
            where = self.peek().position if self.peek() else self.length
            raise QuerySyntaxError("an operator needs something to its right", where)
        if not items and self.peek() is None and self.index > 0 and self.tokens[self.index - 1].kind == "or":
            raise QuerySyntaxError("an operator needs something to its right", self.length)
        return _combine(And, items)

    def unary(self) -> Node | None:
        token = self.take()
        if token.kind in ("not", "minus"):
            if self.peek() is None or self.peek().kind in ("rparen", "or", "and"):
                raise QuerySyntaxError(f"{token.text} needs something to negate", token.position)
            inner = self.unary()
            return Not(inner) if inner is not None else None
        if token.kind == "lparen":
            inner = self.or_expr()
            closing = self.peek()
            if closing is None or closing.kind != "rparen":
                raise QuerySyntaxError("unbalanced parenthesis", token.position)
            self.take()
            return inner
        if token.kind == "rparen":
            raise QuerySyntaxError("unbalanced parenthesis", token.position)
        if token.kind == "phrase":
            found = tuple(words(token.text))
            return Phrase(found) if len(found) > 1 else (Term(found[0]) if found else None)
        return _word(token)


def _combine(kind: type, items: list[Node | None]) -> Node | None:
    kept = [i for i in items if i is not None]
    if not kept:
        return None
    return kept[0] if len(kept) == 1 else kind(tuple(kept))


def _word(token: _Token) -> Node | None:
    name, colon, value = token.text.partition(":")
    if colon and name.lower() in FIELDS:
        if not value:
            raise QuerySyntaxError(f"{name}: needs a value", token.position)
        return _filter(name.lower(), value, token.position + len(name) + 1)
    raw = token.text
    prefix = raw.endswith("*") and len(raw) > 1
    found = words(raw.rstrip("*"))
    if _IDENTIFIER.match(raw.rstrip("*")):
        return Identifier(identifier_key(raw), tuple(found))
    if not found:
        return None
    terms = [Term(w) for w in found[:-1]] + [Term(found[-1], prefix=prefix)]
    return terms[0] if len(terms) == 1 else Phrase(tuple(t.word for t in terms)) if not prefix else And(tuple(terms))


def _filter(field: str, value: str, position: int) -> Filter:
    if field in ("type", "status"):
        folded = fold(value).replace("-", "_")
        if field == "status" and folded not in STATUSES:
            raise QuerySyntaxError(f"status: must be one of {', '.join(STATUSES)}", position)
        return Filter(field, value=folded)
    if field in ("customer", "order"):
        return Filter(field, value=identifier_key(value))
    if field == "amount":
        return _range(field, value, position, _decimal)
    return _range(field, value, position, _date_bounds)


def _range(field: str, value: str, position: int, convert) -> Filter:
    for op in (">=", "<=", ">", "<"):
        if value.startswith(op):
            bound = convert(value[len(op):], position, low=op[0] == ">")
            if op[0] == ">":
                return Filter(field, lo=bound, lo_inclusive=op == ">=")
            return Filter(field, hi=bound, hi_inclusive=op == "<=")
    if ".." in value:
        low, _, high = value.partition("..")
        return Filter(field, lo=convert(low, position, low=True) if low else None,
                      hi=convert(high, position, low=False) if high else None)
    return Filter(field, lo=convert(value, position, low=True), hi=convert(value, position, low=False))


def _decimal(text: str, position: int, low: bool) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise QuerySyntaxError(f"amount: {text!r} is not a number", position) from None
    if not value.is_finite():
        raise QuerySyntaxError(f"amount: {text!r} is not a number", position)
    return value


def _date_bounds(text: str, position: int, low: bool) -> date:
    """YYYY, YYYY-MM or YYYY-MM-DD; a year or month stands for its first day (low) or last day (high)."""
    try:
        parts = [int(p) for p in text.split("-")]
        if len(parts) == 1:
            return date(parts[0], 1, 1) if low else date(parts[0], 12, 31)
        if len(parts) == 2:
            if low:
                return date(parts[0], parts[1], 1)
            following = date(parts[0] + parts[1] // 12, parts[1] % 12 + 1, 1)
            return date.fromordinal(following.toordinal() - 1)
        if len(parts) == 3:
            return date(*parts)
    except ValueError:
        pass
    raise QuerySyntaxError(f"{text!r} is not a date (YYYY, YYYY-MM or YYYY-MM-DD)", position)

"""From the query AST to one FTS5 MATCH expression, a rowid range and residual SQL (the FTS5 backend's planner).

Every word reaches MATCH only as an FTS5 string ("..." with quotes doubled, prefix as "..."*); filters on type,
status, customer and order are marked tokens of the `meta` column and identifiers marked tokens of `ids`
(search.fts5_text), so they combine with text under AND, OR and NOT inside FTS5, and no word can reach them. A date
filter at the top level is a rowid range (search.fts5_rowid), which FTS5 seeks to.
What FTS5 cannot say (amount and filed ranges, dates below an OR or NOT) is SQL over the `docs` table `d`, with the
text parts as `d.n IN (SELECT rowid FROM fts WHERE fts MATCH ?)`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any

from search.fts5_rowid import MAX_ROWID, date_range
from search.fts5_text import ALL_TOKEN, id_token, meta_token
from search.query import And, Filter, Identifier, Node, Not, Phrase, Term

META_PREFIX = {"type": "t", "status": "s", "customer": "c", "order": "o"}


@dataclass
class Plan:
    match: str | None = None          # FTS5 expression, None when there is no text or token condition
    lo: int = 0                       # rowid range (inclusive), from date filters at the top level
    hi: int = MAX_ROWID
    where: list[str] = field(default_factory=list)   # residual SQL over docs d, ANDed
    params: list[Any] = field(default_factory=list)
    scored: bool = False              # the expression has words: BM25 ranks; otherwise every score is 0
    words: set[str] = field(default_factory=set)     # for snippets: exact words and prefixes (not negated)
    prefixes: set[str] = field(default_factory=set)


def fts_string(text: str, prefix: bool = False) -> str:
    return '"' + text.replace('"', '""') + '"' + ("*" if prefix else "")


def plan(root: Node | None) -> Plan | None:
    """None when nothing can match (no query, or an empty date range)."""
    if root is None:
        return None
    result = Plan()
    items = root.items if isinstance(root, And) else (root,)
    fts_pos, fts_neg = [], []
    for item in items:
        if isinstance(item, Filter) and item.field == "date":
            lo, hi = _dates(item)
            result.lo, result.hi = max(result.lo, lo), min(result.hi, hi)
            continue
        kind, expr, params = _compile(item, result, negated=False)
        if kind == "fts":
            fts_pos.append(expr)
        elif kind == "neg":
            fts_neg.append(expr)
        else:
            result.where.append(expr)
            result.params += params
    result.match = _conjunction(fts_pos, fts_neg)
    return None if result.lo > result.hi else result


def _conjunction(positive: list[str], negative: list[str]) -> str | None:
    if not positive and not negative:
        return None
    head = " AND ".join(f"({p})" for p in positive) if positive else fts_string(ALL_TOKEN)
    return head + "".join(f" NOT ({n})" for n in negative)


def _compile(node: Node, out: Plan, negated: bool) -> tuple[str, str, list[Any]]:
    """("fts", expr, []) | ("neg", expr, []) (an FTS expression to subtract) | ("sql", expr, params)."""
    if isinstance(node, (Term, Phrase, Identifier)):
        if not negated:
            _collect_words(node, out)
        out.scored = out.scored or not negated
        return "fts", _text(node), []
    if isinstance(node, Filter):
        return _filter(node)
    if isinstance(node, Not):
        kind, expr, params = _compile(node.item, out, not negated)
        if kind == "fts":
            return "neg", expr, []
        if kind == "neg":
            return "fts", expr, []
        return "sql", f"NOT ({expr})", params
    parts = [_compile(item, out, negated) for item in node.items]
    if isinstance(node, And):
        return _and(parts)
    return _or(parts)


def _and(parts: list[tuple[str, str, list[Any]]]) -> tuple[str, str, list[Any]]:
    pos = [e for k, e, _ in parts if k == "fts"]
    neg = [e for k, e, _ in parts if k == "neg"]
    sql = [(e, p) for k, e, p in parts if k == "sql"]
    if not sql:
        return ("fts", _conjunction(pos, neg), []) if pos else ("neg", _disjunction(neg), [])
    exprs, params = [e for e, _ in sql], [v for _, p in sql for v in p]
    if pos or neg:
        exprs.insert(0, "d.n IN (SELECT rowid FROM fts WHERE fts MATCH ?)")
        params.insert(0, _conjunction(pos, neg))
    return "sql", " AND ".join(f"({e})" for e in exprs), params


def _or(parts: list[tuple[str, str, list[Any]]]) -> tuple[str, str, list[Any]]:
    parts = [("fts", _conjunction([], [e]), []) if k == "neg" else (k, e, p) for k, e, p in parts]
    if all(k == "fts" for k, _, _ in parts):
        return "fts", _disjunction([e for _, e, _ in parts]), []
    exprs, params = [], []
    for kind, expr, values in parts:
        if kind == "sql":
            exprs.append(expr)
            params += values
        else:
            exprs.append("d.n IN (SELECT rowid FROM fts WHERE fts MATCH ?)")
            params.append(expr)
    return "sql", " OR ".join(f"({e})" for e in exprs), params


def _disjunction(exprs: list[str]) -> str:
    return " OR ".join(f"({e})" for e in exprs)


def _text(node: Term | Phrase | Identifier) -> str:
    if isinstance(node, Term):
        return fts_string(node.word, node.prefix)
    if isinstance(node, Phrase):
        return fts_string(" ".join(node.words))
    options = [fts_string(id_token(node.key))] if node.key else []
    if node.words:
        options.append(fts_string(" ".join(node.words)))
    return " OR ".join(options) or fts_string("")


def _collect_words(node: Term | Phrase | Identifier, out: Plan) -> None:
    if isinstance(node, Term) and node.prefix:
        out.prefixes.add(node.word)
    else:
        out.words.update((node.word,) if isinstance(node, Term) else node.words)


def _filter(node: Filter) -> tuple[str, str, list[Any]]:
    if node.field in META_PREFIX:
        return "fts", fts_string(meta_token(META_PREFIX[node.field], node.value or "")), []
    if node.field == "date":
        return "sql", "d.n BETWEEN ? AND ?", list(_dates(node))
    column = "d.filed_day" if node.field == "filed" else "d.amount"
    convert = (lambda d: d.toordinal()) if node.field == "filed" else float
    exprs, params = [], []
    if node.lo is not None:
        exprs.append(f"{column} >{'=' if node.lo_inclusive else ''} ?")
        params.append(convert(node.lo))
    if node.hi is not None:
        exprs.append(f"{column} <{'=' if node.hi_inclusive else ''} ?")
        params.append(convert(node.hi))
    return "sql", f"coalesce({' AND '.join(exprs) or column + ' IS NOT NULL'}, 0)", params


def _dates(node: Filter) -> tuple[int, int]:
    """The filter's rowid range; empty (lo > hi) when the dates exclude each other."""
    try:
        lo = node.lo + timedelta(days=0 if node.lo_inclusive else 1) if node.lo is not None else None
        hi = node.hi - timedelta(days=0 if node.hi_inclusive else 1) if node.hi is not None else None
    except OverflowError:
        return 1, 0
    if lo is not None and hi is not None and lo > hi:
        return 1, 0
    return date_range(lo, hi)


def amount_value(amount: Decimal | None) -> float | None:
    """The amount as stored and compared; none for what no float holds (NaN, Infinity, 1E+400), which no amount
    filter should match."""
    value = float(amount) if amount is not None else None
    return value if value is not None and math.isfinite(value) else None

"""Highlighted snippets computed from the original text, the same way for every backend.

Only the few returned hits get a snippet, so this is cheap; it also keeps highlighting independent of which
analysis modules a cluster has. Everything outside the marks is HTML-escaped.
"""
from __future__ import annotations

import html
import re

from search.normalize import fold
from search.query import And, Identifier, Node, Or, Phrase, Term

_TOKEN = re.compile(r"\w+", re.UNICODE)
WINDOW = 24  # tokens


def query_terms(node: Node | None) -> tuple[set[str], set[str]]:
    """(words, prefixes) a snippet should mark: positive terms only, not what the query excludes."""
    words: set[str] = set()
    prefixes: set[str] = set()
    _collect(node, words, prefixes)
    return words, prefixes


def _collect(node: Node | None, words: set[str], prefixes: set[str]) -> None:
    if isinstance(node, Term):
        (prefixes if node.prefix else words).add(node.word)
    elif isinstance(node, (Phrase, Identifier)):
        words.update(node.words)
    elif isinstance(node, (And, Or)):
        for item in node.items:
            _collect(item, words, prefixes)
    # Not and Filter contribute nothing to highlight


def snippet(text: str, words: set[str], prefixes: set[str], window: int = WINDOW) -> str:
    tokens = list(_TOKEN.finditer(text))
    if not tokens:
        return html.escape(text[:200])
    hits = [i for i, t in enumerate(tokens) if _matches(fold(t.group()), words, prefixes)]
    start = _best_window(hits, len(tokens), window)
    end = min(len(tokens), start + window)
    out, position = [], tokens[start].start()
    for token in tokens[start:end]:
        if token.start() > position:
            out.append(html.escape(text[position:token.start()]))
        piece = html.escape(token.group())
        out.append(f"<mark>{piece}</mark>" if _matches(fold(token.group()), words, prefixes) else piece)
        position = token.end()
    prefix = "… " if start > 0 else ""
    suffix = " …" if end < len(tokens) else ""
    return prefix + "".join(out) + suffix


def _matches(folded: str, words: set[str], prefixes: set[str]) -> bool:
    return folded in words or any(folded.startswith(p) for p in prefixes)


def _best_window(hits: list[int], count: int, window: int) -> int:
    """The start of the window holding the most matches (the first such), a little before the first of them."""
    if not hits:
        return 0
    best, best_count, right = hits[0], 0, 0
    for left, first in enumerate(hits):
        while right < len(hits) and hits[right] < first + window:
            right += 1
        if right - left > best_count:
            best, best_count = first, right - left
    return max(0, min(best - 3, count - window))

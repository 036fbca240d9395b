"""Highlighted snippets computed from the original text, the same way for every backend.

Only the returned hits get a snippet, and it keeps highlighting independent of which analysis modules a cluster has.
A snippet is a passage of about SNIPPET_CHARS around the first match, matches in <mark>, everything else
HTML-escaped. Matching does what search does: the query's words are folded (search.normalize.fold), and so is every
token of the text that could match, so `strasse` marks `Straße`.
"""
from __future__ import annotations

import functools
import html
import re
from typing import Iterable, Iterator

from search.normalize import fold
from search.query import And, Identifier, Node, Or, Phrase, Term

SNIPPET_CHARS = 200
SNIPPET_LEAD = 60
SNIPPET_SCAN_CHARS = 200_000
_WORD = re.compile(r"\w+", re.UNICODE)
_NON_ASCII_LETTER = re.compile(r"[^\W\x00-\x7f]")
_fold_token = functools.lru_cache(maxsize=65536)(fold)


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


class Marker:
    """Finds a query's words in original text: a regular expression finds ASCII tokens, and only tokens with a
    non-ASCII letter are folded one by one (`Straße` for strasse): an ASCII token folds by lower() alone."""

    def __init__(self, exact: Iterable[str], prefixes: Iterable[str]) -> None:
        self.exact, self.prefixes = frozenset(exact), tuple(sorted(prefixes))
        parts = [re.escape(w) + r"\b" for w in sorted(self.exact) if w.isascii()] + \
                [re.escape(p) + r"\w*" for p in self.prefixes if p.isascii()]
        self.fast = re.compile(r"\b(?:" + "|".join(parts) + ")", re.IGNORECASE) if parts else None

    def first(self, text: str) -> int | None:
        limit = min(len(text), SNIPPET_SCAN_CHARS)
        fast = self.fast.search(text, 0, limit) if self.fast is not None else None
        end = fast.start() if fast is not None else limit
        for match in _non_ascii_words(text, end):
            if self._folded_hit(match.group()):
                return match.start()
        return end if fast is not None else None

    def spans(self, text: str) -> list[tuple[int, int]]:
        found = [m.span() for m in self.fast.finditer(text)] if self.fast is not None else []
        found += [m.span() for m in _non_ascii_words(text, len(text)) if self._folded_hit(m.group())]
        return sorted(set(found))  # a token starting in ASCII may be found both ways

    def _folded_hit(self, token: str) -> bool:
        key = _fold_token(token)
        return key in self.exact or (bool(self.prefixes) and key.startswith(self.prefixes))


def _non_ascii_words(text: str, end: int) -> Iterator[re.Match]:
    """The words (\\w+) of text[:end] that hold a non-ASCII letter: the only ones lower() does not fold."""
    at = 0
    for letter in _NON_ASCII_LETTER.finditer(text, 0, end):
        if letter.start() < at:
            continue
        begin = letter.start()
        while begin > 0 and (text[begin - 1].isalnum() or text[begin - 1] == "_"):
            begin -= 1
        word = _WORD.match(text, begin)
        if word is not None:
            at = word.end()
            yield word


def snippet(text: str, marker: Marker) -> str:
    """A passage around the first match, matches in <mark>, everything else HTML-escaped."""
    found = marker.first(text) if marker.exact or marker.prefixes else None
    start = 0 if found is None or found < SNIPPET_LEAD else text.rfind(" ", 0, found - SNIPPET_LEAD) + 1
    end = start + SNIPPET_CHARS
    if end < len(text):
        end = max(text.rfind(" ", start, end), (found or 0) + 1, start + SNIPPET_CHARS // 2)
    passage, out, at = text[start:end], [], 0
    for left, right in marker.spans(passage) if found is not None else ():
        if left >= at:
            out += [html.escape(passage[at:left]), "<mark>", html.escape(passage[left:right]), "</mark>"]
            at = right
    out.append(html.escape(passage[at:]))
    return ("…" if start > 0 else "") + " ".join("".join(out).split()) + ("…" if end < len(text) else "")

"""Highlighted snippets computed from the original text, the same way for every backend.

Only the returned hits get a snippet, and it keeps highlighting independent of which analysis modules a cluster has.
A snippet is a passage of about SNIPPET_CHARS around the first match, matches in <mark>, everything else
HTML-escaped. Matching does what search does: the query's words are folded (search.normalize.fold), and so is every
token of the text that could match, so `strasse` marks `Straße`. A token is a run of letters, digits and '_'; it
matches when its fold is a query word or starts with a query prefix. search._fts5_rank.token_spans() finds them in C;
the Python below, used when that module is not built, takes 20-40 us for a text of 1 KB, and a page has 20 hits.
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
_NON_ASCII = re.compile(r"[^\x00-\x7f]")  # scans twice as fast as the class of non-ASCII letters, [^\W\x00-\x7f]
_fold_token = functools.lru_cache(maxsize=65536)(fold)
_folded_tokens: dict[str, str] = {}  # for token_spans(): tokens with a non-ASCII letter and their fold

try:
    from search._fts5_rank import token_spans as _token_spans
except ImportError:
    _token_spans = None


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
    """Finds a query's words in original text. An ASCII token folds by lower() alone, so ASCII query words are found
    in the lowercased text (str.find), and only tokens with a non-ASCII letter are folded one by one (`Straße` for
    strasse); of those, only the ones whose non-ASCII tail ends a query word (ß... -> `sse`, in strasse)."""

    def __init__(self, exact: Iterable[str], prefixes: Iterable[str]) -> None:
        self.exact, self.prefixes = frozenset(exact), tuple(sorted(prefixes))
        self.endings = frozenset(word[i:] for word in self.exact for i in range(len(word) + 1))
        self.ascii = [(w, True) for w in sorted(self.exact) if w.isascii()] + \
                     [(p, False) for p in self.prefixes if p.isascii()]

    @functools.cached_property
    def fast(self) -> re.Pattern | None:
        """The ASCII words as one expression, for text that lower() lengthens (İ): rare, and a new pattern costs
        about 25 µs to compile, so it is compiled only when such a text comes."""
        parts = [re.escape(w) + (r"\b" if whole else r"\w*") for w, whole in self.ascii]
        return re.compile(r"\b(?:" + "|".join(parts) + ")", re.IGNORECASE) if parts else None

    def first(self, text: str) -> int | None:
        """Where the first token that folds to a query word starts, within SNIPPET_SCAN_CHARS."""
        limit = min(len(text), SNIPPET_SCAN_CHARS)
        if _token_spans is not None:
            found = _token_spans(text, self.exact, self.prefixes, _folded_tokens, fold, limit, True)
            return found[0][0] if found else None
        found = self._first_ascii(text, limit)
        earlier = next(self._non_ascii_hits(text, limit if found is None else found), None)
        return earlier[0] if earlier is not None else found

    def spans(self, text: str) -> list[tuple[int, int]]:
        if _token_spans is not None:
            return _token_spans(text, self.exact, self.prefixes, _folded_tokens, fold, len(text), False)
        found = self._ascii_spans(text) + list(self._non_ascii_hits(text, len(text)))
        return sorted(set(found))  # a token starting in ASCII may be found both ways

    def _ascii_spans(self, text: str) -> list[tuple[int, int]]:
        """Tokens that lower to an ASCII query word (a prefix: that start with it), by str.find in the lowercased
        text: a regular expression with IGNORECASE takes about 20 ns a character."""
        lowered = text.lower()
        if len(lowered) != len(text):  # lower() lengthened a letter (İ): positions would shift
            return [m.span() for m in self.fast.finditer(text)] if self.fast is not None else []
        found = []
        for word, whole in self.ascii:
            start = _find_token(lowered, word, whole, text, 0)
            while start is not None:
                end = start + len(word) if whole else _WORD.match(text, start).end()
                found.append((start, end))
                start = _find_token(lowered, word, whole, text, 0, end)
        return found

    def _non_ascii_hits(self, text: str, end: int) -> Iterator[tuple[int, int]]:
        """The tokens of text[:end] holding a non-ASCII letter that fold to a query word. Only a token whose tail,
        from its first non-ASCII letter, folds to the end of a query word (ß... -> `sse`, in strasse) is folded
        whole; with prefixes, every such token is."""
        token_end = 0
        for char in _NON_ASCII.finditer(text, 0, end):
            at = char.start()
            if at < token_end or not text[at].isalnum():
                continue
            token_end = _WORD.match(text, at).end()
            if self.prefixes or _fold_token(text[at:token_end]) in self.endings:
                start = _token_start(text, at)
                if self._folded_hit(text[start:token_end]):
                    yield start, token_end

    def _first_ascii(self, text: str, limit: int) -> int | None:
        """The first ASCII query word as a whole token (a prefix: at a token's start), in lowercased chunks of text
        that double in size: most texts match early."""
        if not self.ascii:
            return None
        reach, at, size = max(len(w) for w, _ in self.ascii), 0, _FIRST_CHUNK
        while at < limit:
            window = text[at:min(limit, at + size) + reach]
            lowered = window.lower()
            if len(lowered) != len(window):  # lower() lengthened a letter (İ): positions would shift
                found = self.fast.search(text, at, limit)
                return found.start() if found is not None else None
            starts = [i for word, whole in self.ascii
                      if (i := _find_token(lowered, word, whole, text, at)) is not None and i < size]
            if starts:
                return at + min(starts)
            at, size = at + size, min(2 * size, _LAST_CHUNK)
        return None

    def _folded_hit(self, token: str) -> bool:
        key = _fold_token(token)
        return key in self.exact or (bool(self.prefixes) and key.startswith(self.prefixes))


_FIRST_CHUNK, _LAST_CHUNK = 512, 16384


def _find_token(lowered: str, word: str, whole: bool, text: str, offset: int, begin: int = 0) -> int | None:
    """The first index of `word` in `lowered` from `begin`, at a token's start (and, if whole, at its end too)."""
    i = lowered.find(word, begin)
    while i != -1:
        start, end = offset + i, offset + i + len(word)
        before = text[start - 1] if start > 0 else " "
        after = text[end] if whole and end < len(text) else " "
        if not _is_word_char(before) and not _is_word_char(after):
            return i
        i = lowered.find(word, i + 1)
    return None


def _is_word_char(char: str) -> bool:
    return char.isalnum() or char == "_"


def _token_start(text: str, i: int) -> int:
    while i > 0 and _is_word_char(text[i - 1]):
        i -= 1
    return i


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

"""Text helpers of the FTS5 backend: a fast fold equal to search.normalize.fold, the indexed column values, tokens
for filters, highlighted snippets and opaque cursors."""
from __future__ import annotations

import base64
import binascii
import functools
import html
import json
import re
from typing import Any, Iterable, Iterator

from archive.errors import InvalidInput
from search.normalize import fold

SNIPPET_CHARS = 200
SNIPPET_LEAD = 60
SNIPPET_SCAN_CHARS = 200_000
_WORD = re.compile(r"\w+", re.UNICODE)
_NON_ASCII = re.compile(r"[^\x00-\x7f]+")
_NON_ASCII_LETTER = re.compile(r"[^\W\x00-\x7f]")
_folded: dict[str, str] = {}


def index_fold(text: str) -> str:
    """fold() for the tokenizer: each run of non-ASCII characters folded (cached), ASCII left to the tokenizer's
    own lower-casing. Equal to fold(text) up to case, since casefold, NFKD and dropping marks act per character."""
    return text if text.isascii() else _NON_ASCII.sub(_fold_run, text)


def _fold_run(match: re.Match) -> str:
    run = match.group()
    folded = _folded.get(run)
    if folded is None:
        folded = fold(run)
        if len(_folded) < 100_000:
            _folded[run] = folded
    return folded


_fold_token = functools.lru_cache(maxsize=65536)(fold)


def token_fold(token: str) -> str:
    return token.lower() if token.isascii() else fold(token)


_SEPARATED = re.compile(r"[\W_]+", re.UNICODE)


def identifier_keys(value: str) -> list[str]:
    """search.normalize.identifier_keys, with ASCII's fold done by lower()."""
    segments = [s for s in _SEPARATED.split(token_fold(value)) if s]
    return ["".join(segments[i:]) for i in range(len(segments))]


def identifier_key(value: str) -> str:
    return "".join(_SEPARATED.split(token_fold(value)))


# ---------------------------------------------------------------------------------------------------------------
# What is indexed. Identifier keys (column ids) and filter values (column meta) are tokens that start with MARK, a
# private-use character: the tokenizer keeps it inside tokens, a typed word never contains it (words() keeps \\w
# only) and it is removed from indexed text, so no word reaches them and text needs no column filter.
# Meta: MARK a = every document; MARK t/s/c/o + hex of doc_type, status, customer key, order key.

MARK = "\ue000"
ALL_TOKEN = MARK + "a"


def meta_token(kind: str, value: str) -> str:
    return MARK + kind + value.encode().hex()


def id_token(key: str) -> str:
    return MARK + "i" + key


def fts_values(title: str | None, references: Iterable[str], order_number: str | None, customer_number: str,
               customer_name: str | None, filename: str | None, text: str, doc_type: str,
               status: str) -> tuple[str, str, str, str, str]:
    """(title, refs, body, ids, meta) for the FTS5 row: folded text; identifier keys; filter tokens."""
    numbers = [r for r in references if r] + [v for v in (order_number, customer_number) if v]
    keys = dict.fromkeys(id_token(k) for value in numbers for k in identifier_keys(value) if k)
    meta = [ALL_TOKEN, meta_token("t", doc_type), meta_token("s", status),
            meta_token("c", identifier_key(customer_number))]
    if order_number:
        meta.append(meta_token("o", identifier_key(order_number)))
    body = "\n".join(v for v in (text, filename, customer_name) if v)
    return (_clean(title or ""), _clean("\n".join(numbers)), _clean(body), " ".join(keys), " ".join(meta))


def _clean(text: str) -> str:
    folded = index_fold(text)
    return folded.replace(MARK, " ") if MARK in folded else folded


# ---------------------------------------------------------------------------------------------------------------
# Snippets: computed in Python from the original text, for the returned hits only


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
        return sorted(found)

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


# ---------------------------------------------------------------------------------------------------------------
# Cursors: base64url JSON of the sort, a digest of the query, and the last position; anything else is refused


def encode_cursor(digest: str, position: dict[str, Any]) -> str:
    raw = json.dumps({"q": digest, **position}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_cursor_text(cursor: str) -> str:
    try:
        return base64.urlsafe_b64decode((cursor + "=" * (-len(cursor) % 4)).encode("ascii")).decode()
    except (ValueError, UnicodeError, binascii.Error):
        return ""


def decode_cursor(cursor: str, digest: str, keys: dict[str, type | tuple[type, ...]]) -> dict[str, Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")).decode())
    except (ValueError, UnicodeError, binascii.Error):
        value = None
    if not isinstance(value, dict) or value.get("q") != digest or set(value) != {"q", *keys} \
            or not all(isinstance(value[k], t) and not isinstance(value[k], bool) for k, t in keys.items()):
        raise InvalidInput("cursor: not a cursor of this query", code="invalid_cursor", field="cursor")
    return value

"""Text helpers of the FTS5 backend: a fast fold equal to search.normalize.fold, the indexed column values, tokens
for filters, highlighted snippets and opaque cursors."""
from __future__ import annotations

import base64
import binascii
import html
import json
import re
from typing import Any, Iterable

from archive.errors import InvalidInput
from search.normalize import fold, identifier_key, identifier_keys

SNIPPET_CHARS = 200
SNIPPET_LEAD = 60
SNIPPET_SCAN_CHARS = 200_000
_WORD = re.compile(r"\w+", re.UNICODE)
_NON_ASCII = re.compile(r"[^\x00-\x7f]+")
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


def token_fold(token: str) -> str:
    return token.lower() if token.isascii() else fold(token)


# ---------------------------------------------------------------------------------------------------------------
# What is indexed. Filters live in the `meta` column as tokens no typed word can reach (queries address the text
# columns explicitly): a = every document, r = restricted, t/s/c/o + hex of type, status, customer key, order key.

ALL_TOKEN, RESTRICTED_TOKEN = "a", "r"


def meta_token(kind: str, value: str) -> str:
    return kind + value.encode().hex()


def fts_values(title: str | None, references: Iterable[str], order_number: str | None, customer_number: str,
               customer_name: str | None, filename: str | None, text: str, doc_type: str, status: str,
               restricted: bool) -> tuple[str, str, str, str, str]:
    """(title, refs, body, ids, meta) for the FTS5 row: folded text; identifier keys; filter tokens."""
    numbers = [r for r in references if r] + [v for v in (order_number, customer_number) if v]
    keys = list(dict.fromkeys(k for value in numbers for k in identifier_keys(value) if k))
    meta = [ALL_TOKEN, meta_token("t", doc_type), meta_token("s", status),
            meta_token("c", identifier_key(customer_number))]
    if order_number:
        meta.append(meta_token("o", identifier_key(order_number)))
    if restricted:
        meta.append(RESTRICTED_TOKEN)
    body = "\n".join(v for v in (text, filename, customer_name) if v)
    return (index_fold(title or ""), index_fold("\n".join(numbers)), index_fold(body), " ".join(keys), " ".join(meta))


# ---------------------------------------------------------------------------------------------------------------
# Snippets: computed in Python from the original text, for the returned hits only


def snippet(text: str, exact: frozenset[str], prefixes: tuple[str, ...]) -> str:
    """A passage around the first match, matches in <mark>, everything else HTML-escaped."""
    found = None
    for match in _WORD.finditer(text, 0, min(len(text), SNIPPET_SCAN_CHARS)):
        if _hits(match.group(), exact, prefixes):
            found = match.start()
            break
    start = 0 if found is None or found < SNIPPET_LEAD else text.rfind(" ", 0, found - SNIPPET_LEAD) + 1
    end = start + SNIPPET_CHARS
    if end < len(text):
        end = max(text.rfind(" ", start, end), (found or 0) + 1, start + SNIPPET_CHARS // 2)
    passage, out, at = text[start:end], [], 0
    for match in _WORD.finditer(passage):
        if _hits(match.group(), exact, prefixes):
            out += [html.escape(passage[at:match.start()]), "<mark>", html.escape(match.group()), "</mark>"]
            at = match.end()
    out.append(html.escape(passage[at:]))
    return ("…" if start > 0 else "") + " ".join("".join(out).split()) + ("…" if end < len(text) else "")


def _hits(token: str, exact: frozenset[str], prefixes: tuple[str, ...]) -> bool:
    key = token_fold(token)
    return key in exact or (bool(prefixes) and key.startswith(prefixes))


# ---------------------------------------------------------------------------------------------------------------
# Cursors: base64url JSON of the sort, a digest of the query, and the last position; anything else is refused


def encode_cursor(digest: str, position: dict[str, Any]) -> str:
    raw = json.dumps({"q": digest, **position}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


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

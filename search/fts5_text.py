"""Text helpers of the FTS5 backend: a fast fold equal to search.normalize.fold, the indexed column values, tokens
for filters and opaque cursors. Snippets are search.snippets, shared with Elasticsearch."""
from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any, Callable, Iterable, Sequence

from archive.errors import InvalidInput
from search.normalize import fold

_NON_ASCII = re.compile(r"[^\x00-\x7f]+")
_folded: dict[str, str] = {}  # non-ASCII runs and their fold
FOLD_CACHE_MAX = 100_000  # runs kept (search/_fts5_rank.c keeps as many)


def index_fold(text: str) -> str:
    """fold() for the tokenizer: each run of non-ASCII characters folded (cached), ASCII left to the tokenizer's
    own lower-casing. Equal to fold(text) up to case, since casefold, NFKD and dropping marks act per character."""
    return text if text.isascii() else _fold_runs(text, _folded, fold)


def _fold_runs_re(text: str, cache: dict[str, str], fold_run: Callable[[str], str]) -> str:
    """search._fts5_rank.fold_runs, by a regular expression: about 8 times slower (20 us for 1 KB of text)."""
    def folded(match: re.Match) -> str:
        run = match.group()
        found = cache.get(run)
        if found is None:
            found = fold_run(run)
            if len(cache) < FOLD_CACHE_MAX:
                cache[run] = found
        return found
    return _NON_ASCII.sub(folded, text)


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
    # the last key, a single segment (`0042` of PO-2024/0042), is a token of refs already: an Identifier query
    # matches its key or its words (search/fts5_plan.py), and near-unique terms are the dearest ones to index
    keys = dict.fromkeys(id_token(k) for value in numbers for k in identifier_keys(value)[:-1] if k)
    meta = [ALL_TOKEN, meta_token("t", doc_type), meta_token("s", status),
            meta_token("c", identifier_key(customer_number))]
    if order_number:
        meta.append(meta_token("o", identifier_key(order_number)))
    body = "\n".join(v for v in (text, filename, customer_name) if v)
    return (_clean(title or ""), _clean("\n".join(numbers)), _clean(body), " ".join(keys), " ".join(meta))


# unicode61's tokens: runs of letters, digits and private-use characters; the rest separates. A MARK token counts
# once without MARK in the class, which would double the cost; elsewhere, private-use characters are rare.
_TOKEN = re.compile(r"[^\W_]+")


def _token_count_re(values: Sequence[str]) -> int:
    """The tokens FTS5 counts for a row's length, for the rowid's length code."""
    return sum(len(_TOKEN.findall(value)) for value in values)


try:  # both in C: the fold 8 times faster, the count 15 times (the regular expression lists every token)
    from search._fts5_rank import fold_runs as _fold_runs, token_count
except ImportError:
    _fold_runs, token_count = _fold_runs_re, _token_count_re


def _clean(text: str) -> str:
    folded = index_fold(text)
    return folded.replace(MARK, " ") if MARK in folded else folded


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

"""One folding for indexing and querying: case- and accent-insensitive, `strasse` = `Straße`, `oe` = `œ`."""
from __future__ import annotations

import re
import unicodedata

_WORD = re.compile(r"\w+", re.UNICODE)
_SEPARATED = re.compile(r"[\W_]+", re.UNICODE)


def fold(text: str) -> str:
    """casefold (ß -> ss), then drop combining marks (é -> e) and compatibility forms (ﬁ -> fi)."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c)).replace("œ", "oe").replace("æ", "ae")


def words(text: str) -> list[str]:
    return _WORD.findall(fold(text))


def identifier_key(value: str) -> str:
    """`PO-2024/0042` -> `po20240042`: separators do not matter when people type identifiers."""
    return "".join(_SEPARATED.split(fold(value)))


def identifier_keys(value: str) -> list[str]:
    """Every suffix of an identifier's segments, joined: `PO-2024/0042` is found by `po20240042`, `20240042`
    (as typed `2024/0042`) and `0042`."""
    segments = [s for s in _SEPARATED.split(fold(value)) if s]
    return ["".join(segments[i:]) for i in range(len(segments))]

"""Reading amounts and dates as people write them in French, German and English documents."""
from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from datetime import date
from decimal import Decimal, InvalidOperation

# 1.234,56  1,234.56  1 234,56  1'234.56  1234.5  -12,00 ; thin and no-break spaces count as spaces.
AMOUNT = re.compile(r"(?<![\w.,'/-])-?\d{1,3}(?:(?:[ \u00a0\u202f'.,])\d{3})*(?:[.,]\d{1,2})?(?![\d]|[.,]\d)"
                    r"|(?<![\w.,'/-])-?\d+(?:[.,]\d{1,2})?(?![\d]|[.,]\d)")

MONTHS = {
    # French
    "janvier": 1, "fevrier": 2, "mars": 3, "avril": 4, "mai": 5, "juin": 6, "juillet": 7, "aout": 8,
    "septembre": 9, "octobre": 10, "novembre": 11, "decembre": 12, "janv": 1, "fevr": 2, "fev": 2, "avr": 4,
    "juil": 7, "sept": 9, "oct": 10, "nov": 11, "dec": 12,
    # German
    "januar": 1, "jan": 1, "jaenner": 1, "januar.": 1, "februar": 2, "feb": 2, "maerz": 3, "marz": 3, "mrz": 3,
    "april": 4, "apr": 4, "juni": 6, "jun": 6, "juli": 7, "jul": 7, "august": 8, "aug": 8, "oktober": 10,
    "dezember": 12, "dez": 12,
    # English
    "january": 1, "february": 2, "march": 3, "mar": 3, "may": 5, "june": 6, "july": 7, "september": 9,
    "sep": 9, "october": 10, "november": 11, "december": 12,
}
_MONTH_WORD = r"[A-Za-zÀ-ÿ]{3,9}\.?"
DATE = re.compile(
    r"(?P<iso>\b(?P<iy>\d{4})-(?P<im>\d{1,2})-(?P<id>\d{1,2})\b)"
    r"|(?P<num>\b(?P<nd>\d{1,2})[./](?P<nm>\d{1,2})[./](?P<ny>\d{4}|\d{2})\b)"
    r"|(?P<dmy>\b(?P<wd>\d{1,2})(?:er|\.|st|nd|rd|th)?\s+(?P<wm>" + _MONTH_WORD + r")\s+(?P<wy>\d{4})\b)"
    r"|(?P<mdy>\b(?P<em>" + _MONTH_WORD + r")\s+(?P<ed>\d{1,2})(?:st|nd|rd|th)?,?\s+(?P<ey>\d{4})\b)")


def parse_amount(text: str) -> Decimal | None:
    """The decimal separator is the last `.` or `,` followed by one or two digits; others group thousands."""
    raw = re.sub(r"[\s\u00a0\u202f']", "", text.strip())
    if not raw or not re.fullmatch(r"-?[\d.,]+", raw):
        return None
    match = re.search(r"[.,](\d{1,2})$", raw)
    if match:
        whole, fraction = raw[:match.start()], match.group(1)
    else:
        whole, fraction = raw, "0"
    whole = whole.replace(".", "").replace(",", "")
    try:
        return Decimal(f"{whole or '0'}.{fraction}").quantize(Decimal("0.01"))
    except InvalidOperation:
        return None


def amount_text(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.01'))}"


def fold(text: str) -> str:
    """Lower case without accents, same length as the input (so offsets stay valid)."""
    return text.translate({ord(ch): _fold_char(ch) for ch in set(text) if ch.isupper() or ord(ch) > 127})


@lru_cache(maxsize=4096)
def _fold_char(ch: str) -> str:
    if ch == "ß":
        return "s"
    base = unicodedata.normalize("NFKD", ch)[:1] if ord(ch) > 127 else ch
    return (base or ch).lower()[:1] or " "


def parse_date(match: re.Match, month_first: bool = False) -> date | None:
    try:
        if match.group("iso"):
            return date(int(match.group("iy")), int(match.group("im")), int(match.group("id")))
        if match.group("num"):
            day, month, year = int(match.group("nd")), int(match.group("nm")), int(match.group("ny"))
            slashed = "/" in match.group("num")
            if (month > 12 and day <= 12) or (month_first and slashed and day <= 12):  # 03/25/2026: American
                day, month = month, day
            return date(year + 2000 if year < 100 else year, month, day)
        if match.group("dmy"):
            month = _month(match.group("wm"))
            return date(int(match.group("wy")), month, int(match.group("wd"))) if month else None
        month = _month(match.group("em"))
        return date(int(match.group("ey")), month, int(match.group("ed"))) if month else None
    except ValueError:
        return None


def _month(word: str) -> int | None:
    key = fold(word).rstrip(".").replace("ä", "ae")
    if word.lower().startswith("mär"):
        return 3
    return MONTHS.get(key)


def find_dates(text: str, start: int = 0, end: int | None = None,
               month_first: bool = False) -> list[tuple[date, int, int]]:
    found = []
    for match in DATE.finditer(text, start, len(text) if end is None else end):
        value = parse_date(match, month_first)
        if value is not None and 1990 <= value.year <= 2100:
            found.append((value, match.start(), match.end()))
    return found

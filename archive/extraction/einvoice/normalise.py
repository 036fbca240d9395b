"""One canonical spelling per value, so that CII, UBL and the PDF-embedded XML of one invoice compare equal.

Amounts: at least two decimals, trailing zeros beyond them dropped ("473" and "473.00" -> "473.00",
"9.9000" -> "9.90", "0.12345" stays). Quantities: trailing zeros dropped ("20.0000" -> "20"). Never a float.
Identifiers: whitespace collapsed; VAT ids upper-cased without spaces, dots or dashes.
"""
from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

_TWO_PLACES = Decimal("0.01")
_SPACE = re.compile(r"\s+")
_VAT_NOISE = re.compile(r"[\s.\-]")


def _decimal(text: str | None) -> Decimal | None:
    if text is None:
        return None
    cleaned = text.strip().replace(" ", "")
    if not cleaned:
        return None
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def _plain(value: Decimal) -> str:
    text = format(value, "f")
    return "0" if text in ("-0", "") else text


def amount(text: str | None) -> str | None:
    value = _decimal(text)
    if value is None:
        return None
    value = value.normalize()
    if value.as_tuple().exponent > -2:
        value = value.quantize(_TWO_PLACES)
    text = _plain(value)
    return "0.00" if text in ("-0.00",) else text


def quantity(text: str | None) -> str | None:
    value = _decimal(text)
    if value is None:
        return None
    value = value.normalize()
    if value.as_tuple().exponent > 0:
        value = value.quantize(Decimal(1))
    return _plain(value)


def negate(text: str | None) -> str | None:
    value = _decimal(text)
    return None if value is None else amount(str(-value))


def minor_units(text: str | None) -> int | None:
    """An amount in cents (for comparisons with decoders that count in minor units)."""
    value = _decimal(text)
    return None if value is None else int((value * 100).to_integral_value())


def text_value(text: str | None) -> str | None:
    if text is None:
        return None
    collapsed = _SPACE.sub(" ", text).strip()
    return collapsed or None


def compact_id(text: str | None) -> str | None:
    if text is None:
        return None
    cleaned = _VAT_NOISE.sub("", text).upper()
    return cleaned or None


def cii_date(text: str | None, fmt: str | None = None) -> str | None:
    """UN/CEFACT date strings: 102 = CCYYMMDD, 203 = CCYYMMDDHHMM, 610 = CCYYMM; ISO dates pass through."""
    if text is None:
        return None
    digits = text.strip()
    if len(digits) >= 10 and digits[4] == "-":
        return digits[:10]
    if fmt == "610" and len(digits) == 6:
        return f"{digits[:4]}-{digits[4:6]}-01"
    if len(digits) >= 8 and digits[:8].isdigit():
        return f"{digits[:4]}-{digits[4:6]}-{digits[6:8]}"
    return None


def iso_date(text: str | None) -> str | None:
    """xs:date or xs:dateTime (with or without zone) -> YYYY-MM-DD."""
    if text is None:
        return None
    value = text.strip()
    if len(value) >= 10 and value[4] == "-" and value[7] == "-" and value[:4].isdigit():
        return value[:10]
    return cii_date(value)


vat_id = compact_id  # VAT ids and IBANs share one spelling rule: upper case, no spaces, dots or dashes

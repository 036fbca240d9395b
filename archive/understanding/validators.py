"""Check digits of identifiers found in documents: IBAN (ISO 13616 mod-97) and EU VAT ids.

VAT checksums validated: FR (key = (12 + 3 * (SIREN mod 97)) mod 97, numeric keys only), DE (ISO 7064 MOD 11,10),
AT (weighted digit sum), BE (97 - first 8 digits mod 97), IT (Luhn over 11 digits), LU (first 6 digits mod 89),
NL (mod 11 on the 9 digits, or the 2020 sole-trader scheme: mod 97 over "NL" + digits). Every other EU state (and
XI, GB, CH) is checked for its published format only: `vat_status` says "valid", "format" (format right, no checksum
known to us) or "invalid".
"""
from __future__ import annotations

import re

IBAN_LENGTHS = {
    "AD": 24, "AT": 20, "BE": 16, "BG": 22, "CH": 21, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "EE": 20, "ES": 24,
    "FI": 18, "FR": 27, "GB": 22, "GR": 27, "HR": 21, "HU": 28, "IE": 22, "IS": 26, "IT": 27, "LI": 21, "LT": 20,
    "LU": 20, "LV": 21, "MC": 27, "MT": 31, "NL": 18, "NO": 15, "PL": 28, "PT": 25, "RO": 24, "SE": 24, "SI": 19,
    "SK": 24, "SM": 27,
}

VAT_FORMATS = {
    "AT": r"U\d{8}", "BE": r"[01]\d{9}", "BG": r"\d{9,10}", "CY": r"\d{8}[A-Z]", "CZ": r"\d{8,10}",
    "DE": r"\d{9}", "DK": r"\d{8}", "EE": r"\d{9}", "EL": r"\d{9}", "ES": r"[A-Z0-9]\d{7}[A-Z0-9]",
    "FI": r"\d{8}", "FR": r"[A-HJ-NP-Z0-9]{2}\d{9}", "HR": r"\d{11}", "HU": r"\d{8}", "IE": r"\d[A-Z0-9+*]\d{5}[A-Z]{1,2}",
    "IT": r"\d{11}", "LT": r"\d{9}|\d{12}", "LU": r"\d{8}", "LV": r"\d{11}", "MT": r"\d{8}",
    "NL": r"\d{9}B\d{2}", "PL": r"\d{10}", "PT": r"\d{9}", "RO": r"\d{2,10}", "SE": r"\d{12}", "SI": r"\d{8}",
    "SK": r"\d{10}", "XI": r"\d{9}|\d{12}|GD\d{3}|HA\d{3}",
    "GB": r"\d{9}|\d{12}|GD\d{3}|HA\d{3}", "CHE": r"\d{9}(MWST|TVA|IVA)?",
}


def normalise(value: str) -> str:
    return re.sub(r"[\s.\-/]", "", value).upper()


def iban_valid(value: str) -> bool:
    iban = normalise(value)
    if not re.fullmatch(r"[A-Z]{2}\d{2}[A-Z0-9]{10,30}", iban):
        return False
    expected = IBAN_LENGTHS.get(iban[:2])
    if expected is not None and len(iban) != expected:
        return False
    return _mod97(iban[4:] + iban[:4]) == 1


def _mod97(text: str) -> int:
    return int("".join(str(int(ch, 36)) for ch in text)) % 97


def vat_status(value: str) -> str:
    vat = normalise(value)
    country, number = ("CHE", vat[3:]) if vat.startswith("CHE") else (vat[:2], vat[2:])
    if country == "GR":
        country = "EL"
    pattern = VAT_FORMATS.get(country)
    if pattern is None or not re.fullmatch(pattern, number):
        return "invalid"
    check = CHECKS.get(country)
    if check is None:
        return "format"
    result = check(number)
    if result is None:
        return "format"
    return "valid" if result else "invalid"


def _fr(number: str) -> bool | None:
    key, siren = number[:2], number[2:]
    if not key.isdigit():
        return None  # the alphanumeric key scheme has no public algorithm
    return int(key) == (12 + 3 * (int(siren) % 97)) % 97


def _de(number: str) -> bool:
    product = 10
    for digit in number[:8]:
        total = (int(digit) + product) % 10 or 10
        product = (2 * total) % 11
    check = 11 - product
    return (0 if check == 10 else check) == int(number[8])


def _at(number: str) -> bool:
    digits = [int(d) for d in number[1:]]
    total = 0
    for index, digit in enumerate(digits[:7]):
        value = digit * (2 if index % 2 else 1)
        total += value // 10 + value % 10
    return (10 - (total + 4) % 10) % 10 == digits[7]


def _be(number: str) -> bool:
    return 97 - int(number[:8]) % 97 == int(number[8:])


def _luhn(number: str) -> bool:
    total = 0
    for index, digit in enumerate(int(d) for d in reversed(number)):
        if index % 2:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


def _lu(number: str) -> bool:
    return int(number[:6]) % 89 == int(number[6:])


def _nl(number: str) -> bool:
    digits = number[:9]
    weighted = sum(int(d) * w for d, w in zip(digits[:8], range(9, 1, -1))) - int(digits[8])
    return weighted % 11 == 0 or _mod97("NL" + number) == 1


CHECKS = {"FR": _fr, "DE": _de, "AT": _at, "BE": _be, "IT": _luhn, "LU": _lu, "NL": _nl}

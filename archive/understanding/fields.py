"""Dates, totals, currency, VAT ids and IBANs found in a document's text, each with confidence and provenance.

Labelled values are trusted (0.85); values found without a label less (0.5). Checksums raise or lower trust: a
VAT id or IBAN whose check digits hold gets 0.95, a VAT id of a state whose checksum we do not know 0.6, a failed
checksum is kept only when nothing better was found, at 0.25. Totals are read in amounts.py.
"""
from __future__ import annotations

import re

from archive.understanding.spans import Found, Line, after_label
from archive.understanding.validators import iban_valid, normalise, vat_status
from archive.understanding.values import find_dates

DUE_LABEL = re.compile(r"echeance|a payer (?:avant|jusqu.au)|payable (?:avant|le|jusqu|by|until|before)|a regler avant"
                       r"|fallig(?:keit)?|zahlbar[^\n]{0,40}?\bbis\b|uberweisen[^\n]{0,30}?\bbis\b|zahlungsziel"
                       r"|due date|payment due|due (?:on|by)|pay by|remit (?:until|by|before)"
                       r"|pay (?:until|before)")
ISSUE_LABEL = re.compile(r"\b(?:date|datum|dated|issued?(?: on)?|vom|du|le|den)\b|[a-z]+datum\b")
SLASHED = re.compile(r"\b(\d{1,2})/(\d{1,2})/\d{4}\b")
CURRENCIES = {"€": "EUR", "eur": "EUR", "euro": "EUR", "euros": "EUR", "$": "USD", "usd": "USD", "£": "GBP",
              "gbp": "GBP", "chf": "CHF", "fr.": "CHF", "sek": "SEK", "dkk": "DKK", "pln": "PLN", "czk": "CZK"}
CURRENCY = re.compile(r"€|\$|£|\b(?:eur|euros?|usd|gbp|chf|sek|dkk|pln|czk)\b")
VAT = re.compile(r"\b(?:AT ?U|BE|BG|CY|CZ|DE|DK|EE|EL|GR|ES|FI|FR|HR|HU|IE|IT|LT|LU|LV|MT|NL|PL|PT|RO|SE|SI|SK|XI|GB"
                 r"|CHE)[ .-]?[0-9A-Z](?:[ .-]?[0-9A-Z]){5,13}")
IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?")
BUYER_CONTEXT = re.compile(r"client|customer|kunde|acheteur|buyer|votre|ihre|your|destinataire|empfanger|bill to"
                           r"|facture a|livre a|ship to|sold to")
PAYMENT_REFERENCE = re.compile(r"reference (?:de |du )?(?:paiement|virement)|verwendungszweck|zahlungsreferenz"
                               r"|payment reference|remittance information|communication")


def find_dates_labelled(lines: list[Line], first_page_only: bool = True) -> dict[str, Found]:
    month_first = uses_month_first(lines)
    due = _dated(lines, DUE_LABEL, 0.85, month_first=month_first)
    issue = _dated(lines, ISSUE_LABEL, 0.85, exclude=due, month_first=month_first)
    if issue is None:  # the first date on page 1 that is not the due date
        for line in lines:
            if line.page > 0 and first_page_only:
                break
            dates = [d for d in find_dates(line.text, month_first=month_first)
                     if due is None or line.start + d[1] != due.start]
            if dates:
                value, start, end = dates[0]
                issue = Found(value.isoformat(), line.page, line.start + start, line.start + end, 0.5)
                break
    return {k: v for k, v in (("issue_date", issue), ("due_date", due)) if v is not None}


def uses_month_first(lines: list[Line]) -> bool:
    """11/17/2017 somewhere in the document means its slashed dates are American, 11/03/2017 included."""
    for line in lines:
        for match in SLASHED.finditer(line.text):
            first, second = int(match.group(1)), int(match.group(2))
            if first > 12 >= second:
                return False
            if second > 12 >= first:
                return True
    return False


def _dated(lines: list[Line], label: re.Pattern, confidence: float, exclude: Found | None = None,
           month_first: bool = False) -> Found | None:
    for index, line in enumerate(lines):
        for match in label.finditer(line.folded):
            for where, offset in after_label(lines, index, match.end(), match.start()):
                dates = [d for d in find_dates(where.text, offset, month_first=month_first)
                         if exclude is None or (where.page, where.start + d[1]) != (exclude.page, exclude.start)]
                if dates and (where is line or dates[0][1] == offset or (offset == 0 and dates[0][1] < 12)):
                    value, start, end = dates[0]
                    return Found(value.isoformat(), where.page, where.start + start, where.start + end, confidence)
    return None


def find_currency(lines: list[Line], near: Found | None) -> Found | None:
    hits: list[Found] = []
    for line in lines:
        for match in CURRENCY.finditer(line.folded):
            code = CURRENCIES[match.group()]
            on_total = near is not None and near.page == line.page and \
                line.start <= near.start <= line.start + len(line.text)
            hits.append(Found(code, line.page, line.start + match.start(), line.start + match.end(),
                              0.9 if on_total else 0.7))
    if not hits:
        return None
    counts = {code: sum(1 for h in hits if h.value == code) for code in {h.value for h in hits}}
    winner = max(counts, key=lambda code: (counts[code], any(h.confidence > 0.8 for h in hits if h.value == code)))
    return max((h for h in hits if h.value == winner), key=lambda h: h.confidence)


def find_vat_ids(lines: list[Line]) -> dict[str, Found]:
    """seller / buyer VAT ids: a VAT id with a buyer word before it on its line is the buyer's."""
    out: dict[str, Found] = {}
    for line in lines:
        for match in VAT.finditer(line.text.upper()):
            found = _checked_vat(line, match)
            if found is None:
                continue
            role = "buyer" if BUYER_CONTEXT.search(line.folded[max(0, match.start() - 60):match.start()]) else "seller"
            if role == "seller" and "seller" in out and out["seller"].value != found.value:
                role = "buyer"
            current = out.get(role)
            if current is None or found.confidence > current.confidence:
                out[role] = found
    return out


def _checked_vat(line: Line, match: re.Match) -> Found | None:
    text = match.group()
    upper = line.text.upper()
    iban = IBAN.match(upper, match.start())
    if re.search(r"IBAN\W*$", upper[:match.start()]) or \
            (iban and any(iban_valid(iban.group()[:end]) for end in range(len(iban.group()), 14, -1))):
        return None  # the start of an IBAN, not a VAT id
    for end in range(len(text), 3, -1):  # the greedy match may have eaten a following word or number
        if end < len(text) and text[end].isalnum() and text[end - 1].isalnum():
            continue  # a VAT id does not stop in the middle of a longer number
        candidate = text[:end].rstrip(" .-")
        status = vat_status(candidate)
        if status != "invalid":
            confidence = 0.95 if status == "valid" else 0.6
            start = line.start + match.start()
            return Found(normalise(candidate), line.page, start, start + len(candidate), confidence)
    if re.fullmatch(r"[A-Z]{2,3}[0-9A-Z]{8,12}", normalise(text)) and sum(c.isdigit() for c in text) >= 8:
        start = line.start + match.start()
        return Found(normalise(text), line.page, start, start + len(text), 0.25)
    return None


def find_iban(lines: list[Line]) -> Found | None:
    fallback = None
    for line in lines:
        for match in IBAN.finditer(line.text.upper()):
            text = match.group()
            for end in range(len(text), 14, -1):
                if iban_valid(text[:end]):
                    start = line.start + match.start()
                    return Found(normalise(text[:end]), line.page, start, start + end, 0.95)
            start = line.start + match.start()
            fallback = fallback or Found(normalise(text), line.page, start, start + len(text), 0.25)
    return fallback


def find_payment_reference(lines: list[Line]) -> Found | None:
    for index, line in enumerate(lines):
        match = PAYMENT_REFERENCE.search(line.folded)
        if match is None:
            continue
        for where, offset in after_label(lines, index, match.end()):
            value = re.match(r"\s*[:#]?\s*(?P<v>[A-Za-z0-9][A-Za-z0-9 \-/.+]{2,60}[A-Za-z0-9])", where.text[offset:])
            if value:
                start = where.start + offset + value.start("v")
                return Found(value.group("v"), where.page, start, start + len(value.group("v")), 0.7)
    return None

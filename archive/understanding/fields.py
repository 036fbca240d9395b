"""Dates, totals, currency, VAT ids and IBANs found in a document's text, each with confidence and provenance.

Labelled values are trusted (0.85); values found without a label less (0.5). Checksums raise or lower trust: a
VAT id or IBAN whose check digits hold gets 0.95, a VAT id of a state whose checksum we do not know 0.6, a failed
checksum is kept only when nothing better was found, at 0.25. Totals that add up (net + tax = grand) get 0.95.
"""
from __future__ import annotations

import re
from decimal import Decimal

from archive.understanding.spans import Found, Line, after_label
from archive.understanding.validators import iban_valid, normalise, vat_status
from archive.understanding.values import AMOUNT, find_dates, parse_amount

DUE_LABEL = re.compile(r"echeance|a payer (?:avant|jusqu.au)|payable (?:avant|le|jusqu|by|until|before)|a regler avant"
                       r"|fallig(?:keit)?|zahlbar[^\n]{0,40}?\bbis\b|uberweisen[^\n]{0,30}?\bbis\b|zahlungsziel"
                       r"|due date|payment due|due (?:on|by)|pay by|remit (?:until|by|before)"
                       r"|pay (?:until|before)")
ISSUE_LABEL = re.compile(r"\b(?:date|datum|dated|issued?(?: on)?|vom|du|le|den)\b|[a-z]+datum\b")
# (field, priority, label): on each line only its best label counts (highest priority, then longest); across lines
# the highest priority wins, then the last occurrence (totals stand at the bottom). Tax lines per rate (priority 2)
# are added up when no tax total is printed.
AMOUNT_LABELS = [
    ("amount_due", 3, r"net a payer|reste a payer|solde a payer|montant du\b|solde du|zahlbetrag|zu zahlen"
                      r"|offener betrag|restbetrag|amount due|balance due|total due|amount payable|due payable"
                      r"|residual"),
    ("grand_total", 3, r"total ttc|montant ttc|total toutes taxes|gesamtbetrag(?! der)|rechnungsbetrag|bruttobetrag"
                       r"|endbetrag|summe brutto|brutto ?summe|rechnungssumme brutto|summe inkl|gesamtsumme"
                       r"|grand total|invoice total|total amount|total incl|total \(incl|total with"),
    ("grand_total", 2, r"\btotal\b(?! ?(?:ht|hors|net|tva|mwst|ust|tax|vat|excl|before|qty|quantit|w/o))|\bgesamt\b"),
    ("grand_total", 1, r"montant regle|montant paye|montant du virement|amount paid|payment amount"
                       r"|uberweisungsbetrag|\bbetrag\b|\bmontant\b|\bamount\b|rechnungssumme"),
    ("net_total", 3, r"total ht|montant ht|total hors taxes|nettobetrag|summe netto|netto ?summe|gesamt netto"
                     r"|rechnungssumme (?:netto|ohne)|summe ohne|summe der positionen|net total|total net|total excl"
                     r"|total w/o|total before tax|net amount|subtotal|sous-total|zwischensumme|warenwert"),
    ("tax_total", 3, r"total tva|total des taxes|total taxes|montant (?:de la )?tva|total mwst|summe mwst|summe ust"
                     r"|umsatzsteuer gesamt|steuerbetrag|ust-?betrag|mwst-?betrag|zzgl\.? (?:ust|mwst)"
                     r"|zuzugl\.? (?:ust|mwst)|plus vat|total vat|vat amount|total tax|tax total|tax amount"),
    ("tax_total", 2, r"\btva\b|\bmwst\b|\bust\b|umsatzsteuer|mehrwertsteuer|\bvat\b|\bsales tax\b|\btax\b"),
]
_AMOUNT_LABELS = [(f, p, re.compile(r)) for f, p, r in AMOUNT_LABELS]
SLASHED = re.compile(r"\b(\d{1,2})/(\d{1,2})/\d{4}\b")
IDENTIFIER_LINE = re.compile(r"idnr|\bn[o°]?\.? ?(?:de )?tva|numero (?:de )?tva|tva intra|vat (?:no|id|number|reg)|ust-?id|steuer-?n|siret|siren"
                             r"|\biban\b|\bbic\b|swift")
NOT_AMOUNT_CONTEXT = re.compile(r"n[o°]|nr|number|nummer|id|ident|intra|iban|bic|siret|siren|rcs|capital|kapital")
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


def find_amounts(lines: list[Line], credit: bool = False) -> dict[str, Found]:
    best: dict[str, tuple[int, Found]] = {}
    rate_lines: list[Found] = []
    for index, line in enumerate(lines):
        for field, priority, amount, in_header in _line_amounts(lines, index, credit):
            if (field, priority) == ("tax_total", 2) and not in_header:
                rate_lines.append(amount)
            if priority >= best.get(field, (0, None))[0]:
                best[field] = (priority, amount)
    found = {field: item for field, (_, item) in best.items()}
    if len(rate_lines) > 1 and best.get("tax_total", (0,))[0] == 2:
        total = sum(Decimal(f.value) for f in rate_lines)
        found["tax_total"] = Found(str(total), rate_lines[-1].page, rate_lines[0].start, rate_lines[-1].end, 0.7)
    return _cross_check(found)


def _line_amounts(lines: list[Line], index: int, credit: bool):
    """The line's best label with the last amount after it; or, for a header row without amounts, each of its
    labels with the amount in the next line under it ("Nettobetrag   MwSt   Gesamtbetrag")."""
    labels = _line_labels(lines[index])
    if not labels:
        return
    field, priority, start, end = labels[0]
    amount = _last_amount(lines[index], end, credit)
    if amount is not None:
        yield field, priority, amount, False
        return
    following = next((ln for ln in lines[index + 1:index + 3] if ln.text.strip()), None)
    if following is None or following.page != lines[index].page or len(labels) < 2:
        return
    amounts = [m for m in AMOUNT.finditer(following.text)
               if not re.match(r"\s?%", following.text[m.end():m.end() + 2])]
    in_order = sorted(labels, key=lambda label: label[2])
    if len(amounts) == len(in_order):  # one amount per column: matched in order, whatever the spacing
        pairs = [(label, _found(following, match, credit)) for label, match in zip(in_order, amounts)]
    else:
        pairs = [(label, _amount_under(following, label[2], label[3], credit)) for label in in_order]
    taken: set[str] = set()
    for (field, priority, _, _), amount in pairs:
        if amount is not None and field not in taken:
            taken.add(field)
            yield field, priority, _with_confidence(amount, 0.7), True


def _amount_under(following: Line, start: int, end: int, credit: bool) -> Found | None:
    for match in AMOUNT.finditer(following.text):
        if abs(match.end() - end) <= 10 or abs(match.start() - start) <= 4:
            return _found(following, match, credit)
    return None


def _found(line: Line, match: re.Match, credit: bool) -> Found | None:
    value = parse_amount(match.group())
    if value is None:
        return None
    return Found(str(abs(value) if credit else value), line.page, line.start + match.start(),
                 line.start + match.end(), 0.7)


def _line_labels(line: Line) -> list[tuple[str, int, int, int]]:
    """(field, priority, start, end) of the labels on a line, best first, overlapping ones dropped."""
    if IDENTIFIER_LINE.search(line.folded):
        return []
    found = []
    for field, priority, label in _AMOUNT_LABELS:
        for match in label.finditer(line.folded):
            if not NOT_AMOUNT_CONTEXT.match(line.folded, match.end() + 1):
                found.append((priority, match.end() - match.start(), field, match.start(), match.end()))
    found.sort(key=lambda item: (-item[0], -item[1]))
    kept: list[tuple[str, int, int, int]] = []
    for priority, _, field, start, end in found:
        if all(end <= s or start >= e for _, _, s, e in kept):
            kept.append((field, priority, start, end))
    return kept


def _last_amount(line: Line, offset: int, credit: bool = False) -> Found | None:
    """The last amount after the label (not a percentage); a credit note's amounts count as positive."""
    candidates = [m for m in AMOUNT.finditer(line.text, offset)
                  if not re.match(r"\s?%", line.text[m.end():m.end() + 2])]
    if not candidates:
        return None
    match = candidates[-1]
    value = parse_amount(match.group())
    if value is None:
        return None
    return Found(str(abs(value) if credit else value), line.page, line.start + match.start(),
                 line.start + match.end(), 0.85)


def amount_due_default(found: dict[str, Found]) -> None:
    """With no amount due printed, EN 16931 says it is the grand total (nothing prepaid): trusted less."""
    grand = found.get("grand_total")
    if grand is not None and "amount_due" not in found:
        found["amount_due"] = _with_confidence(grand, min(grand.confidence, 0.6))


def _cross_check(found: dict[str, Found]) -> dict[str, Found]:
    net, tax, grand = (found.get(k) for k in ("net_total", "tax_total", "grand_total"))
    if net and tax and grand and Decimal(net.value) + Decimal(tax.value) == Decimal(grand.value):
        for key in ("net_total", "tax_total", "grand_total"):
            found[key] = _with_confidence(found[key], 0.95)
    elif net and tax and grand:
        for key in ("net_total", "tax_total", "grand_total"):
            found[key] = _with_confidence(found[key], 0.6)
    return found


def _with_confidence(found: Found, confidence: float) -> Found:
    return Found(found.value, found.page, found.start, found.end, confidence)


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
    for end in range(len(text), 3, -1):  # the greedy match may have eaten a following word or number
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

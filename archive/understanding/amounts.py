"""Totals found in a document's text: net, tax, grand total and amount due, with confidence and provenance.

Labelled amounts are trusted (0.85), amounts under column headers less (0.7); totals that add up (net + tax = grand)
get 0.95, totals that do not 0.6.
"""
from __future__ import annotations

import re
from decimal import Decimal

from archive.understanding.spans import Found, Line
from archive.understanding.values import AMOUNT, parse_amount

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
                     r"|zuzugl\.? (?:ust|mwst)|plus vat|total vat|vat total|vat amount|total tax|tax total|tax amount"
                     r"|mwst gesamt|ust gesamt"),
    ("tax_total", 2, r"\btva\b|\bmwst\b|\bust\b|umsatzsteuer|mehrwertsteuer|\bvat\b|\bsales tax\b|\btax\b"),
]
_AMOUNT_LABELS = [(f, p, re.compile(r)) for f, p, r in AMOUNT_LABELS]
IDENTIFIER_LINE = re.compile(r"idnr|\bn[o°]?\.? ?(?:de )?tva|numero (?:de )?tva|tva intra|vat (?:no|id|number|reg)"
                             r"|ust-?id|steuer-?n|siret|siren|\biban\b|\bbic\b|swift")
NOT_AMOUNT_CONTEXT = re.compile(r"n[o°]|nr|number|nummer|id|ident|intra|iban|bic|siret|siren|rcs|capital|kapital")


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
    net, tax, grand, due = (found.get(k) for k in ("net_total", "tax_total", "grand_total", "amount_due"))
    if grand is None and net and tax and due and Decimal(net.value) + Decimal(tax.value) == Decimal(due.value):
        grand = found["grand_total"] = due  # only the sum due is printed, and net + tax make it
    if net and tax and grand and Decimal(net.value) + Decimal(tax.value) == Decimal(grand.value):
        for key in ("net_total", "tax_total", "grand_total"):
            found[key] = _with_confidence(found[key], 0.95)
    elif net and tax and grand:
        for key in ("net_total", "tax_total", "grand_total"):
            found[key] = _with_confidence(found[key], 0.6)
    return found


def _with_confidence(found: Found, confidence: float) -> Found:
    return Found(found.value, found.page, found.start, found.end, confidence)

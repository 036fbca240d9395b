"""Document numbers and references found after their labels: invoice, order, delivery note, customer...

Labels are matched on folded text (lower case, no accents). Three forms are read:
`<noun> <number word>` ("Facture n°", "Rechnungs-Nr.", "Kundennummer", "Invoice No."),
`<number word> <noun>` ("N° de commande", "Numéro client", "Order number" is form one), and the bare noun followed by
a value with a digit ("Votre commande : PO-4711"), which is trusted less.
"""
from __future__ import annotations

import re

from archive.understanding.spans import Found, Line, after_label
from archive.understanding.values import DATE

# "n" alone is what OCR leaves of "n°" when a number follows ("Facture n F-2026-1")
NUMBER_WORD = (r"(?:(?:n\s?[o°]|nr|no|num(?:ero|ber|mer)?|nummer|ref(?:erence)?|code|id)(?![a-z])\.?|#"
               r"|n(?=\s+[a-z]{0,3}[-/]?\d))")
NOUNS = {
    "invoice": r"facture|rechnung|invoice",
    "credit": r"facture d.avoir|avoir|gutschrift|credit note|credit memo",
    "delivery": r"bon de livraison|bordereau de livraison|livraison|lieferschein|lieferung|delivery note|delivery"
                r"|packing slip|despatch note|dispatch note",
    "order": r"bon de commande|commande|bestellung|bestell|auftrag|purchase order|p\.?o\.?(?![-\w])|order",
    "confirmation": r"confirmation de commande|confirmation|auftragsbestatigung|bestellbestatigung"
                    r"|order confirmation|acknowledge?ment",
    "payment": r"avis de paiement|avis de virement|paiement|virement|zahlungsavis|zahlung|remittance advice"
               r"|remittance|payment advice|payment",
    "customer": r"client|kunden?|customer|compte client|debitor|account",
    "contract": r"contrat|vertrag|contract|agreement",
}
ANY_NOUN = re.compile("|".join(NOUNS.values()))
OWNERS = r"(?:(?:votre|notre|vos|nos|ihre[rn]?|unsere[rn]?|your|our)\s+)?"
VALUE = re.compile(r"\s*[:#]?\s*(?:" + NUMBER_WORD + r"\s*[:#]?\s*)?"
                   r"(?P<value>[A-Za-z0-9][A-Za-z0-9\-/_.]{0,39})")
_LABELS: list[tuple[str, float, re.Pattern]] = []
for _kind, _noun in NOUNS.items():
    _LABELS.append((_kind, 0.85, re.compile(r"\b" + OWNERS + r"(?:" + _noun + r")(?:s|-|s-)?\s*" + NUMBER_WORD)))
    _LABELS.append((_kind, 0.85, re.compile(r"\b" + NUMBER_WORD + r"\s*(?:de\s+(?:la\s+|l.)?|du\s+|d.)?"
                                             + OWNERS + r"(?:" + _noun + r")\b")))
    _LABELS.append((_kind, 0.65, re.compile(r"\b" + OWNERS + r"(?:" + _noun + r")\b(?=\s*:?\s*[A-Za-z\-]{0,4}\d)")))
    _LABELS.append((_kind, 0.6, re.compile(r"\b" + OWNERS + r"(?:" + _noun + r")(?=\s{2,}|\s*$)")))  # a column head
GENERIC = re.compile(r"^\s*(?:n\s?[o°]|nr|no|num(?:ero|ber)|nummer|beleg-?nr|belegnummer|document no)\.?\s*[:#]?",
                     re.M)
# the buyer's own reference is, in practice, its order number ("Votre référence PO445")
BUYER_REFERENCE = re.compile(r"\b(?:votre reference|vos references?|your reference|your ref|ihr zeichen|ihre referenz"
                             r"|buyer reference)\b\.?")
# a bare "Nummer:" just under a buyer heading is the customer number
BUYER_HEADING = re.compile(r"^\s*(?:kaufer|kunde|rechnungsempfanger|leistungsempfanger|buyer|customer|client|acheteur"
                           r"|destinataire|bill to)\b")
SECTION_NUMBER = re.compile(r"^\s*(?:nummer|number|numero|nr|no|id|kennung)\.?\s*:")
INLINE = re.compile(r"(?<=\s)" + NUMBER_WORD)  # "CONTRAT DE FOURNITURE N° CT-1" in the title lines
TITLE_LINES = 8


def find_references(lines: list[Line]) -> dict[str, list[Found]]:
    """kind -> values in reading order; `generic` holds bare "No.: 123" numbers.

    When several labels lead to the same value, the one starting first on the line (the longest) names its kind:
    "Confirmation de commande n° AB-1" is a confirmation number, not an order number."""
    best: dict[tuple[int, int], tuple[tuple[int, float], str, Found]] = {}
    for index, line in enumerate(lines):
        for kind, label_start, value in _candidates(lines, index):
            rank = (label_start, -value.confidence)
            key = (value.page, value.start)
            if key not in best or rank < best[key][0]:
                best[key] = (rank, kind, value)
    found: dict[str, list[Found]] = {}
    for _, kind, value in sorted(best.values(), key=lambda item: (item[2].page, item[2].start)):
        found.setdefault(kind, []).append(value)
    return found


def _candidates(lines: list[Line], index: int):
    line = lines[index]
    for kind, confidence, pattern in _LABELS if ANY_NOUN.search(line.folded) else ():
        for match in pattern.finditer(line.folded):
            value = _value_after(lines, index, match.end(), confidence, _start(line, match))
            if value is not None:
                yield kind, match.start(), value
    reference = BUYER_REFERENCE.search(line.folded)
    if reference:
        value = _value_after(lines, index, reference.end(), 0.6)
        if value is not None:
            yield "order", 999, value
    section = SECTION_NUMBER.match(line.folded)
    if section and any(BUYER_HEADING.match(lines[i].folded) for i in range(max(0, index - 3), index)
                       if lines[i].page == line.page):
        value = _value_after(lines, index, section.end(), 0.6)
        if value is not None:
            yield "customer", 998, value
    generic = GENERIC.match(line.folded)
    if generic:
        value = _value_after(lines, index, generic.end(), 0.6)
        if value is not None:
            yield "generic", 1000, value
    if line.page == 0 and line.number < TITLE_LINES:
        for match in INLINE.finditer(line.folded):
            value = _value_after(lines, index, match.end(), 0.55)
            if value is not None:
                yield "generic", 1001, value


def _start(line: Line, match: re.Match) -> int:
    """Where the label's words begin (after leading blanks the pattern may have eaten)."""
    return match.start() + len(match.group()) - len(match.group().lstrip())


def _value_after(lines: list[Line], index: int, label_end: int, confidence: float,
                 label_start: int | None = None) -> Found | None:
    for line, offset in after_label(lines, index, label_end, label_start):
        match = VALUE.match(line.text, offset)
        if match is None:
            if line is lines[index] and any(ch.isdigit() for ch in line.text[label_end:]):
                return None  # something else follows the label on its line: not a header row
            continue
        value = match.group("value").rstrip("./-_")
        if _acceptable(value, line.text, match.start("value")):
            start = line.start + match.start("value")
            return Found(value, line.page, start, start + len(value), confidence)
        if line is not lines[index] or any(ch.isdigit() for ch in line.text[label_end:]):
            return None  # only a header row ("Nummer   Datum   Kunde") sends us to the line below
    return None


def _acceptable(value: str, text: str, start: int) -> bool:
    if len(value) < 2 or not any(ch.isdigit() for ch in value):
        return False
    date = DATE.match(text, start)
    return not (date and date.end() - start >= len(value) - 1)

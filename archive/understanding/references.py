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

NUMBER_WORD = r"(?:(?:n\s?[o°]|nr|no|num(?:ero|ber|mer)?|nummer|ref(?:erence)?|code|id)(?![a-z])\.?|#)"
NOUNS = {
    "invoice": r"facture|rechnung|invoice",
    "credit": r"facture d.avoir|avoir|gutschrift|credit note|credit memo",
    "delivery": r"bon de livraison|bordereau de livraison|livraison|lieferschein|lieferung|delivery note|delivery"
                r"|packing slip|despatch note|dispatch note",
    "order": r"bon de commande|commande|bestellung|bestell|auftrag|purchase order|p\.?o\.?|order",
    "confirmation": r"confirmation de commande|confirmation|auftragsbestatigung|bestellbestatigung"
                    r"|order confirmation|acknowledge?ment",
    "payment": r"avis de paiement|avis de virement|paiement|virement|zahlungsavis|zahlung|remittance advice"
               r"|remittance|payment advice|payment",
    "customer": r"client|kunden?|customer|compte client|debitor|account",
    "contract": r"contrat|vertrag|contract|agreement",
}
OWNERS = r"(?:(?:votre|notre|vos|nos|ihre[rn]?|unsere[rn]?|your|our)\s+)?"
VALUE = re.compile(r"\s*[:#]?\s*(?:" + NUMBER_WORD + r"\s*[:#]?\s*)?"
                   r"(?P<value>[A-Za-z0-9][A-Za-z0-9\-/_.]{0,39})")
_LABELS: list[tuple[str, float, re.Pattern]] = []
for _kind, _noun in NOUNS.items():
    _LABELS.append((_kind, 0.85, re.compile(r"\b" + OWNERS + r"(?:" + _noun + r")(?:s|-|s-)?\s*" + NUMBER_WORD)))
    _LABELS.append((_kind, 0.85, re.compile(r"\b" + NUMBER_WORD + r"\s*(?:de\s+(?:la\s+|l.)?|du\s+|d.)?"
                                             + OWNERS + r"(?:" + _noun + r")\b")))
    _LABELS.append((_kind, 0.65, re.compile(r"\b" + OWNERS + r"(?:" + _noun + r")\b(?=\s*:?\s*[A-Za-z\-]{0,4}\d)")))
GENERIC = re.compile(r"^\s*(?:n\s?[o°]|nr|no|num(?:ero|ber)|nummer|belegnummer|document no)\.?\s*[:#]?", re.M)
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
    for kind, confidence, pattern in _LABELS:
        for match in pattern.finditer(line.folded):
            value = _value_after(lines, index, match.end(), confidence)
            if value is not None:
                yield kind, match.start(), value
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


def _value_after(lines: list[Line], index: int, label_end: int, confidence: float) -> Found | None:
    for line, offset in after_label(lines, index, label_end):
        match = VALUE.match(line.text, offset)
        if match is None:
            continue
        value = match.group("value").rstrip("./-_")
        if _acceptable(value, line.text, match.start("value")):
            start = line.start + match.start("value")
            return Found(value, line.page, start, start + len(value), confidence)
        return None
    return None


def _acceptable(value: str, text: str, start: int) -> bool:
    if len(value) < 2 or not any(ch.isdigit() for ch in value):
        return False
    date = DATE.match(text, start)
    return not (date and date.end() - start >= len(value) - 1)

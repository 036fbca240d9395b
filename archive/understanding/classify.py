"""Which kind of document is this? Cue phrases in French, German and English, weighed by where they stand.

A cue in the title (one of the first lines of page 1, short, starting with the cue) counts three times; in the top
of page 1 one and a half times; elsewhere on page 1 once; on later pages a little. Longer cues are matched first and
blank their span, so "confirmation de commande" is not also read as "commande". The confidence is the share of the
best type's score in the total, with a fixed prior mass for "none of these": one clear title gives about 0.85, a
second candidate of equal weight halves it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from archive.understanding.values import fold

# (doc_type, weight, cue). German cues may be the tail of a compound (Sammelrechnung) but not its head
# (Rechnungsadresse is on every delivery note), hence `(?![a-z])` after them and no boundary before.
CUES: list[tuple[str, float, str]] = [
    ("invoice", 1.0, r"\bfacture\b"), ("invoice", 1.0, r"rechnung(?![a-z])"), ("invoice", 1.0, r"\binvoice\b"),
    ("invoice", 0.4, r"rechnungsnummer|rechnungsdatum|rechnungsbetrag"), ("invoice", 0.3, r"\btotal ttc\b"),
    ("invoice", 0.3, r"\bdate d.echeance|\bfallig|\bdue date\b|\bpayment terms\b|\bzahlbar\b"),
    ("credit_note", 1.5, r"\bfacture d.avoir\b|\bavoir\b|gutschrift(?![a-z])|\bcredit note\b|\bcredit memo\b"),
    ("invoice", 1.0, r"rechnungs-?korrektur|korrekturrechnung"),  # a corrective invoice (UNTDID 384)
    ("credit_note", 1.2, r"stornorechnung"),
    ("delivery_note", 1.5, r"\bbon de livraison\b|\bbordereau de livraison\b|lieferschein(?![a-z])"
                           r"|\bdelivery note\b|\bpacking slip\b|\bdespatch note\b|\bdispatch note\b"),
    ("delivery_note", 0.4, r"\bquantite livree\b|\bgeliefert|\bdelivered\b|\blivraison\b|\blieferung\b"),
    ("order_confirmation", 1.8, r"\bconfirmation de commande\b|\baccuse de reception de commande\b"
                                r"|auftragsbestatigung|bestellbestatigung|\border confirmation\b"
                                r"|\border acknowledge?ment\b"),
    ("payment_advice", 1.8, r"\bavis de (?:paiement|virement|reglement)\b|zahlungsavis[e]?(?![a-z])"
                            r"|\bremittance advice\b|\bpayment advice\b|\bpayment notification\b"
                            r"|\bzahlungsanzeige\b"),
    ("payment_advice", 0.4, r"\bmontant regle\b|\bwe have paid\b|\bamount paid\b|\bnous avons (?:regle|vire)\b"
                            r"|\bwir haben .{0,30}uberwiesen\b|\bzahlungsbetrag\b"),
    ("purchase_order", 1.5, r"\bbon de commande\b|bestellung(?![a-z])|\bpurchase order\b|\border form\b"),
    ("contract", 1.2, r"\bcontrat\b|vertrag(?![a-z])|\bcontract\b|\bagreement\b|\bconvention\b"),
    ("contract", 0.4, r"\bles parties\b|\bdie parteien\b|\bthe parties\b|\bentre les soussignes\b"),
    # references to other documents ("your order", "sur facture") say nothing about this one's kind
    ("", 0.0, r"\b(?:ihre[rn]?|unsere[rn]?|zur?|der|die|your|our|the|votre|notre|vos|nos|la|sur|per|against|to)\s+"
              r"(?:bestellung|auftrag|order|purchase order|commande|bon de commande|rechnung|invoice|facture)\b"),
    ("shipping_document", 1.5, r"\blettre de voiture\b|frachtbrief|\bbill of lading\b|\bwaybill\b"
                               r"|\bavis d.expedition\b|versandanzeige|\bshipping notice\b|\bdelivery advice\b"),
]
ANY_CUE = re.compile("|".join(f"(?:{p})" for t, _, p in CUES if t))
_COMPILED = sorted(((t, w, re.compile(p)) for t, w, p in CUES), key=lambda c: -len(c[2].pattern))
TITLE_LINES, TOP_LINES = 6, 15
TITLE_FACTOR = 3.0
UPPER_TITLE_LINES = 25  # a short line of capitals this high on page 1 is a title too
LETTER_SPACED = re.compile(r"(?<![a-z])(?:[a-z] ){3,}[a-z](?![a-z])")
PRIOR = 0.5  # score mass kept for "something else"
MIN_SCORE = 0.9


@dataclass(frozen=True)
class Classification:
    doc_type: str | None
    confidence: float
    scores: dict[str, float]


def classify(pages: list[str], folded: list[str] | None = None) -> Classification:
    scores: dict[str, float] = {}
    titled = False  # only the first title-like line is the title; later ones are headings or citations
    folded = folded or [fold(page) for page in pages]
    for page_number, (page, folded_page) in enumerate(zip(pages, folded)):
        pairs = [(raw, low) for raw, low in zip(page.split("\n"), folded_page.split("\n")) if raw.strip()]
        for line_number, (raw, low) in enumerate(pairs):
            line = _unspaced(low)
            if ANY_CUE.search(line) is None:
                continue
            upper = _capitals(raw)
            line_titled = False
            for doc_type, weight, factor in _line_hits(line, page_number, line_number, titled, upper):
                scores[doc_type] = scores.get(doc_type, 0.0) + weight * factor
                line_titled = line_titled or factor == TITLE_FACTOR
            titled = titled or line_titled
    ranked = sorted(scores.items(), key=lambda item: -item[1])
    if not ranked or ranked[0][1] < MIN_SCORE:
        return Classification(None, 0.0, scores)
    best = ranked[0][1]
    second = ranked[1][1] if len(ranked) > 1 else 0.0
    return Classification(ranked[0][0], round(best / (best + second + PRIOR), 2), scores)


def _unspaced(line: str) -> str:
    """W A R E N R E C H N U N G -> WARENRECHNUNG (letter-spaced titles)."""
    return LETTER_SPACED.sub(lambda m: m.group().replace(" ", ""), line)


def _capitals(raw: str) -> bool:
    letters = [ch for ch in raw if ch.isalpha()]
    return len(letters) >= 4 and all(ch.isupper() for ch in letters)


def _line_hits(line: str, page_number: int, line_number: int, titled: bool, upper: bool):
    remaining = line
    for doc_type, weight, pattern in _COMPILED:
        for match in pattern.finditer(remaining):
            if doc_type:
                yield doc_type, weight, _position_factor(line, match.start(), match.end(), page_number, line_number,
                                                         titled, upper)
        remaining = pattern.sub(lambda m: " " * len(m.group()), remaining)


TITLE_PREFIX = re.compile(r"[\s:#*|-]*(?:[a-z]+\s+){0,2}[a-z]*")
CITATION = re.compile(r"[\s.:-]*(?:n\s?[o°]|nr|no|num|nummer|number|#)(?![a-z])")


def _position_factor(line: str, start: int, end: int, page_number: int, line_number: int, titled: bool,
                     upper: bool = False) -> float:
    """A cue followed by a number outside the title cites another document ("Bon de livraison n° BL-7")."""
    cited = 0.3 if CITATION.match(line, end) else 1.0
    if page_number > 0:
        return 0.4 * cited
    stripped = line.strip()  # a title may qualify its noun: "Supply Agreement", "Rahmenvertrag"
    title_like = len(stripped) <= 60 and TITLE_PREFIX.fullmatch(line[:start]) is not None
    if title_like and not titled and (line_number < TITLE_LINES or (line_number < UPPER_TITLE_LINES and upper)):
        return TITLE_FACTOR
    if line_number < TOP_LINES:
        return 1.5 * cited
    return 1.0 * cited

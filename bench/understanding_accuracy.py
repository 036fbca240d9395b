"""Accuracy of the unstructured reader (archive.understanding): fields right / fields expected.

Two sources of truth:
  generated  fr/de/en documents of seven types (tests/fixtures/business_docs.py), read from their text and from a
             PDF text layer (PDFium), against the values they were generated from;
  corpus     every hybrid PDF of ../shared/corpus/zugferd-corpus: the visible text read by PDFium and understood,
             against the embedded XML parsed exactly by archive.extraction.einvoice (only fields the XML has count).
Also prints the doc-type accuracy, accuracy per confidence band (is the confidence honest?), and the speed of
understand() (median of several runs).  Usage: python bench/understanding_accuracy.py [--runs 3] [--misses 20]
"""
from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections import Counter, defaultdict
from decimal import Decimal, InvalidOperation
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from archive.extraction.result import Extracted, Party  # noqa: E402
from archive.understanding import understand  # noqa: E402
from archive.understanding.validators import normalise  # noqa: E402
from tests.fixtures.business_docs import DOC_TYPES, LANGS, generate, text_pdf  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus" / "zugferd-corpus"
CORPUS_FIELDS = ("number", "issue_date", "due_date", "currency", "net_total", "tax_total", "grand_total",
                 "amount_due", "seller.vat_id", "buyer.vat_id", "buyer.id", "order_references", "payment.iban")
BANDS = ((0.9, "≥0.90"), (0.7, "0.70–0.89"), (0.5, "0.50–0.69"), (0.0, "<0.50"))


def pdf_text_pages(data_or_path) -> list[str]:
    try:
        from archive.extraction.pdf import pdf_pages  # the pipeline's reader, when it is there
        if isinstance(data_or_path, (str, Path)):
            return pdf_pages(str(data_or_path), 500)[0]
    except ImportError:
        pass
    import pypdfium2 as pdfium
    document = pdfium.PdfDocument(data_or_path if isinstance(data_or_path, bytes) else str(data_or_path))
    try:
        pages = []
        for page in document:
            text_page = page.get_textpage()
            pages.append(text_page.get_text_range().replace("\r\n", "\n").replace("\r", "\n"))
            text_page.close()
            page.close()
        return pages
    finally:
        document.close()


def value_at(fields: dict, path: str):
    head, _, tail = path.partition(".")
    value = fields.get(head)
    if tail:
        value = getattr(value, tail, None) if isinstance(value, Party) else (value or {}).get(tail)
    return value


def same(path: str, expected, got) -> bool:
    if path == "order_references" or isinstance(expected, list):
        return bool(expected) and isinstance(got, list) and str(expected[0]).strip() in [str(g).strip() for g in got]
    if got is None:
        return False
    if path.endswith(("vat_id", "iban")):
        return normalise(str(expected)) == normalise(str(got))
    try:
        return Decimal(str(expected)) == Decimal(str(got))
    except InvalidOperation:
        return str(expected).strip() == str(got).strip()


class Tally:
    def __init__(self) -> None:
        self.right = self.expected = self.types_right = self.documents = 0
        self.per_field: dict[str, Counter] = defaultdict(Counter)
        self.bands: dict[str, Counter] = defaultdict(Counter)
        self.document_bands: dict[str, Counter] = defaultdict(Counter)
        self.misses: list[str] = []

    def add(self, name: str, result: Extracted, truth: dict) -> None:
        self.documents += 1
        self.types_right += result.doc_type == truth["doc_type"]
        if result.doc_type != truth["doc_type"]:
            self.misses.append(f"{name}: doc_type {truth['doc_type']} read as {result.doc_type}")
        band = next(label for floor, label in BANDS if (result.confidence or 0) >= floor)
        for path, expected in truth.items():
            if path == "doc_type" or expected in (None, [], ""):
                continue
            got = value_at(result.fields, path)
            ok = same(path, expected, got)
            self.expected += 1
            self.right += ok
            self.document_bands[band]["right" if ok else "wrong"] += 1
            self.per_field[path]["right" if ok else "wrong"] += 1
            spot = result.provenance.get(path) or result.provenance.get(f"{path}[0]")
            if got not in (None, []) and spot:
                band = next(label for floor, label in BANDS if spot["confidence"] >= floor)
                self.bands[band]["right" if ok else "wrong"] += 1
            if not ok:
                self.misses.append(f"{name}: {path} expected {expected!r} got {got!r}")

    def report(self, title: str, show_misses: int) -> None:
        print(f"\n== {title}: {self.documents} documents")
        print(f"doc type right: {self.types_right}/{self.documents} ({pct(self.types_right, self.documents)})")
        print(f"fields right / fields expected: {self.right}/{self.expected} ({pct(self.right, self.expected)})")
        for path, counts in sorted(self.per_field.items()):
            total = counts["right"] + counts["wrong"]
            print(f"  {path:<20} {counts['right']:>5}/{total:<5} {pct(counts['right'], total)}")
        print("precision of the values found, by their confidence:")
        print_bands(self.bands)
        print("fields right, by the document's overall confidence:")
        print_bands(self.document_bands)
        for miss in self.misses[:show_misses]:
            print("  miss:", miss)


def pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f} %" if whole else "n/a"


def print_bands(by_band: dict[str, Counter]) -> None:
    for _, label in BANDS:
        counts = by_band.get(label, Counter())
        total = counts["right"] + counts["wrong"]
        if total:
            print(f"  {label:<10} {counts['right']:>5}/{total:<5} {pct(counts['right'], total)}")


def read(pages: list[str]) -> Extracted:
    return understand(Extracted(None, "text", {}, None, "\n".join(pages), pages))


def generated(per_cell: int, through_pdf: bool) -> tuple[Tally, list[list[str]]]:
    rng, tally, texts = random.Random(20261129), Tally(), []
    for doc_type in DOC_TYPES:
        for lang in LANGS:
            for index in range(per_cell):
                pages, truth = generate(rng, doc_type, lang)
                if through_pdf:
                    pages = pdf_text_pages(text_pdf(pages))
                texts.append(pages)
                tally.add(f"{doc_type}/{lang}/{index}", read(pages), {"doc_type": doc_type, **truth})
    return tally, texts


def corpus() -> tuple[Tally, list[list[str]]]:
    from archive.extraction.einvoice import from_pdf
    tally, texts = Tally(), []
    for path in sorted(CORPUS.rglob("*.pdf")):
        if "/fail/" in str(path):
            continue
        try:
            exact = from_pdf(path)
        except Exception as exc:  # noqa: BLE001 - a broken sample is reported, not fatal
            print(f"  skipped {path.name}: {exc}")
            continue
        if exact is None:
            continue
        pages = pdf_text_pages(path)
        if not "".join(pages).strip():
            continue
        texts.append(pages)
        truth = {"doc_type": exact.doc_type, **{p: value_at(exact.fields, p) for p in CORPUS_FIELDS}}
        tally.add(str(path.relative_to(CORPUS)), read(pages), truth)
    return tally, texts


def speed(texts: list[list[str]], runs: int) -> str:
    rates = []
    for _ in range(runs):
        start = time.perf_counter()
        for pages in texts:
            read(pages)
        rates.append(len(texts) / (time.perf_counter() - start))
    return f"{statistics.median(rates):.0f} docs/s (median of {runs}; runs {', '.join(f'{r:.0f}' for r in rates)})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-cell", type=int, default=10, help="generated documents per type and language")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--misses", type=int, default=15, help="misses to print per source")
    args = parser.parse_args()
    tally, texts = generated(args.per_cell, through_pdf=False)
    tally.report("generated fr/de/en, text", args.misses)
    pdf_tally, _ = generated(args.per_cell, through_pdf=True)
    pdf_tally.report("generated fr/de/en, through a PDF text layer", args.misses)
    print("understand() speed, generated:", speed(texts, args.runs))
    if CORPUS.is_dir():
        corpus_tally, corpus_texts = corpus()
        corpus_tally.report("zugferd-corpus hybrid PDFs: visible text vs embedded XML", args.misses)
        print("understand() speed, corpus:", speed(corpus_texts, args.runs))
    else:
        print(f"\ncorpus not found at {CORPUS}: skipped")


if __name__ == "__main__":
    main()

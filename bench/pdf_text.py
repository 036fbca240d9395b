"""pypdfium2 against pdfminer.six for the PDF text layer: speed and quality, median of 3 runs.

Quality is word recall against known text: generated PDFs (French, German, English, 2 pages each) and the
format-corpus lorem-ipsum PDFs (truth: lorem-ipsum.txt). Speed is pages per second over those plus the readable PDFs
of pypdf-sample-files and the zugferd corpus. Needs the bench extra (`pip install -e .[bench]`).

    .venv/bin/python bench/pdf_text.py
"""
from __future__ import annotations

import re
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.fixtures.documents import ENGLISH, FRENCH, GERMAN, text_pdf  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus"
WORD = re.compile(r"\w+", re.UNICODE)


def pdfium_text(path: Path) -> list[str]:
    import pypdfium2 as pdfium
    document = pdfium.PdfDocument(str(path))
    try:
        pages = []
        for page in document:
            text_page = page.get_textpage()
            pages.append(text_page.get_text_range())
            text_page.close()
            page.close()
        return pages
    finally:
        document.close()


def pdfminer_text(path: Path) -> list[str]:
    from pdfminer.high_level import extract_pages
    from pdfminer.layout import LTTextContainer
    return ["".join(element.get_text() for element in page if isinstance(element, LTTextContainer))
            for page in extract_pages(str(path))]


def recall(truth: str, found: str) -> float:
    wanted = [w.lower() for w in WORD.findall(truth)]
    have = {w.lower() for w in WORD.findall(found)}
    return sum(w in have for w in wanted) / len(wanted) if wanted else 1.0


def samples(work: Path) -> tuple[list[tuple[Path, str]], list[Path]]:
    truth: list[tuple[Path, str]] = []
    for name, lines in (("fr", FRENCH), ("de", GERMAN), ("en", ENGLISH)):
        path = work / f"{name}.pdf"
        path.write_bytes(text_pdf([lines, list(reversed(lines))]))
        truth.append((path, " ".join(lines * 2)))
    variations = CORPUS / "format-corpus" / "variations"
    if variations.is_dir():
        lorem = (variations / "lorem-ipsum.txt").read_text(encoding="utf-8", errors="replace")
        truth += [(p, lorem) for p in sorted((variations / "variations" / "application" / "pdf").glob("*.pdf"))]
    speed = [p for p, _ in truth]
    for folder in ("pypdf-sample-files", "zugferd-corpus/ZUGFeRDv2/correct"):
        speed += sorted((CORPUS / folder).rglob("*.pdf"))[:40] if (CORPUS / folder).is_dir() else []
    return truth, speed


def timed(reader, paths: list[Path]) -> tuple[float, int]:
    pages, started = 0, time.perf_counter()
    for path in paths:
        try:
            pages += len(reader(path))
        except Exception:  # noqa: BLE001 - an unreadable file counts no pages for either reader
            pass
    return time.perf_counter() - started, pages


def main() -> None:
    import logging
    import tempfile
    logging.getLogger("pdfminer").setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory() as work:
        truth, speed = samples(Path(work))
        readable = [p for p in speed if _readable(p)]
        print(f"quality on {len(truth)} PDFs with known text; speed on {len(readable)} PDFs")
        for name, reader in (("pypdfium2", pdfium_text), ("pdfminer.six", pdfminer_text)):
            scores = [recall(text, "\n".join(reader(path))) for path, text in truth]
            runs = [timed(reader, readable) for _ in range(3)]
            seconds = statistics.median(r[0] for r in runs)
            pages = runs[0][1]
            print(f"{name:13s} word recall {statistics.mean(scores):.3f} (min {min(scores):.3f})  "
                  f"{pages} pages in {seconds:.2f} s = {pages / seconds:,.0f} pages/s (median of 3)")


def _readable(path: Path) -> bool:
    try:
        return bool(pdfium_text(path))
    except Exception:  # noqa: BLE001
        return False


if __name__ == "__main__":
    main()

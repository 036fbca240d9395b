"""OCR with OCRmyPDF and Tesseract (eng, fra, deu): a searchable PDF/A rendition plus its text, page by page.

The same path Paperless-ngx takes. Images (PNG, JPEG, TIFF, every frame) are first laid out as a PDF at 300 dpi by
img2pdf after Pillow normalises them (no alpha, no palette surprises), so OCRmyPDF always starts from a PDF.
Runs only inside the sandbox: Tesseract and Ghostscript inherit its limits and its process group.
"""
from __future__ import annotations

import logging
from pathlib import Path

from archive.extraction.result import ExtractionError

LANGUAGES = ["eng", "fra", "deu"]
DPI = 300
MAX_IMAGE_PIXELS = 150_000_000


def ocr_pdf(source: Path, workdir: Path) -> tuple[Path, list[str]]:
    """Returns the PDF/A rendition and the recognised text of each page. Only image-only PDFs come here, so pages are
    rasterised whole (force): Debian 12's Ghostscript 10.0 corrupts PDFs with existing text in skip mode."""
    import ocrmypdf
    logging.getLogger("ocrmypdf").setLevel(logging.ERROR)
    output, sidecar = workdir / "ocr-pdfa.pdf", workdir / "ocr.txt"
    try:
        ocrmypdf.ocr(source, output, language=LANGUAGES, output_type="pdfa", sidecar=sidecar, jobs=1,
                     force_ocr=True, optimize=0, progress_bar=False, use_threads=True,
                     max_image_mpixels=MAX_IMAGE_PIXELS / 1e6, tesseract_timeout=120)
    except ocrmypdf.exceptions.ExitCodeException as exc:
        raise ExtractionError(f"OCR failed: {type(exc).__name__}: {exc}".strip()) from None
    text = sidecar.read_text(encoding="utf-8", errors="replace")
    return output, [page.strip("\n") for page in text.split("\f")][: _page_total(output)]


def image_to_pdf(source: Path, workdir: Path, max_pages: int) -> Path:
    import img2pdf
    from PIL import Image, ImageSequence
    Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS  # larger raises DecompressionBombError: a clear failure
    frames: list[Path] = []
    try:
        with Image.open(source) as image:
            for number, frame in enumerate(ImageSequence.Iterator(image)):
                if number >= max_pages:
                    raise ExtractionError(f"page limit: the image has more than {max_pages} frames")
                target = workdir / f"frame-{number:05d}.png"
                frame.convert("L" if frame.mode in ("1", "L", "I;16", "I") else "RGB").save(target)
                frames.append(target)
    except (OSError, Image.DecompressionBombError, SyntaxError) as exc:
        raise ExtractionError(f"unreadable image: {exc}") from None
    pdf = workdir / "image.pdf"
    pdf.write_bytes(img2pdf.convert([str(f) for f in frames], layout_fun=img2pdf.get_fixed_dpi_layout_fun((DPI, DPI))))
    return pdf


def _page_total(path: Path) -> int:
    from archive.extraction.pdf import page_count
    return page_count(str(path))

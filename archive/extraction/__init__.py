"""Understanding documents: structured e-invoices and payment advices, text, OCR.

`result` holds the shared types (`Extracted`, `Party`, `ExtractionError`); `einvoice` parses structured XML
(CII, UBL, ISO 20022) and the XML embedded in PDF/A-3. The dispatch over these lives here (owned by the pipeline).
"""

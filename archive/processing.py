"""Processing a filed version, in order: read -> structured (e-invoice) -> text/OCR -> understand -> store -> link ->
index.

Runs from the outbox (task `document.process`), never on the filing path. The original is only read: a private copy
is checked against its checksum and parsed in a sandboxed child with CPU, memory, page and wall-clock limits
(archive.extraction.sandbox), so a file that loops, explodes or crashes the parser ends `failed` with the reason
while the original stays filed. A failure of our own (database, blob store) raises and is retried with backoff by the
outbox. Running it twice does no harm: the extraction and rendition rows are replaced, attachments are filed under
an idempotency key, and the index record is upserted.
"""
from __future__ import annotations

import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import delete, update
from sqlalchemy.orm import Session

from archive.attachments import file_attachments
from archive.blobstore import read_chunks
from archive.extraction import extract
from archive.extraction.result import Extracted, Party
from archive.extraction.sandbox import Limits, SandboxFailure, run_limited
from archive.hashing import hash_chunks
from archive.linking import link_document
from archive.models import Document, Extraction
from archive.renditions import store_rendition
from archive.runtime import Runtime
from archive.tasks import complete_in
from archive.understanding import understand
from audit.log import Actor, append
from retention.policies import schedule_of
from search.indexing import index_document

SYSTEM = Actor.system("processing")


@dataclass(frozen=True)
class Target:
    document_id: str
    version: int
    checksum: str
    size: int
    mime_type: str


def process_document(rt: Runtime, payload: dict[str, Any]) -> None:
    target = _begin(rt, payload["document_id"])
    if target is None:
        return  # disposed or never committed: nothing to do
    work_root = _work_root(rt)
    with tempfile.TemporaryDirectory(dir=work_root, prefix="process-") as work:
        try:
            source = _private_copy(rt, target, Path(work))
            outcome = run_limited(extract, (str(source), target.mime_type, work, rt.settings.processing_max_pages),
                                  limits_of(rt))
        except SandboxFailure as failure:
            index_document(rt, target.document_id)  # its metadata stays findable
            _finish_failed(rt, target, failure.reason)
            return
        extracted = _understand(_extracted_from(outcome["extracted"]))
        attachments = file_attachments(rt, target.document_id, target.version, outcome["attachments"])
        _store_and_link(rt, target, extracted, outcome["rendition"], attachments)
    index_document(rt, target.document_id)
    _finish_done(rt, target)  # last: `done` means stored, linked and searchable


def _work_root(rt: Runtime) -> Path:
    """Private copies live here while parsed; what a killed worker left behind is swept once it is surely stale."""
    root = Path(rt.settings.data_dir) / "work"
    root.mkdir(parents=True, exist_ok=True)
    stale_before = time.time() - 2 * rt.settings.processing_wall_seconds - 60
    for entry in os.scandir(root):
        if entry.name.startswith("process-") and entry.stat().st_mtime < stale_before:
            shutil.rmtree(entry.path, ignore_errors=True)
    return root


def limits_of(rt: Runtime) -> Limits:
    s = rt.settings
    return Limits(cpu_seconds=s.processing_cpu_seconds, memory_mb=s.processing_memory_mb,
                  max_pages=s.processing_max_pages, wall_seconds=s.processing_wall_seconds,
                  jobs_per_worker=s.processing_jobs_per_worker)


def mark_failed(rt: Runtime, document_id: str, error: str) -> None:
    """The outbox gave up on a failure of our own (after every retry)."""
    with rt.transaction() as session:
        document = session.get(Document, document_id)
        if document is not None:
            document.processing_status, document.processing_error = "failed", error[:2000]


def mark_retrying(rt: Runtime, document_id: str, error: str) -> None:
    with rt.transaction() as session:
        document = session.get(Document, document_id)
        if document is not None and document.status != "disposed":
            document.processing_status = "queued"
            document.processing_error = f"retrying after: {error}"[:2000]


def mark_processing(session: Session, document_ids: list[str]) -> None:
    """Their processing has started: called in the transaction that claims their outbox items (archive.tasks), so
    starting costs no commit of its own."""
    if document_ids:
        session.execute(update(Document).where(Document.id.in_(document_ids), Document.status != "disposed")
                        .values(processing_status="processing"))


def _begin(rt: Runtime, document_id: str) -> Target | None:
    with rt.reading() as session:
        document = session.get(Document, document_id)
        if document is None or document.status == "disposed":
            return None
        version = document.versions[-1]
        return Target(document_id, version.number, version.checksum, version.size, version.mime_type)


def _private_copy(rt: Runtime, target: Target, work: Path) -> Path:
    """The parser reads a copy, never the stored blob; the copy must be the filed bytes."""
    path = work / "original"
    with path.open("wb") as copy:
        def chunks():
            for chunk in read_chunks(rt.blobs.open(target.checksum, target.size)):
                copy.write(chunk)
                yield chunk
        checksum, size = hash_chunks(chunks())
    if checksum != target.checksum or size != target.size:
        raise SandboxFailure(f"the stored content no longer matches its checksum {target.checksum}; not processed")
    return path


def _extracted_from(data: dict[str, Any]) -> Extracted:
    """The child answers in JSON; parties come back as objects, as the extractors made them."""
    fields = data.get("fields") or {}
    for key in ("seller", "buyer"):
        if isinstance(fields.get(key), dict):
            fields[key] = Party(**fields[key])
    return Extracted(**data)


def _store_and_link(rt: Runtime, target: Target, extracted: Extracted, rendition: dict | None,
                    attachments: list[dict]) -> None:
    """Stores the extraction and rendition and links the document, in one transaction: each commit is a sync, and on
    SQLite every other writer waits for it."""
    plain = extracted.as_json()
    details = {**extracted.details, "page_count": len(extracted.pages)}
    if attachments:
        details["attachments"] = attachments
    with rt.transaction() as session:
        session.execute(delete(Extraction).where(Extraction.document_id == target.document_id,
                                                 Extraction.version == target.version))
        session.add(Extraction(document_id=target.document_id, version=target.version, source=extracted.source,
                               doc_type=extracted.doc_type, text=extracted.text, fields=plain["fields"],
                               confidence=extracted.confidence, created_at=rt.clock(), pages=extracted.pages,
                               provenance=plain.get("provenance"), details=details))
        if rendition is not None:
            store_rendition(session, rt, SYSTEM, target.document_id, target.version, rendition)
        session.flush()
        _link(session, rt, target.document_id)


def _finish_done(rt: Runtime, target: Target) -> None:
    with rt.transaction() as session:
        document = session.get(Document, target.document_id)
        if document.current_version == target.version:  # a newer version has its own task coming
            document.processing_status, document.processing_error = "done", None
        complete_in(session)


def _finish_failed(rt: Runtime, target: Target, reason: str) -> None:
    with rt.transaction() as session:
        document = session.get(Document, target.document_id)
        document.processing_status, document.processing_error = "failed", reason[:2000]
        append(session, rt.clock, SYSTEM, "document.processing_failed", f"document:{target.document_id}",
               {"version": target.version, "checksum": target.checksum, "reason": reason[:500]})
        complete_in(session)


def _understand(extracted: Extracted) -> Extracted:
    """Classification and field extraction for text and OCR; structured results come back untouched."""
    return understand(extracted)


def _link(session: Session, rt: Runtime, document_id: str) -> None:
    """Dossier linking: order, relations, review reasons (archive.linking)."""
    link_document(session, rt.clock, document_id, schedule_of(rt))  # retention follows an order attached here

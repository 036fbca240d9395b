"""Renditions: derived content stored as blobs beside the untouched original (the OCR's searchable PDF/A).

Like originals they are content-addressed and hashed; reading one is audited like reading content.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from archive.access import read_permitted, refusal
from archive.documents import Content, load, verify_blob
from archive.errors import Gone, NotFound
from archive.hashing import spool_stream
from archive.models import Blob, Document, Rendition
from archive.runtime import Runtime
from audit.log import Actor, append

MAX_RENDITION_BYTES = 4 * 1024 * 1024 * 1024


def store_rendition(session: Session, rt: Runtime, actor: Actor, document_id: str, version: int,
                    made: dict[str, Any]) -> Rendition:
    """`made` is the sandbox's answer: {path, kind, mime_type}. Replaces an earlier rendition of the same kind."""
    with open(made["path"], "rb") as source:
        spool = spool_stream(source, rt.blobs.spool_dir(), MAX_RENDITION_BYTES)
    with spool:
        storage_key = rt.blobs.put(spool)
        if session.get(Blob, spool.checksum) is None:
            session.add(Blob(checksum=spool.checksum, size=spool.size, storage_key=storage_key,
                             created_at=rt.clock()))
        session.execute(delete(Rendition).where(Rendition.document_id == document_id, Rendition.version == version,
                                                Rendition.kind == made["kind"]))
        rendition = Rendition(document_id=document_id, version=version, kind=made["kind"], checksum=spool.checksum,
                              size=spool.size, mime_type=made["mime_type"], created_at=rt.clock())
        session.add(rendition)
        session.flush()
    append(session, rt.clock, actor, "rendition.created", f"document:{document_id}",
           {"version": version, "kind": rendition.kind, "checksum": rendition.checksum, "size": rendition.size})
    return rendition


def checksums_of(session: Session, document_ids: list[str]) -> set[str]:
    """For disposition: renditions go with their document."""
    if not document_ids:
        return set()
    return set(session.scalars(select(Rendition.checksum).where(Rendition.document_id.in_(document_ids))))


def open_rendition(rt: Runtime, actor: Actor, document_id: str, kind: str) -> Content:
    """The rendition of the current version, verified against its checksum; the read is audited."""
    with rt.transaction() as session:
        document = load(session, document_id)
        allowed = read_permitted(session, rt.clock, actor, document, "rendition")
        if allowed:
            rendition = _current_rendition(session, document, kind)
            verify_blob(rt, rendition.checksum, rendition.size)
            append(session, rt.clock, actor, "rendition.downloaded", f"document:{document_id}",
                   {"version": rendition.version, "kind": kind, "checksum": rendition.checksum})
    if not allowed:
        raise refusal(document_id)
    filename = f"{document_id}-v{rendition.version}-{kind}.pdf"
    return Content(document_id, rendition.version, rendition.checksum, rendition.size, rendition.mime_type,
                   filename, rt.blobs.open(rendition.checksum, rendition.size))


def _current_rendition(session: Session, document: Document, kind: str) -> Rendition:
    if document.status == "disposed":
        raise Gone(f"the content of document {document.id} was destroyed by disposition", code="disposed")
    rendition = session.scalar(select(Rendition).where(Rendition.document_id == document.id,
                                                       Rendition.version == document.current_version,
                                                       Rendition.kind == kind))
    if rendition is None:
        raise NotFound(f"document {document.id} has no {kind} rendition of its current version",
                       code="rendition_not_found")
    return rendition

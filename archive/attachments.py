"""Attachments of a message (EML), each filed as its own document through the normal filing service, with the
message's customer and order and an `attachment-of` relation (attachment -> message).

Idempotent: each attachment is filed under an idempotency key made of the message, its version and the attachment's
checksum, so processing the message again returns the same documents; a missing relation is added.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from sqlalchemy import select

from archive.errors import ArchiveError
from archive.hashing import spool_stream
from archive.metadata import parse_filing
from archive.models import Document, Relation
from archive.runtime import Runtime
from audit.log import Actor, append

log = logging.getLogger(__name__)
FILER = Actor.system("processing")


def file_attachments(rt: Runtime, message_id: str, version: int, found: list[dict]) -> list[dict[str, Any]]:
    """`found`: [{filename, path}] from the sandbox. Returns [{filename, document_id}|{filename, error}]."""
    if not found:
        return []
    from archive.filing import file_document
    with rt.reading() as session:
        message = session.get(Document, message_id)
        customer = message.customer.number
        order = message.order.number if message.order else None
    outcome = []
    for item in found:
        metadata = parse_filing({"doc_type": "other", "customer": {"number": customer},
                                 "order": {"number": order} if order else None, "title": item["filename"],
                                 "relations": [{"type": "attachment-of", "target": message_id}]})
        try:
            with Path(item["path"]).open("rb") as source:
                spool = spool_stream(source, rt.blobs.spool_dir(), rt.settings.max_upload_bytes)
            with spool:
                receipt = file_document(rt, spool, metadata, FILER, filename=item["filename"], channel="email",
                                        idempotency_key=f"attachment:{message_id}:v{version}:{spool.checksum}")
        except ArchiveError as error:  # not an accepted type, too large...: the message itself keeps it
            log.info("attachment %r of %s not filed: %s", item["filename"], message_id, error.message)
            outcome.append({"filename": item["filename"], "error": f"{error.code}: {error.message}"})
            continue
        _ensure_relation(rt, receipt["id"], message_id)
        outcome.append({"filename": item["filename"], "document_id": receipt["id"]})
    return outcome


def _ensure_relation(rt: Runtime, attachment_id: str, message_id: str) -> None:
    """The same bytes may have been filed before on their own: they still become an attachment of the message."""
    if attachment_id == message_id:
        return
    with rt.transaction() as session:
        exists = session.scalar(select(Relation.id).where(Relation.source_id == attachment_id,
                                                          Relation.target_id == message_id,
                                                          Relation.type == "attachment-of"))
        if exists is None:
            session.add(Relation(source_id=attachment_id, target_id=message_id, type="attachment-of",
                                 created_at=rt.clock(), created_by=FILER.name))
            append(session, rt.clock, FILER, "relation.added", f"document:{attachment_id}",
                   {"type": "attachment-of", "target": message_id})

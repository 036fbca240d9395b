"""Disposition certificates: a canonical JSON record of everything a batch destroyed, Ed25519-signed, filed as a
document of type `disposition_certificate` (kept for as long as the archive exists, per the shipped schedules).

The file is `{"certificate": <canonical JSON>, "signature": {...}}`. The certificate is streamed to disk (constant
memory for any batch size), hashed as it is written, and the signature covers the statement
`{"certificate_sha256": "sha256:<hex>", "type": "disposition-certificate"}` in canonical JSON. `verify_certificate`
checks a file with nothing but the published public key.

Beside it, in the same pass, a readable PDF (retention/certificate_pdf.py) lists every destroyed document with its
checksums, the batch, the approvals and the signature's key id; it is filed as a second `disposition_certificate`
document (`pdf_certificate_id` on the batch), with the same retention.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Iterator

from sqlalchemy import func, select

from archive.clock import as_utc, isoformat
from archive.hashing import Spool
from archive.metadata import Filing
from archive.models import Customer, Document, DocumentVersion, Order
from archive.models_retention import DispositionBatch, DispositionItem
from archive.runtime import Runtime
from audit.log import Actor, append, canonical_json
from audit.signing import ALGORITHM, ensure_key, sign, verify
from retention.certificate_pdf import PdfWriter, footer_lines, header_lines, item_lines

TYPE = "disposition-certificate"
ARCHIVE_CUSTOMER = "ARCHIVE"
CHUNK = 1000
MAX_CERTIFICATE_BYTES = 16 * 1024 ** 3


def statement(certificate_sha256: str) -> bytes:
    return canonical_json({"certificate_sha256": certificate_sha256, "type": TYPE})


def issue_certificate(rt: Runtime, actor: Actor, batch_id: str) -> dict[str, Any]:
    from archive.filing import file_generated
    from retention.disposition import batch_view
    with rt.reading() as session:
        batch = session.get(DispositionBatch, batch_id)
        if batch.certificate_id:
            return batch_view(batch)
    key_dir = Path(rt.settings.signing_key_dir)
    with rt.transaction() as session:
        key = ensure_key(session, rt.clock, actor, key_dir)
        key_id, public_key = key.key_id, key.public_key
    with Spool(rt.blobs.spool_dir(), MAX_CERTIFICATE_BYTES) as spool, \
            Spool(rt.blobs.spool_dir(), MAX_CERTIFICATE_BYTES) as pdf_spool:
        digest, disposed, signature = _write(rt, batch_id, spool, pdf_spool, key_dir, key)
        receipt = file_generated(rt, spool, _filing(rt, batch_id, "certificate"), actor, "application/json",
                                 f"disposition-{batch_id}.json")
        pdf = file_generated(rt, pdf_spool, _filing(rt, batch_id, "certificate (readable PDF)"), actor,
                             "application/pdf", f"disposition-{batch_id}.pdf")
    with rt.transaction() as session:
        batch = session.get(DispositionBatch, batch_id)
        batch.status, batch.executed_at, batch.executed_by = "executed", rt.clock(), actor.name
        batch.disposed_count, batch.certificate_id, batch.pdf_certificate_id = disposed, receipt["id"], pdf["id"]
        append(session, rt.clock, actor, "disposition.executed", f"disposition:{batch_id}",
               {"disposed": disposed, "certificate": receipt["id"], "certificate_checksum": receipt["checksum"],
                "certificate_sha256": digest, "signature": signature, "key_id": key_id, "public_key": public_key,
                "pdf_certificate": pdf["id"], "pdf_certificate_checksum": pdf["checksum"]})
        return batch_view(batch)


def _filing(rt: Runtime, batch_id: str, what: str) -> Filing:
    return Filing(doc_type="disposition_certificate", customer_number=ARCHIVE_CUSTOMER,
                  customer_name="The archive (records management)", document_date=rt.clock().date(),
                  title=f"Disposition {what} for batch {batch_id}", external_reference=batch_id)


def _write(rt: Runtime, batch_id: str, spool: Spool, pdf_spool: Spool, key_dir: Path,
           key: Any) -> tuple[str, int, str]:
    """One pass over the disposed documents feeds both the JSON certificate and its readable PDF."""
    hasher, disposed = hashlib.sha256(), 0

    def put(data: bytes) -> None:
        hasher.update(data)
        spool.write(data)

    spool.write(b'{"certificate":')
    head, tail, frame = _frame(rt, batch_id)
    pdf = PdfWriter(pdf_spool.write, f"Disposition certificate, batch {batch_id}")
    for text in header_lines(batch_id, *frame[:3]):
        pdf.line(text)
    put(head)
    for index, item in enumerate(_items(rt, batch_id)):
        put((b"," if index else b"") + canonical_json(item))
        for text in item_lines(item):
            pdf.line(text)
        disposed += 1
    put(tail)
    digest = "sha256:" + hasher.hexdigest()
    signature = sign(key_dir, key, statement(digest))
    signed = {"algorithm": ALGORITHM, "key_id": key.key_id, "public_key": key.public_key, "signed": digest,
              "value": signature}
    spool.write(b',"signature":' + canonical_json(signed) + b"}")
    for text in footer_lines(disposed, frame[3], digest, signed):
        pdf.line(text)
    pdf.close()
    return digest, disposed, signature


def _frame(rt: Runtime, batch_id: str) -> tuple[bytes, bytes, tuple[dict, dict, str, int]]:
    """The certificate's keys in canonical (sorted) order, around the `documents` array streamed between."""
    with rt.reading() as session:
        batch = session.get(DispositionBatch, batch_id)
        counts = dict(session.execute(select(DispositionItem.outcome, func.count()).where(
            DispositionItem.batch_id == batch_id).group_by(DispositionItem.outcome)).all())
    issued_at = isoformat(rt.clock())
    approvals = {"proposed_by": batch.proposed_by, "proposed_at": isoformat(batch.proposed_at),
                 "approved_by": batch.approved_by, "approved_at": isoformat(batch.approved_at),
                 "executed_by": batch.executed_by}
    head = (b'{"approvals":' + canonical_json(approvals) + b',"batch":' + canonical_json(batch_id)
            + b',"document_count":' + str(counts.get("disposed", 0)).encode() + b',"documents":[')
    policy = {"schedule": batch.schedule, "schedule_hash": batch.schedule_hash, "reason": batch.reason}
    skipped = counts.get("skipped", 0)
    tail = (b'],"issued_at":' + canonical_json(issued_at) + b',"policy":' + canonical_json(policy)
            + b',"skipped":' + str(skipped).encode() + b',"type":' + canonical_json(TYPE) + b"}")
    return head, tail, (approvals, policy, issued_at, skipped)


def _items(rt: Runtime, batch_id: str) -> Iterator[dict[str, Any]]:
    """The disposed documents of the batch in id order, a chunk at a time (plain rows: no ORM objects)."""
    after = ""
    while True:
        with rt.reading() as session:
            rows = session.execute(
                select(Document.id, Document.doc_type, Customer.number.label("customer"),
                       Order.number.label("order"), Document.document_date, Document.filed_at,
                       Document.retain_until, Document.retention_class, Document.retention_rule,
                       Document.disposed_at)
                .join(DispositionItem, DispositionItem.document_id == Document.id)
                .join(Customer, Customer.id == Document.customer_id).outerjoin(Order, Order.id == Document.order_id)
                .where(DispositionItem.batch_id == batch_id, DispositionItem.outcome == "disposed",
                       Document.id > after).order_by(Document.id).limit(CHUNK)).all()
            versions: dict[str, list[dict[str, Any]]] = {}
            for v in session.execute(select(DocumentVersion.document_id, DocumentVersion.number,
                                            DocumentVersion.checksum, DocumentVersion.size)
                                     .where(DocumentVersion.document_id.in_([r.id for r in rows]))
                                     .order_by(DocumentVersion.document_id, DocumentVersion.number)):
                versions.setdefault(v.document_id, []).append({"number": v.number, "checksum": v.checksum,
                                                               "size": v.size})
        if not rows:
            return
        yield from (_item(row, versions.get(row.id, [])) for row in rows)
        after = rows[-1].id


def _item(row: Any, versions: list[dict[str, Any]]) -> dict[str, Any]:
    return {"id": row.id, "doc_type": row.doc_type, "customer": row.customer, "order": row.order,
            "document_date": row.document_date.isoformat() if row.document_date else None,
            "filed_at": isoformat(as_utc(row.filed_at)), "retain_until": row.retain_until.isoformat(),
            "retention_class": row.retention_class, "retention_rule": row.retention_rule,
            "disposed_at": isoformat(as_utc(row.disposed_at)), "versions": versions}


def verify_certificate(data: bytes, public_key: str | None = None) -> dict[str, Any]:
    """Checks the signature (against `public_key` when given, else the key the file names). Returns the
    certificate; raises ValueError when it does not verify."""
    parsed = json.loads(data)
    body, signature = parsed["certificate"], parsed["signature"]
    digest = "sha256:" + hashlib.sha256(canonical_json(body)).hexdigest()
    if digest != signature["signed"]:
        raise ValueError("the certificate does not match the digest that was signed")
    if not verify(public_key or signature["public_key"], statement(digest), signature["value"]):
        raise ValueError("the certificate's signature does not verify")
    return body

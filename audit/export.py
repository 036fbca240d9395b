"""Evidence packages: a signed BagIt 1.0 zip that an auditor verifies offline with the verifier inside it.

Holds the original files, a metadata index (JSON and CSV), the documents' audit events with RFC 9162 inclusion
proofs up to a fresh signed checkpoint, that checkpoint, the public keys, and verify_package.py.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import zipfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from archive.access import readable
from archive.blobstore import read_chunks
from archive.clock import isoformat
from archive.customers import find_customer
from archive.errors import IntegrityFailure, InvalidInput, NotFound
from archive.models import AuditEvent, Document, Order
from archive.runtime import Runtime
from audit import checkpoints, signing
from audit.log import Actor, append, body_of, canonical_json
from audit.package_signature import sign_zip_file

VERIFIER_SOURCE = Path(__file__).with_name("package_verifier.py")
MERKLE_SOURCE = Path(__file__).with_name("merkle.py")
SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
MAX_EXPORT_DOCUMENTS = 10_000


@dataclass
class _Bag:
    zip: zipfile.ZipFile
    payload: dict[str, str] = field(default_factory=dict)
    payload_bytes: int = 0

    def add(self, name: str, data: bytes, compress: bool = True) -> None:
        self.zip.writestr(name, data, zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED)
        self.payload[name] = hashlib.sha256(data).hexdigest()
        self.payload_bytes += len(data)


def export_package(rt: Runtime, actor: Actor, output: Path, customer: str | None = None, order: str | None = None,
                   query: str | None = None) -> dict:
    """Exports a customer's documents (optionally one order's), or every document a search query finds."""
    if (customer is None) == (query is None) or (order is not None and customer is None):
        raise InvalidInput("give a customer (and optionally an order) or a query", code="invalid_selection")
    matched = _matching_ids(rt, actor, query) if query is not None else None
    checkpoints.create_checkpoint(rt, actor)
    partial = output.with_name(f".{output.name}.partial")
    try:
        with rt.reading() as session:
            documents = _documents(session, customer, order) if matched is None else _by_ids(session, matched)
            withheld = sum(1 for d in documents if not readable(actor, d))
            documents = [d for d in documents if readable(actor, d)]
            checkpoint = checkpoints.find_checkpoint(session, None)
            with zipfile.ZipFile(partial, "w") as archive_zip:
                bag = _Bag(archive_zip)
                index = _add_documents(rt, bag, documents)
                events = _add_audit(session, bag, documents, checkpoint)
                _add_metadata(bag, index, customer, order, query)
                key = signing.current_key(session)
                _finish_bag(rt, session, bag, key)
        sign_zip_file(partial, lambda message: signing.sign(Path(rt.settings.signing_key_dir), key, message),
                      key.key_id, key.public_key)
        os.replace(partial, output)
    finally:
        partial.unlink(missing_ok=True)
    summary = {"customer": customer, "order": order, "query": query, "documents": len(documents), "events": events,
               "checkpoint_tree_size": checkpoint.tree_size, "package_sha256": _file_sha256(output)}
    with rt.transaction() as session:
        append(session, rt.clock, actor, "export.created", f"customer:{customer}" if customer else None,
               {**summary, "document_ids": [d.id for d in documents], "restricted_withheld": withheld})
    return summary


def _documents(session, customer_number: str, order_number: str | None) -> list[Document]:
    customer = find_customer(session, customer_number)
    query = select(Document).where(Document.customer_id == customer.id).options(
        selectinload(Document.versions), selectinload(Document.order)).order_by(Document.filed_at)
    if order_number is not None:
        order = session.scalar(select(Order).where(Order.customer_id == customer.id, Order.number == order_number))
        if order is None:
            raise NotFound(f"customer {customer_number} has no order {order_number!r}", code="order_not_found")
        query = query.where(Document.order_id == order.id)
    return list(session.scalars(query))


def _matching_ids(rt: Runtime, actor: Actor, query: str) -> list[str]:
    from search.service import build_query
    search_query, found = build_query(actor, query, "date_asc", limit=100, facets=False), []
    while len(found) < MAX_EXPORT_DOCUMENTS:
        page = rt.search.search(search_query)
        found += [hit.id for hit in page.hits]
        if page.next_cursor is None:
            break
        search_query = replace(search_query, cursor=page.next_cursor)
    return found[:MAX_EXPORT_DOCUMENTS]


def _by_ids(session, ids: list[str]) -> list[Document]:
    documents = []
    for start in range(0, len(ids), 500):
        documents += session.scalars(select(Document).where(Document.id.in_(ids[start:start + 500])).options(
            selectinload(Document.versions), selectinload(Document.order))).all()
    return sorted(documents, key=lambda d: d.filed_at)


def _add_documents(rt: Runtime, bag: _Bag, documents: list[Document]) -> list[dict[str, Any]]:
    index = []
    for document in documents:
        versions = []
        for version in document.versions:
            path = f"data/documents/{document.id}/v{version.number}_{_safe(version.original_filename)}"
            content = b"".join(read_chunks(rt.blobs.open(version.checksum, version.size)))
            if "sha256:" + hashlib.sha256(content).hexdigest() != version.checksum:
                raise IntegrityFailure(f"{version.checksum} no longer matches its content; export refused",
                                       code="checksum_mismatch")
            bag.add(path, content, compress=False)
            versions.append({"number": version.number, "checksum": version.checksum, "size": version.size,
                             "mime_type": version.mime_type, "original_filename": version.original_filename,
                             "created_at": isoformat(version.created_at), "path": path})
        index.append({"id": document.id, "doc_type": document.doc_type, "title": document.title,
                      "order": document.order.number if document.order else None,
                      "document_date": document.document_date.isoformat() if document.document_date else None,
                      "external_reference": document.external_reference,
                      "filed_at": isoformat(document.filed_at), "filed_by": document.filed_by,
                      "versions": versions})
    return index


def _add_audit(session, bag: _Bag, documents: list[Document], checkpoint) -> int:
    subjects = [f"document:{d.id}" for d in documents]
    events = [] if not subjects else session.scalars(
        select(AuditEvent).where(AuditEvent.subject.in_(subjects), AuditEvent.seq <= checkpoint.tree_size)
        .order_by(AuditEvent.seq)).all()
    tree = checkpoints.tree_for(session, checkpoint.tree_size)
    lines = [json.dumps({"event": body_of(e), "hash": e.hash}, ensure_ascii=False) for e in events]
    proofs = {str(e.seq): [p.hex() for p in tree.inclusion_proof(e.seq - 1)] for e in events}
    bag.add("data/audit/events.jsonl", ("\n".join(lines) + "\n").encode())
    bag.add("data/audit/proofs.json", json.dumps(proofs, indent=1).encode())
    bag.add("data/audit/checkpoint.json", json.dumps(checkpoints.checkpoint_view(checkpoint), indent=1).encode())
    bag.add("data/audit/keys.json", json.dumps({"keys": signing.public_keys(session)}, indent=1).encode())
    return len(events)


def _add_metadata(bag: _Bag, index: list[dict[str, Any]], customer: str | None, order: str | None,
                  query: str | None) -> None:
    bag.add("data/metadata/documents.json", json.dumps(
        {"customer": customer, "order": order, "query": query, "documents": index}, indent=1,
        ensure_ascii=False).encode())
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["document_id", "doc_type", "order", "document_date", "version", "checksum", "size",
                     "mime_type", "original_filename", "path"])
    for document in index:
        for version in document["versions"]:
            writer.writerow([_csv_safe(v) for v in (
                document["id"], document["doc_type"], document["order"], document["document_date"],
                version["number"], version["checksum"], version["size"], version["mime_type"],
                version["original_filename"], version["path"])])
    bag.add("data/metadata/documents.csv", out.getvalue().encode())


def _finish_bag(rt: Runtime, session, bag: _Bag, key) -> None:
    tags = {
        "bagit.txt": b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n",
        "bag-info.txt": (f"Source-Organization: order archive\nBagging-Date: {rt.clock().date().isoformat()}\n"
                         f"Payload-Oxum: {bag.payload_bytes}.{len(bag.payload)}\n"
                         "External-Description: evidence package; run verify_package.py to check it\n").encode(),
        "manifest-sha256.txt": "".join(f"{d}  {n}\n" for n, d in sorted(bag.payload.items())).encode(),
        "verify_package.py": standalone_verifier().encode(),
    }
    for name, data in tags.items():
        bag.zip.writestr(name, data)
    tagmanifest = "".join(f"{hashlib.sha256(d).hexdigest()}  {n}\n" for n, d in sorted(tags.items())).encode()
    bag.zip.writestr("tagmanifest-sha256.txt", tagmanifest)
    statement = {"type": "archive-package/v1", "tagmanifest_sha256": hashlib.sha256(tagmanifest).hexdigest(),
                 "created": isoformat(rt.clock()), "key_id": key.key_id}
    signature = signing.sign(Path(rt.settings.signing_key_dir), key, canonical_json(statement))
    bag.zip.writestr("package-signature.json", json.dumps({"statement": statement, "signature": signature},
                                                          indent=1))


def standalone_verifier() -> str:
    """verify_package.py: the verifier with the Merkle module inlined, so it needs nothing from this project."""
    verifier = VERIFIER_SOURCE.read_text(encoding="utf-8")
    head, _, rest = verifier.partition("from __future__ import annotations\n")
    rest = rest.replace("from audit.merkle import leaf_hash, verify_inclusion  "
                        "# the packaged copy inlines this module above\n", "")
    merkle = MERKLE_SOURCE.read_text(encoding="utf-8").replace("from __future__ import annotations\n", "")
    return head + "from __future__ import annotations\n\n# ---- RFC 9162 Merkle tree (inlined) ----\n" + merkle + \
        "\n# ---- verifier ----\n" + rest


def _safe(filename: str | None) -> str:
    name = SAFE_NAME.sub("_", (filename or "content").rsplit("/", 1)[-1].rsplit("\\", 1)[-1]).strip("._")
    return name[:100] or "content"


def _csv_safe(value: Any) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return "sha256:" + digest.hexdigest()

"""Disposition throughput and memory: N expired documents proposed, approved (four eyes) and executed.

    .venv/bin/python bench/retention.py [--documents 100000] [--runs 3] [--database-url URL] [--verify]

Each run builds a fresh archive in a child process (rows inserted in bulk, sealed-blob and data-key files written
without fsync: setup is not what is measured), then disposes of everything in a second child process, so that
process's peak RSS is the disposition's own. Prints docs/s (execution alone, and propose + approve + execute) and
peak RSS per run, then the medians. Target: >= 500 docs/s at 100k documents, in constant memory.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert  # noqa: E402

from archive.clock import FrozenClock  # noqa: E402
from archive.db import upgrade  # noqa: E402
from archive.ids import new_id  # noqa: E402
from archive.models import Blob, Customer, Document, DocumentVersion, Order  # noqa: E402
from audit.log import Actor, append_many  # noqa: E402
from config.backends import build_runtime  # noqa: E402
from config.settings import load_settings  # noqa: E402

FILED = datetime(2020, 6, 1, tzinfo=timezone.utc)
LATER = datetime(2031, 2, 1, tzinfo=timezone.utc)  # fr: 2020 invoices are kept until 2030-12-31
BATCH = 5000
CONTENT_BYTES = 256


def settings_for(data_dir: Path, database_url: str | None):
    return load_settings(environ={}, data_dir=data_dir, database_url=database_url, retention_schedule="fr")


def setup(data_dir: Path, database_url: str | None, documents: int) -> None:
    rt = build_runtime(settings_for(data_dir, database_url), FrozenClock(FILED))
    upgrade(rt.engine)
    filer = Actor(name="bench-filer", role="staff")
    customers = [{"id": new_id(), "number": f"C-{i:04d}", "name": f"Customer {i}", "created_at": FILED}
                 for i in range(max(1, documents // 1000))]
    with rt.transaction() as session:
        session.execute(insert(Customer), customers)
    for start in range(0, documents, BATCH):
        with rt.transaction() as session:
            _insert_batch(rt, session, customers, start, min(BATCH, documents - start), filer)
    rt.close()


def _insert_batch(rt, session, customers, start, count, filer) -> None:
    orders, docs, versions, blobs, events = [], [], [], [], []
    for n in range(start, start + count):
        customer = customers[n % len(customers)]
        if n % 10 == 0:
            orders.append({"id": new_id(), "customer_id": customer["id"], "number": f"PO-{n // 10}",
                           "status": "open", "created_at": FILED})
        content = os.urandom(CONTENT_BYTES)
        checksum = "sha256:" + hashlib.sha256(content).hexdigest()
        _write_sealed(rt, checksum, content)
        doc_id = new_id()
        docs.append({"id": doc_id, "doc_type": "invoice", "customer_id": customer["id"], "order_id": orders[-1]["id"],
                     "document_date": date(2020, 5, 1 + n % 28), "current_version": 1, "filed_at": FILED,
                     "filed_by": filer.name, "source_channel": "api", "processing_status": "done",
                     "retain_until": date(2030, 12, 31), "retention_class": "accounting",
                     "retention_rule": "fr accounting: 10 years after fiscal year end (2020-12-31)",
                     "held": False, "status": "active"})
        blobs.append({"checksum": checksum, "size": CONTENT_BYTES, "storage_key": checksum, "created_at": FILED})
        versions.append({"id": new_id(), "document_id": doc_id, "number": 1, "checksum": checksum,
                         "size": CONTENT_BYTES, "mime_type": "application/pdf", "created_at": FILED,
                         "created_by": filer.name})
        events.append(("document.filed", f"document:{doc_id}", {"version": 1, "checksum": checksum,
                                                                 "size": CONTENT_BYTES}))
    for model, rows in ((Order, orders), (Document, docs), (Blob, blobs), (DocumentVersion, versions)):
        session.execute(insert(model), rows)
    append_many(session, rt.clock, filer, events)


def _write_sealed(rt, checksum: str, content: bytes) -> None:
    """Stands in for a sealed blob and its wrapped data key: disposition never reads them, it destroys them."""
    for path, data in ((rt.blobs.inner.path_for(checksum), content), (rt.blobs.keys.path_for(checksum), os.urandom(60))):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def dispose(data_dir: Path, database_url: str | None, verify: bool) -> dict:
    from retention import disposition
    rt = build_runtime(settings_for(data_dir, database_url), FrozenClock(LATER))
    alice = Actor(name="user:alice", role="records_manager")
    bob = Actor(name="user:bob", role="records_manager")
    started = time.perf_counter()
    batch = disposition.propose(rt, alice, {"reason": "benchmark"})
    disposition.approve(rt, bob, batch["id"])
    executing = time.perf_counter()
    done = disposition.execute(rt, alice, batch["id"])
    finished = time.perf_counter()
    result = {"documents": done["disposed_count"], "execute_seconds": finished - executing,
              "total_seconds": finished - started,
              "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
              "blobs_left": sum(1 for _ in rt.blobs.inner.checksums()) - 2}  # the certificates (JSON, PDF)
    if verify:
        from audit.verify import verify_journal
        with rt.reading() as session:
            result["audit_verify_ok"] = verify_journal(session).ok
    rt.close()
    return result


def run_child(*args: str) -> str:
    out = subprocess.run([sys.executable, __file__, *args], check=True, capture_output=True, text=True)
    return out.stdout.strip().splitlines()[-1] if out.stdout.strip() else ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--database-url", default=None, help="default: SQLite in the run's directory")
    parser.add_argument("--verify", action="store_true", help="run `audit verify` after each disposition")
    parser.add_argument("--child", choices=["setup", "dispose"], help=argparse.SUPPRESS)
    parser.add_argument("--dir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child == "setup":
        return setup(Path(args.dir), args.database_url, args.documents)
    if args.child == "dispose":
        print(json.dumps(dispose(Path(args.dir), args.database_url, args.verify)))
        return
    results = []
    for run in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="bench-retention-") as tmp:
            common = ["--dir", tmp, "--documents", str(args.documents)] + (
                ["--database-url", args.database_url] if args.database_url else [])
            if args.database_url:
                _reset(args.database_url)
            t0 = time.perf_counter()
            run_child("--child", "setup", *common)
            setup_s = time.perf_counter() - t0
            result = json.loads(run_child("--child", "dispose", *common, *(["--verify"] if args.verify else [])))
        result["execute_docs_per_s"] = result["documents"] / result["execute_seconds"]
        result["total_docs_per_s"] = result["documents"] / result["total_seconds"]
        results.append(result)
        print(f"run {run + 1}: {result['documents']} disposed; execute {result['execute_docs_per_s']:.0f} docs/s, "
              f"propose+approve+execute {result['total_docs_per_s']:.0f} docs/s, peak RSS "
              f"{result['peak_rss_mib']:.0f} MiB, blobs left {result['blobs_left']}"
              + (f", audit verify ok={result['audit_verify_ok']}" if "audit_verify_ok" in result else "")
              + f" (setup {setup_s:.0f} s)", flush=True)
    print(f"median of {len(results)}: execute {statistics.median(r['execute_docs_per_s'] for r in results):.0f} docs/s, "
          f"propose+approve+execute {statistics.median(r['total_docs_per_s'] for r in results):.0f} docs/s, "
          f"peak RSS {statistics.median(r['peak_rss_mib'] for r in results):.0f} MiB")


def _reset(url: str) -> None:
    """PostgreSQL: an empty schema for each run."""
    from sqlalchemy import create_engine, text
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine.dispose()


if __name__ == "__main__":
    main()

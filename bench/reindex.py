"""Reindex benchmark: `archive search reindex` (search.indexing.reindex) over an archive of N synthetic documents.

    .venv/bin/python bench/reindex.py                                   # 100k and 300k documents, FTS5
    .venv/bin/python bench/reindex.py --documents 20000 --search-url http://127.0.0.1:9200

Each size runs in a child process of its own. The child fills a fresh embedded archive (SQLite) with database rows
only (customers, orders, documents, versions, blobs and extractions), texts from bench/search.py's corpus
generator. Then it rebuilds the search index from the database exactly as `archive search reindex` does, the closing
optimize() included. It samples memory after every batch. VmRSS includes SQLite's page cache and the pages it maps;
RssAnon is the process's own heap. Flat means that the second figure does not grow with the number of documents.
This prints figures and asserts nothing.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert  # noqa: E402

from archive.db import upgrade  # noqa: E402
from archive.models import Blob, Customer, Document, DocumentVersion, Extraction, Order  # noqa: E402
from bench.search import Corpus  # noqa: E402
from config.backends import build_runtime  # noqa: E402
from config.settings import load_settings  # noqa: E402
from search.indexing import ReindexProgress, reindex  # noqa: E402

SEED = 42
FILL_BATCH = 5_000
DOC_TYPES = {"order": "customer_order", "quote": "correspondence"}  # corpus types the archive names otherwise


def memory() -> dict[str, float]:
    """MiB: VmRSS and RssAnon of this process."""
    fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line)
    return {key: int(fields[key].split()[0]) / 1024 for key in ("VmRSS", "RssAnon")}


# ---------------------------------------------------------------------------------------------------------------
# Filling an archive with rows


def fill(rt, count: int) -> float:
    """Inserts `count` documents with their rows in batches; returns the seconds it took."""
    corpus, now, t0 = Corpus.make(SEED), datetime.now(timezone.utc), time.perf_counter()
    customers: dict[str, str] = {}
    orders: dict[tuple[str, str], str] = {}
    for start in range(0, count, FILL_BATCH):
        records = corpus.records(SEED, start, min(FILL_BATCH, count - start))
        rows: dict[type, list[dict]] = {Customer: [], Order: [], Blob: [], Document: [], DocumentVersion: [],
                                        Extraction: []}
        for r in records:
            if r.customer_number not in customers:
                customers[r.customer_number] = str(uuid.uuid4())
                rows[Customer].append({"id": customers[r.customer_number], "number": r.customer_number,
                                       "name": r.customer_name, "created_at": now})
            customer_id = customers[r.customer_number]
            if (customer_id, r.order_number) not in orders:
                orders[customer_id, r.order_number] = str(uuid.uuid4())
                rows[Order].append({"id": orders[customer_id, r.order_number], "customer_id": customer_id,
                                    "number": r.order_number, "status": "open", "created_at": now})
            _document_rows(rows, r, customer_id, orders[customer_id, r.order_number], now)
        with rt.engine.begin() as conn:
            for model, values in rows.items():
                if values:
                    conn.execute(insert(model), values)
    return time.perf_counter() - t0


def _document_rows(rows: dict[type, list[dict]], r, customer_id: str, order_id: str, now: datetime) -> None:
    document_id, checksum = str(uuid.UUID(int=int(r.id))), f"sha256:{int(r.id):064x}"
    rows[Blob].append({"checksum": checksum, "size": len(r.text), "storage_key": f"bench/{r.id}", "created_at": now})
    rows[Document].append({
        "id": document_id, "doc_type": DOC_TYPES.get(r.doc_type, r.doc_type), "customer_id": customer_id,
        "order_id": order_id, "title": r.title, "document_date": r.document_date, "current_version": 1,
        "filed_at": r.filed_at, "filed_by": "bench", "source_channel": "api", "processing_status": "done",
        "held": r.status == "on_hold", "status": "active", "restricted": r.restricted})
    rows[DocumentVersion].append({
        "id": str(uuid.uuid4()), "document_id": document_id, "number": 1, "checksum": checksum,
        "size": len(r.text), "mime_type": r.mime_type, "original_filename": r.filename, "created_at": r.filed_at,
        "created_by": "bench"})
    rows[Extraction].append({
        "document_id": document_id, "version": 1, "source": "text", "doc_type": None, "text": r.text,
        "fields": {"number": r.references[0], "grand_total": str(r.amount), "currency": r.currency},
        "confidence": None, "created_at": now})


# ---------------------------------------------------------------------------------------------------------------
# One size in a child process


def run_child(count: int, search_url: str | None) -> dict:
    work = Path(tempfile.mkdtemp(prefix="bench-reindex-"))
    environ = {**os.environ, "ARCHIVE_DATA_DIR": str(work)}
    if search_url:
        environ["ARCHIVE_SEARCH_URL"] = search_url
    settings = load_settings(environ)
    if search_url:
        settings = dataclasses.replace(settings, search_index_name=f"bench-reindex-{os.getpid()}")
    rt = build_runtime(settings)
    try:
        upgrade(rt.engine)
        fill_s = fill(rt, count)
        samples: list[tuple[int, dict[str, float]]] = []
        before = memory()

        def sampled(progress: ReindexProgress) -> None:
            samples.append((progress.done, memory()))

        t0 = time.perf_counter()
        done = reindex(rt, progress=sampled)
        seconds = time.perf_counter() - t0
        quarters = [samples[min(len(samples) - 1, max(0, round(len(samples) * q) - 1))] for q in (.25, .5, .75, 1)]
        return {"documents": done, "fill_s": fill_s, "reindex_s": seconds, "before": before,
                "peak_rss": max(m["VmRSS"] for _, m in samples), "peak_anon": max(m["RssAnon"] for _, m in samples),
                "anon_at": [(d, m["RssAnon"]) for d, m in quarters]}
    finally:
        if search_url:
            rt.search.drop()
        rt.close()
        shutil.rmtree(work, ignore_errors=True)


def main() -> int:
    args = parse_args()
    if args.child:
        print(json.dumps(run_child(args.child, args.search_url)))
        return 0
    sizes = [int(s) for s in args.documents.split(",")]
    print("documents | fill s | reindex docs/s | peak RSS MiB | peak anon MiB | anon MiB at 25/50/75/100 % "
          "| anon MiB before")
    print(" | ".join(["---"] * 7))
    for size in sizes:
        command = [sys.executable, __file__, "--child", str(size)] + \
                  (["--search-url", args.search_url] if args.search_url else [])
        result = json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout.splitlines()[-1])
        print(f"{result['documents']:,} | {result['fill_s']:.0f} | {result['documents'] / result['reindex_s']:,.0f} | "
              f"{result['peak_rss']:,.0f} | {result['peak_anon']:,.0f} | "
              f"{' / '.join(f'{m:,.0f}' for _, m in result['anon_at'])} | {result['before']['RssAnon']:,.0f}",
              flush=True)
    return 0


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--documents", default="100000,300000", help="archive sizes, comma-separated")
    parser.add_argument("--search-url", help="ARCHIVE_SEARCH_URL for the index (default: FTS5 in the data dir)")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    return parser.parse_args()


if __name__ == "__main__":
    sys.exit(main())

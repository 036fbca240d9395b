"""Processing throughput: 2-page text PDFs end to end through the queue into the search index, and OCR pages/minute.

    .venv/bin/python bench/processing.py                        # N=300, every mode, 3 runs each
    .venv/bin/python bench/processing.py --modes inprocess --n 500 --threads 1,2,4
    .venv/bin/python bench/processing.py --ocr-pages 4          # OCR figure only: --modes none

Each run starts from a fresh embedded archive (SQLite, FTS5, local blobs). The N documents are filed first with no
worker running (their `document.process` items wait in the outbox), then the clock starts and the queue runs them:
- `inprocess`: T outbox drain threads in this process. The sandbox's forkserver and one parsing process per thread
  are started before the clock: a long-running worker pays that (about a second) once in its life.
- `celery`: P real `archive worker --concurrency T` subprocesses on Redis (ARCHIVE_TEST_REDIS_URL, from
  scripts/services.sh), woken by messages; the clock starts when they are ready.
- `workers`: P real `archive worker` subprocesses on the embedded default (the outbox loop); the clock starts before
  they do, so their start-up is included.
The clock stops when every document is `done` and the search index holds all N. Each document is parsed in a
sandboxed parsing process (pypdfium2), stored, linked and indexed, exactly as in production. Figures: median of
--runs runs.

OCR: an image-only PDF of --ocr-pages scanned pages (rendered with Pillow at 300 dpi) through the same pipeline
(OCRmyPDF + Tesseract eng+fra+deu into a PDF/A rendition), pages per minute. Paperless-ngx OCRs with the same
OCRmyPDF path, so its per-page cost is the same order on the same machine.
"""
from __future__ import annotations

import argparse
import io
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func, select  # noqa: E402

from archive.db import upgrade  # noqa: E402
from archive.filing import file_document  # noqa: E402
from archive.hashing import spool_stream  # noqa: E402
from archive.metadata import parse_filing  # noqa: E402
from archive.models import Document  # noqa: E402
from archive.tasks import drain  # noqa: E402
from audit.log import Actor  # noqa: E402
from config.backends import build_runtime  # noqa: E402
from config.settings import load_settings  # noqa: E402
from search.index import Query  # noqa: E402
from search.query import parse  # noqa: E402
from tests.fixtures.documents import text_pdf  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
ARCHIVE = Path(sys.executable).parent / "archive"
TARGET_DOCS_PER_S = 50.0


def fresh_archive(parent: Path, broker_url: str = ""):
    data = Path(tempfile.mkdtemp(dir=parent, prefix="bench-processing-"))
    settings = load_settings(environ={}, data_dir=data, broker_url=broker_url or None)
    rt = build_runtime(settings)
    upgrade(rt.engine)
    rt.tasks = None  # filing must not wake anyone: the clock starts later
    return rt


def file_pdfs(rt, n: int) -> None:
    actor = Actor.system("bench")
    for number in range(n):
        lines = [f"Invoice INV-{number:06d} for order PO-{number % 97:04d}", "Delivery note attached, thank you",
                 f"Total {number % 1000}.50 EUR, pay within 30 days"]
        data = text_pdf([lines, [f"Page two of INV-{number:06d}", "Terms and conditions apply"]])
        spool = spool_stream(io.BytesIO(data), rt.blobs.spool_dir(), 10**8)
        filing = parse_filing({"doc_type": "invoice", "customer": {"number": f"C-{number % 50}"},
                               "order": {"number": f"PO-{number % 97:04d}"}})
        with spool:
            file_document(rt, spool, filing, actor, filename=f"inv-{number}.pdf")


def all_done(rt, n: int) -> bool:
    with rt.reading() as session:
        done = session.scalar(select(func.count()).select_from(Document)
                              .where(Document.processing_status.in_(("done", "failed"))))
    return done == n


def indexed(rt) -> int:
    return rt.search.search(Query(parse("invoice"), limit=1, exact_total_up_to=10**9)).total


def run_inprocess(parent: Path, n: int, threads: int) -> float:
    rt = fresh_archive(parent)
    try:
        file_pdfs(rt, n)
        warm_up_sandbox(threads)
        started = time.perf_counter()
        workers = [threading.Thread(target=drain, args=(rt,)) for _ in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        while not all_done(rt, n):
            drain(rt)
        elapsed = time.perf_counter() - started
        _check(rt, n)
        return n / elapsed
    finally:
        rt.close()


def warm_up_sandbox(threads: int) -> None:
    """Starts the forkserver and one parsing process per thread before the clock starts: a worker process pays that
    once in its life (about a second), which is not throughput."""
    from archive.extraction.sandbox import Limits, run_limited
    from tests.fixtures import hostile
    pool = [threading.Thread(target=run_limited, args=(hostile.burn, (0.05,), Limits())) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()


def run_workers(parent: Path, n: int, threads: int, processes: int, redis_url: str = "") -> float:
    """`processes` real `archive worker` processes: Celery on Redis with `redis_url`, else the embedded outbox loop
    (which starts draining as soon as it starts: the clock starts before the processes do)."""
    rt = fresh_archive(parent, redis_url)
    env = {**os.environ, "ARCHIVE_DATA_DIR": str(rt.settings.data_dir), "ARCHIVE_BROKER_URL": redis_url}
    logs = [Path(rt.settings.data_dir) / f"worker-{i}.log" for i in range(processes)]
    workers: list[subprocess.Popen] = []
    try:
        file_pdfs(rt, n)
        started = time.perf_counter()
        for log in logs:
            with log.open("wb") as out:
                workers.append(subprocess.Popen(
                    [str(ARCHIVE), "worker", "--concurrency", str(threads), "--poll-seconds", "30"],
                    env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True))
        if redis_url:
            for log in logs:
                _wait_ready(log)
            from archive.celery_queue import CeleryNotifier
            notifier = CeleryNotifier(redis_url)
            started = time.perf_counter()
            for _ in range(threads * processes):
                notifier.notify()
            notifier.stop()
        while not all_done(rt, n):
            time.sleep(0.02)
        elapsed = time.perf_counter() - started
    finally:
        for worker in workers:
            os.killpg(worker.pid, signal.SIGTERM)
        for worker in workers:
            worker.wait(30)
    try:
        _check(rt, n)
        return n / elapsed
    finally:
        rt.close()


def run_ocr(parent: Path, pages: int) -> float:
    rt = fresh_archive(parent)
    try:
        lines = [["Lieferschein LS-4711 Bestellung PO-0815", "Facture FA-2024-17 bon de livraison",
                  "Invoice INV-99 purchase order attached"][i % 3] for i in range(pages)]
        import img2pdf
        from tests.fixtures.documents import scanned_png
        data = img2pdf.convert([scanned_png([line, "Menge 12 Stück, Preis 4,50 EUR"]) for line in lines])
        spool = spool_stream(io.BytesIO(data), rt.blobs.spool_dir(), 10**9)
        with spool:
            file_document(rt, spool, parse_filing({"doc_type": "delivery_note", "customer": {"number": "C-1"}}),
                          Actor.system("bench"), filename="scan.pdf")
        started = time.perf_counter()
        drain(rt)
        elapsed = time.perf_counter() - started
        with rt.reading() as session:
            document = session.scalars(select(Document)).one()
            assert document.processing_status == "done", document.processing_error
        return pages / (elapsed / 60)
    finally:
        rt.close()


def _check(rt, n: int) -> None:
    with rt.reading() as session:
        failed = session.scalar(select(func.count()).select_from(Document)
                                .where(Document.processing_status != "done"))
    if failed or indexed(rt) != n:
        raise SystemExit(f"run invalid: {failed} documents not done, {indexed(rt)} of {n} indexed")


def _wait_ready(log: Path, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if b"ready." in log.read_bytes():
            return
        time.sleep(0.1)
    raise SystemExit(f"the worker did not start:\n{log.read_text(errors='replace')[-3000:]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--threads", default="2,4")
    parser.add_argument("--modes", default="inprocess,celery,workers",
                        help="inprocess: drain threads in this process; celery: `archive worker` processes on "
                             "Redis; workers: `archive worker` processes on the embedded default")
    parser.add_argument("--processes", default="1,2", help="worker processes (celery and workers modes)")
    parser.add_argument("--ocr-pages", type=int, default=3)
    args = parser.parse_args()
    parent = Path(tempfile.mkdtemp(prefix="bench-processing-"))
    redis_url = os.environ.get("ARCHIVE_TEST_REDIS_URL", "")
    print(f"{args.n} two-page text PDFs per run, {os.cpu_count()} cores, median of {args.runs} runs "
          f"(target >= {TARGET_DOCS_PER_S:.0f} docs/s)")
    for mode in [m for m in args.modes.split(",") if m and m != "none"]:
        if mode == "celery" and not redis_url:
            print("celery: skipped, ARCHIVE_TEST_REDIS_URL is not set (eval \"$(bash scripts/services.sh --env)\")")
            continue
        for threads in [int(t) for t in args.threads.split(",")]:
            for processes in [1] if mode == "inprocess" else [int(p) for p in args.processes.split(",")]:
                runs = [run_inprocess(parent, args.n, threads) if mode == "inprocess"
                        else run_workers(parent, args.n, threads, processes, redis_url if mode == "celery" else "")
                        for _ in range(args.runs)]
                print(f"{mode:9s} processes={processes} threads={threads}: {statistics.median(runs):6.1f} docs/s "
                      f"(runs: {', '.join(f'{r:.1f}' for r in runs)})")
    if args.ocr_pages:
        runs = [run_ocr(parent, args.ocr_pages) for _ in range(args.runs)]
        print(f"OCR (OCRmyPDF + Tesseract eng+fra+deu, PDF/A rendition, {args.ocr_pages}-page scan): "
              f"{statistics.median(runs):.1f} pages/min (runs: {', '.join(f'{r:.1f}' for r in runs)})")
    shutil.rmtree(parent, ignore_errors=True)


if __name__ == "__main__":
    main()

"""The pipeline runs in both queue modes: the in-process worker thread, and `archive worker` (Celery) on real Redis."""
from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from archive.hashing import spool_stream
from archive.metadata import parse_filing
from archive.models import Document
from archive.tasks import InProcessQueue
from audit.log import Actor
from config.backends import build_runtime
from search.index import Query
from search.query import parse
from tests.conftest import missing_service

ROOT = Path(__file__).resolve().parents[2]


def file_text(rt, text: str, order: str = "PO-1") -> str:
    import io
    spool = spool_stream(io.BytesIO(text.encode()), rt.blobs.spool_dir(), 10_000)
    metadata = parse_filing({"doc_type": "invoice", "customer": {"number": "C-1"}, "order": {"number": order}})
    from archive.filing import file_document
    with spool:
        return file_document(rt, spool, metadata, Actor.system("test"), filename="note.txt")["id"]


def wait_done(rt, document_id: str, seconds: float = 60) -> Document:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with rt.reading() as session:
            document = session.get(Document, document_id)
            if document.processing_status in ("done", "failed"):
                return document
        time.sleep(0.1)
    pytest.fail(f"document {document_id} was not processed within {seconds}s")


def found(rt, word: str) -> list[str]:
    return [hit.id for hit in rt.search.search(Query(parse(word))).hits]


def test_in_process_worker_processes_after_commit(runtime):
    runtime.tasks = InProcessQueue(runtime, poll_seconds=30)
    runtime.tasks.start()
    document_id = file_text(runtime, "zanzibar quartz invoice")
    assert wait_done(runtime, document_id, 20).processing_status == "done"  # notified, not polled (30 s)
    assert found(runtime, "zanzibar") == [document_id]


@pytest.fixture
def redis_url() -> str:
    url = os.environ.get("ARCHIVE_TEST_REDIS_URL")
    if not url:
        missing_service("ARCHIVE_TEST_REDIS_URL is not set; run scripts/services.sh")
    import redis
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        missing_service(f"Redis is not reachable at {url}: {exc}")
    # A database of its own, so parallel runs do not take each other's wake-ups.
    return url.rsplit("/", 1)[0] + f"/{random.randint(1, 15)}"


def test_celery_worker_on_redis_processes_and_polls_lost_messages(settings, redis_url, tmp_path):
    broker_settings = replace(settings, broker_url=redis_url)
    rt = build_runtime(broker_settings)
    env = {**os.environ, "ARCHIVE_DATA_DIR": str(settings.data_dir), "ARCHIVE_DATABASE_URL": settings.database_url,
           "ARCHIVE_BROKER_URL": redis_url}
    log = (tmp_path / "worker.log").open("wb")
    worker = subprocess.Popen([str(Path(sys.executable).parent / "archive"), "worker", "--concurrency", "2",
                               "--poll-seconds", "2"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                              start_new_session=True)
    try:
        notified = file_text(rt, "celerity marmalade invoice")
        assert type(rt.tasks).__name__ == "CeleryNotifier"
        assert wait_done(rt, notified).processing_status == "done"
        rt.tasks = None  # a lost message: nothing is published, the worker's poll finds the work
        silent = file_text(rt, "unheralded turquoise invoice", order="PO-2")
        assert wait_done(rt, silent).processing_status == "done"
        assert found(rt, "marmalade") == [notified] and found(rt, "turquoise") == [silent]
        assert worker.poll() is None, (tmp_path / "worker.log").read_text()
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()
        rt.close()
        log.close()


def test_reprocess_one_or_all_is_audited_and_runs_again(cli, runtime):
    from sqlalchemy import func, select

    from archive.models import AuditEvent, Extraction
    first, second = file_text(runtime, "alpha text"), file_text(runtime, "beta text", order="PO-2")
    queued = cli("reprocess", first, "--wait")
    assert queued.exit_code == 0, queued.output
    assert '"queued": 1' in queued.stdout
    everything = cli("reprocess", "--all")
    assert everything.exit_code == 0 and '"queued": 2' in everything.stdout
    with runtime.reading() as session:
        assert session.get(Document, second).processing_status == "queued"
        actions = session.scalars(select(AuditEvent.subject).where(
            AuditEvent.action == "document.reprocess_requested")).all()
        assert sorted(actions) == sorted([f"document:{first}", f"document:{first}", f"document:{second}"])
    assert cli("reprocess", "--all", "--wait").exit_code == 0
    with runtime.reading() as session:
        assert {session.get(Document, d).processing_status for d in (first, second)} == {"done"}
        assert session.scalar(select(func.count()).select_from(Extraction)) == 2
    assert cli("reprocess").exit_code != 0
    missing = cli("reprocess", "no-such-document")
    assert missing.exit_code == 1 and "document_not_found" in missing.output

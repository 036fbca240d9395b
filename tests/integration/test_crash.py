"""Crash test: SIGKILL a filer at random moments, again and again, then prove nothing that was promised is lost.

tests/integration/crash_filer.py files documents (and sometimes new versions) in a loop through the real service
and prints each receipt once the call has returned. This test kills it with SIGKILL at a random moment after its
first receipt -- mid-spool, mid-rename, mid-fsync, mid-transaction, mid-commit -- and starts a fresh one, at least
ARCHIVE_CRASH_KILLS times (default 50). Then it checks the archive as a whole:

- every printed receipt resolves to its document version, whose blob re-hashes to the receipt's checksum and size;
- no document_versions row (any row, not only receipted ones) points at a missing or damaged blob;
- the audit chain verifies and its event count equals the audit_head seq;
- there are at least as many documents as distinct receipt ids;
- each filing and each new version is all-or-nothing: rows, audit event and outbox item come together.

Orphan blobs (stored content that no row names: a crash after the blob was linked in, before the commit) are
allowed and reported, as are orphan data keys (encryption at rest) and temp files left in the blob store's tmp
directory.

The test's own runtime (the `runtime` fixture) is built before any filer starts, so the master key of a fresh
archive is generated once, by one process, and the filers all read it.

Reproduce with the printed seed: ARCHIVE_CRASH_SEED=<seed> (kill timing still depends on the machine's speed).
"""
from __future__ import annotations

import dataclasses
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter, deque
from pathlib import Path
from typing import Any, IO

import pytest
from sqlalchemy import func, select

from archive.blobstore import read_chunks
from archive.hashing import hash_chunks
from archive.models import AuditEvent, AuditHead, Blob, Document, DocumentVersion, OutboxItem
from archive.runtime import Runtime
from audit.verify import verify_chain, verify_records
from tests.conftest import DB_KIND

ROOT = Path(__file__).resolve().parents[2]
FILER = Path(__file__).resolve().with_name("crash_filer.py")
KILLS = int(os.environ.get("ARCHIVE_CRASH_KILLS", "50"))
SEED = int(os.environ.get("ARCHIVE_CRASH_SEED", "20240917"))
MAX_DELAY = 0.3          # seconds after the first receipt; one filing takes ~10-40 ms, so kills land anywhere in it
FIRST_RECEIPT_TIMEOUT = 60.0
SPARES = 2               # filers started ahead of their turn

# x86_64 syscall numbers, to show where the kills landed (read from /proc/<pid>/syscall just before the kill).
SYSCALLS = {0: "read", 1: "write", 3: "close", 7: "poll", 8: "lseek", 17: "pread64", 18: "pwrite64", 44: "sendto",
            45: "recvfrom", 72: "fcntl", 74: "fsync", 75: "fdatasync", 82: "rename", 83: "mkdir", 87: "unlink",
            90: "chmod", 202: "futex", 232: "epoll_wait", 257: "openat", 262: "newfstatat", 271: "ppoll",
            281: "epoll_pwait", 316: "renameat2"}


class Filer:
    """One crash_filer.py process, started ahead of time (imports done, waiting on stdin) and a thread reading it."""

    def __init__(self, run: int, seed: int, env: dict[str, str], log_dir: Path) -> None:
        self.run = run
        self.stderr_path = log_dir / f"filer-{run:04d}.stderr"
        self.receipts: list[dict[str, Any]] = []
        self.bad_lines: list[bytes] = []
        self.first = threading.Event()
        self.went = self.first_at = 0.0
        with open(self.stderr_path, "wb") as stderr:
            self.proc = subprocess.Popen(
                [sys.executable, str(FILER)], cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr,
                env={**env, "CRASH_FILER_SEED": str(seed), "CRASH_FILER_RUN": str(run), "CRASH_FILER_WAIT": "1"})
        self.reader = threading.Thread(target=self._read, args=(self.proc.stdout,), daemon=True)
        self.reader.start()

    def _read(self, stdout: IO[bytes]) -> None:
        for line in stdout:
            try:
                if not line.endswith(b"\n"):
                    raise ValueError("unterminated line")
                receipt = json.loads(line)
            except ValueError:
                self.bad_lines.append(line)
                continue
            self.receipts.append(receipt)
            if not self.first.is_set():
                self.first_at = time.monotonic()
                self.first.set()

    def go(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"go\n")
        self.proc.stdin.flush()
        self.went = time.monotonic()

    def where(self) -> str:
        """The system call the filer's main thread is in right now ("running" if on the CPU), best effort."""
        try:
            fields = Path(f"/proc/{self.proc.pid}/syscall").read_text().split()
        except OSError:
            return "unknown"
        if not fields or not fields[0].lstrip("-").isdigit():
            return fields[0] if fields else "unknown"
        return SYSCALLS.get(int(fields[0]), f"syscall {fields[0]}")

    def kill(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        self.reader.join(timeout=10)
        if self.proc.stdin is not None:
            try:
                self.proc.stdin.close()
            except OSError:
                pass

    def stop_unused(self) -> None:
        """A filer that was never told to go: closing stdin makes it exit without touching the archive."""
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.reader.join(timeout=10)

    def failure(self, what: str) -> str:
        stderr = self.stderr_path.read_text(errors="replace")[-4000:]
        return f"filer run {self.run} {what} (exit {self.proc.poll()}); stderr:\n{stderr}"


@pytest.mark.slow
def test_receipts_survive_sigkill_at_random_moments(settings, runtime: Runtime, tmp_path: Path) -> None:
    assert KILLS >= 1, "ARCHIVE_CRASH_KILLS must be at least 1"
    rng = random.Random(SEED)
    print(f"\ncrash test: seed={SEED} (ARCHIVE_CRASH_SEED) kills={KILLS} (ARCHIVE_CRASH_KILLS) db={DB_KIND}")
    # The filers see exactly the test's settings (ARCHIVE_DATA_DIR, ARCHIVE_DATABASE_URL, ...), nothing inherited.
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARCHIVE_")}
    env.update({f"ARCHIVE_{field.name.upper()}": str(getattr(settings, field.name))
                for field in dataclasses.fields(settings) if getattr(settings, field.name) not in ("", None)})
    env["PYTHONUNBUFFERED"] = "1"
    log_dir = tmp_path / "filer-logs"
    log_dir.mkdir()

    started = time.monotonic()
    receipts: list[dict[str, Any]] = []
    bad_lines: list[bytes] = []
    landed: Counter[str] = Counter()
    startups: list[float] = []
    kills = 0
    # Filers are started ahead of their turn (SPARES of them), so their imports overlap the running one.
    spares = deque(Filer(run, SEED * 1000 + run, env, log_dir) for run in range(min(SPARES, KILLS)))
    try:
        for run in range(KILLS):
            filer = spares.popleft()
            filer.go()
            if run + SPARES < KILLS:
                spares.append(Filer(run + SPARES, SEED * 1000 + run + SPARES, env, log_dir))
            if not filer.first.wait(FIRST_RECEIPT_TIMEOUT):
                filer.kill()
                pytest.fail(filer.failure(f"printed no receipt within {FIRST_RECEIPT_TIMEOUT:.0f} s"))
            startups.append(filer.first_at - filer.went)
            time.sleep(rng.uniform(0, MAX_DELAY))
            if filer.proc.poll() is not None:
                pytest.fail(filer.failure("exited before it was killed"))
            landed[filer.where()] += 1
            filer.kill()
            assert filer.proc.returncode == -signal.SIGKILL, filer.failure("was not ended by SIGKILL")
            kills += 1
            receipts.extend(filer.receipts)
            bad_lines.extend(filer.bad_lines)
    finally:
        for spare in spares:
            spare.stop_unused()
    crash_seconds = time.monotonic() - started

    assert not bad_lines, f"the filer printed lines that are not whole JSON receipts: {bad_lines[:3]}"
    resumed = kills - 1  # every kill but the last was followed by a filer that filed again (checked above)
    print(f"crash test: {kills} kills survived ({resumed} restarts resumed filing), {len(receipts)} receipts seen "
          f"in {crash_seconds:.1f} s")
    startups.sort()
    print(f"crash test: restart to first receipt: median {startups[len(startups) // 2]:.2f} s, "
          f"max {startups[-1]:.2f} s")
    print("crash test: kills landed in " + ", ".join(f"{name} {n}" for name, n in landed.most_common()))

    report = check_archive(runtime, receipts)
    print(f"crash test: {report['documents']} documents, {report['versions']} versions, {report['events']} audit "
          f"events; {report['orphans']} orphan blobs, {report['orphan_keys']} orphan data keys, temp files left "
          f"in tmp: {report['leftovers']}; total {time.monotonic() - started:.1f} s")


def check_archive(rt: Runtime, receipts: list[dict[str, Any]]) -> dict[str, Any]:
    hashed: dict[str, tuple[str, int]] = {}

    def rehash(checksum: str, size: int) -> tuple[str, int]:
        if checksum not in hashed:
            try:
                hashed[checksum] = hash_chunks(read_chunks(rt.blobs.open(checksum, size)))
            except Exception as exc:  # noqa: BLE001 - missing, damaged, undecryptable: all fail the test
                pytest.fail(f"blob {checksum} ({size} bytes) cannot be read back: {type(exc).__name__}: {exc}")
        return hashed[checksum]

    with rt.transaction() as session:
        # Every receipt the filer printed resolves to its version, its blob and its audit event.
        promised = Counter((r["id"], r["version"]) for r in receipts)
        repeated = [key for key, n in promised.items() if n > 1]
        assert not repeated, f"the same document version was receipted twice: {repeated[:5]}"
        for r in receipts:
            assert r["duplicate"] is False, r
            version = session.scalar(select(DocumentVersion).where(DocumentVersion.document_id == r["id"],
                                                                   DocumentVersion.number == r["version"]))
            assert version is not None, f"receipted version is missing from the database: {r}"
            assert (version.checksum, version.size) == (r["checksum"], r["size"]), r
            assert rehash(r["checksum"], r["size"]) == (r["checksum"], r["size"]), f"blob content differs: {r}"
            event = session.get(AuditEvent, r["audit_seq"])
            assert event is not None, f"receipted audit event is missing: {r}"
            expected_action = "document.filed" if r["version"] == 1 else "document.version_added"
            assert (event.action, event.subject) == (expected_action, f"document:{r['id']}"), r
            assert event.details["checksum"] == r["checksum"], r

        # No version row at all -- receipted or not -- names content that is missing or damaged.
        versions = session.execute(select(DocumentVersion.document_id, DocumentVersion.number,
                                          DocumentVersion.checksum, DocumentVersion.size)).all()
        blob_rows = {b.checksum: b for b in session.scalars(select(Blob))}
        for document_id, number, checksum, size in versions:
            blob = blob_rows.get(checksum)
            assert blob is not None, f"version {document_id} v{number} names {checksum}, which has no blobs row"
            assert blob.size == size, (document_id, number, blob.size, size)
            assert rehash(checksum, size) == (checksum, size), f"version {document_id} v{number}: blob differs"

        # The audit chain is whole and its tip is the head.
        chain = verify_chain(session)
        head = session.get(AuditHead, 1)
        assert chain.ok, chain.as_dict()
        assert chain.events == head.seq, (chain.as_dict(), head.seq)
        assert session.scalar(select(func.count()).select_from(AuditEvent)) == head.seq
        records = verify_records(session)
        assert records.ok, records.as_dict()

        # Nothing promised was lost; filings are all-or-nothing.
        documents = session.execute(select(Document.id, Document.current_version)).all()
        assert len(documents) >= len({r["id"] for r in receipts}), (len(documents), len({r["id"] for r in receipts}))
        numbers: dict[str, list[int]] = {}
        for document_id, number, _, _ in versions:
            numbers.setdefault(document_id, []).append(number)
        for document_id, current in documents:
            assert sorted(numbers.get(document_id, [])) == list(range(1, current + 1)), (document_id, current)

        def events(action: str) -> int:
            return session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == action))
        assert events("document.filed") == len(documents)
        assert events("document.version_added") == len(versions) - len(documents)
        assert session.scalar(select(func.count()).select_from(OutboxItem)) == len(versions)

        stored = set(rt.blobs.checksums())
        missing = sorted(checksum for checksum in blob_rows if checksum not in stored or not rt.blobs.exists(checksum))
        assert not missing, f"blobs rows without stored content (or its data key): {missing[:5]}"
        orphans = stored - set(blob_rows)
        keys = getattr(rt.blobs, "keys", None)  # the data-key directory when encryption at rest is on
        orphan_keys = set(keys.checksums()) - set(blob_rows) if keys is not None else set()
        leftovers = Counter(path.name.split("-", 1)[0] for path in rt.blobs.spool_dir().iterdir())
        return {"documents": len(documents), "versions": len(versions), "events": head.seq,
                "orphans": len(orphans), "orphan_keys": len(orphan_keys), "leftovers": dict(leftovers)}

"""The blob store seam: content addressed by its SHA-256, written once, never overwritten.

The local store follows the durability order of ARCHITECTURE.md: temp file, fsync, rename, fsync the directory.
"""
from __future__ import annotations

import os
import time
from pathlib import Path
from concurrent.futures import ThreadPoolExecutor
from typing import Any, BinaryIO, Callable, Iterable, Iterator, Protocol

from archive.errors import IntegrityFailure, NotFound
from archive.hashing import CHUNK, Spool


class BlobStore(Protocol):
    def put(self, spool: Spool) -> str:
        """Store the finished spool under its checksum (taking the file over); return the storage key."""

    def open(self, checksum: str, size: int) -> BinaryIO:
        """A stream of the stored bytes; raises IntegrityFailure if the stored size is not `size`."""

    def delete(self, checksum: str) -> None: ...

    def destroy_many(self, checksums: Iterable[str]) -> int:
        """Destroys content for good (crypto-shredding first where content is sealed); absent ones are skipped."""

    def checksums(self) -> Iterator[str]:
        """Every stored checksum, for fixity and orphan detection."""

    def quarantine(self, checksum: str, min_age_seconds: float) -> bool:
        """Moves an unreferenced blob aside if it was stored at least `min_age_seconds` ago."""

    def sweep_leftovers(self, referenced: set[str], min_age_seconds: float) -> int:
        """Removes what crashed writers left behind (temp files, unused keys) older than the grace period."""

    def spool_dir(self) -> Path:
        """Where uploads are spooled: on the same filesystem as the blobs, so storing is a rename."""


class LocalBlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "sha256").mkdir(parents=True, exist_ok=True)
        (root / "tmp").mkdir(parents=True, exist_ok=True)

    def spool_dir(self) -> Path:
        return self.root / "tmp"

    def key_for(self, checksum: str) -> str:
        algorithm, hexdigest = _split(checksum)
        return f"{algorithm}/{hexdigest[:2]}/{hexdigest[2:4]}/{hexdigest}"

    def path_for(self, checksum: str) -> Path:
        return self.root / self.key_for(checksum)

    def put(self, spool: Spool) -> str:
        spool.finish()
        try:
            if self.holds(spool.checksum, spool.size):
                return self.key_for(spool.checksum)
            spool.sync()
            return self.store_file(spool.checksum, spool.path, spool.size)
        finally:
            spool.discard()

    def holds(self, checksum: str, stored_size: int) -> bool:
        """True when this content is stored already (so a second copy need not even be synced)."""
        try:
            actual = self.path_for(checksum).stat().st_size
        except FileNotFoundError:
            return False
        if actual != stored_size:
            raise IntegrityFailure(f"the stored copy of {checksum} is damaged; run fixity", code="blob_corrupted")
        return True

    def store_file(self, checksum: str, source: Path, stored_size: int) -> str:
        """Links an fsynced file into place. The first writer wins; content is never overwritten."""
        target = self.path_for(checksum)
        _make_dirs_durable(target.parent)
        os.chmod(source, 0o440)
        try:
            os.link(source, target)
        except FileExistsError:
            self.holds(checksum, stored_size)
            return self.key_for(checksum)
        _fsync_dir(target.parent)
        return self.key_for(checksum)

    def open(self, checksum: str, size: int) -> BinaryIO:
        path = self.path_for(checksum)
        try:
            handle = open(path, "rb")
        except FileNotFoundError:
            raise IntegrityFailure(f"the content {checksum} is missing from the blob store",
                                   code="blob_missing") from None
        actual = os.fstat(handle.fileno()).st_size
        if actual != size:
            handle.close()
            raise IntegrityFailure(f"the content {checksum} has {actual} bytes, {size} were recorded",
                                   code="blob_size_mismatch")
        return handle

    def exists(self, checksum: str) -> bool:
        return self.path_for(checksum).exists()

    def delete(self, checksum: str) -> None:
        path = self.path_for(checksum)
        if not path.exists():
            raise NotFound(f"no blob {checksum}")
        path.unlink()
        _fsync_dir(path.parent)

    def destroy_many(self, checksums: Iterable[str]) -> int:
        """Removes many blobs (absent ones are skipped), made durable by one sync: for disposition batches."""
        removed = sum(in_parallel(_unlink, [self.path_for(c) for c in checksums]))
        os.sync()
        return removed

    def checksums(self) -> Iterator[str]:
        for path in sorted((self.root / "sha256").glob("*/*/*")):
            yield f"sha256:{path.name}"

    def sweep_leftovers(self, referenced: set[str], min_age_seconds: float) -> int:
        """Spooled uploads of filers that crashed: never filed, and plaintext, so they must not linger."""
        removed = 0
        for path in self.spool_dir().iterdir():
            if time.time() - path.stat().st_mtime >= min_age_seconds:
                path.unlink(missing_ok=True)
                removed += 1
        return removed

    def quarantine(self, checksum: str, min_age_seconds: float) -> bool:
        path = self.path_for(checksum)
        # ctime changes when a filer links the blob in: a young blob may belong to a transaction still open.
        if time.time() - path.stat().st_ctime < min_age_seconds:
            return False
        target = self.root / "quarantine" / path.name
        _make_dirs_durable(target.parent)
        os.replace(path, target)
        _fsync_dir(path.parent)
        _fsync_dir(target.parent)
        return True


def read_chunks(handle: BinaryIO) -> Iterator[bytes]:
    with handle:
        yield from iter(lambda: handle.read(CHUNK), b"")


def _split(checksum: str) -> tuple[str, str]:
    algorithm, _, hexdigest = checksum.partition(":")
    if algorithm != "sha256" or len(hexdigest) != 64 or not all(c in "0123456789abcdef" for c in hexdigest):
        raise ValueError(f"not a sha256 checksum: {checksum!r}")
    return algorithm, hexdigest


def _make_dirs_durable(directory: Path) -> None:
    missing = []
    while not directory.exists():
        missing.append(directory)
        directory = directory.parent
    for new_dir in reversed(missing):
        new_dir.mkdir(exist_ok=True)
        _fsync_dir(new_dir.parent)


def in_parallel(work: Callable[[Any], Any], items: list[Any], threads: int = 16) -> list[Any]:
    """File-system calls on many files at once: unlink and small writes wait on the journal, not the CPU."""
    if len(items) < 2 * threads:
        return [work(item) for item in items]
    with ThreadPoolExecutor(max_workers=threads) as pool:
        return list(pool.map(work, items, chunksize=max(1, len(items) // (threads * 4))))


def _unlink(path: Path) -> bool:
    try:
        path.unlink()
        return True
    except FileNotFoundError:
        return False


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

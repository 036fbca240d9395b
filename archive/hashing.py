"""Spooling: an upload is written to a temp file beside the blob store while it is hashed and its size is bounded."""
from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import BinaryIO, Iterable

from archive.errors import PayloadTooLarge

CHUNK = 64 * 1024


def format_checksum(digest_hex: str) -> str:
    return f"sha256:{digest_hex}"


class Spool:
    """A write-once temp file that hashes as it is written and refuses to grow past `limit` bytes.

    Used as a context manager; the temp file is removed on exit unless a blob store took it over by renaming it.
    """

    def __init__(self, directory: Path, limit: int) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=directory, prefix="spool-")
        self.path = Path(name)
        self._file: BinaryIO = os.fdopen(fd, "wb")
        self._hash = hashlib.sha256()
        self.size = 0
        self.limit = limit
        self.checksum: str | None = None

    # The file-like surface werkzeug's form parser writes into.
    def write(self, data: bytes) -> int:
        self.size += len(data)
        if self.size > self.limit:
            raise PayloadTooLarge(f"the file is larger than the limit of {self.limit} bytes",
                                  code="file_too_large", limit=self.limit)
        self._hash.update(data)
        return self._file.write(data)

    def seek(self, *args: int) -> int:
        return 0

    def finish(self) -> Spool:
        """Close and fix the checksum. Idempotent. Not fsynced: a store that keeps this very file syncs it
        (LocalBlobStore.put); a sealing store writes, and syncs, a file of its own instead."""
        if self.checksum is None:
            self._file.flush()
            self._file.close()
            self.checksum = format_checksum(self._hash.hexdigest())
        return self

    def sync(self) -> None:
        fd = os.open(self.path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def discard(self) -> None:
        if not self._file.closed:
            self._file.close()
        self.path.unlink(missing_ok=True)

    def __enter__(self) -> Spool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.discard()


def spool_stream(stream: BinaryIO, directory: Path, limit: int) -> Spool:
    spool = Spool(directory, limit)
    try:
        for chunk in iter(lambda: stream.read(CHUNK), b""):
            spool.write(chunk)
        return spool.finish()
    except BaseException:
        spool.discard()
        raise


def hash_chunks(chunks: Iterable[bytes]) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    for chunk in chunks:
        digest.update(chunk)
        size += len(chunk)
    return format_checksum(digest.hexdigest()), size

"""A blob store that seals content with a per-blob data key before it reaches the disk (encryption at rest).

Wraps the local content-addressed store: the same layout and durability order, ciphertext instead of plaintext.
Wrapped data keys live in a KeyDirectory beside it, written first-writer-wins like the blobs, so two filers of the
same new content agree on one key.
"""
from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import BinaryIO, Iterable, Iterator

from archive.blobstore import LocalBlobStore, _fsync_dir, _make_dirs_durable, in_parallel
from archive.encryption import KeyUnavailable, MasterKeyring, OpenedBlob, seal_file, sealed_size
from archive.hashing import Spool

DATA_KEY_BYTES = 32


class KeyDirectory:
    """Wrapped data keys, one small file per blob. Shredding a key makes its blob unreadable for good."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def path_for(self, checksum: str) -> Path:
        hexdigest = checksum.split(":", 1)[1]
        return self.root / "sha256" / hexdigest[:2] / hexdigest[2:4] / f"{hexdigest}.key"

    def load(self, checksum: str) -> bytes | None:
        try:
            return self.path_for(checksum).read_bytes()
        except FileNotFoundError:
            return None

    def add(self, checksum: str, wrapped: bytes) -> bytes:
        """Stores `wrapped` unless a key exists already; returns the key that is now in force."""
        target = self.path_for(checksum)
        temp = self._durable_temp(target.parent, wrapped)
        try:
            os.link(temp, target)
        except FileExistsError:
            return target.read_bytes()
        finally:
            temp.unlink()
        _fsync_dir(target.parent)
        return wrapped

    def replace(self, checksum: str, wrapped: bytes) -> None:
        target = self.path_for(checksum)
        os.replace(self._durable_temp(target.parent, wrapped), target)
        _fsync_dir(target.parent)

    def shred(self, checksum: str) -> bool:
        target = self.path_for(checksum)
        if not target.exists():
            return False
        with open(target, "r+b") as handle:  # overwrite before unlinking, for disks that keep old blocks
            handle.write(os.urandom(target.stat().st_size))
            handle.flush()
            os.fsync(handle.fileno())
        target.unlink()
        _fsync_dir(target.parent)
        return True

    def shred_many(self, checksums: Iterable[str]) -> int:
        """Overwrites every key, syncs once, then unlinks them: the batch form of `shred`."""
        targets = [t for t, present in zip(*_overwritten(self.path_for(c) for c in checksums)) if present]
        os.sync()
        in_parallel(lambda target: target.unlink(missing_ok=True), targets)
        return len(targets)

    def checksums(self) -> Iterator[str]:
        for path in sorted((self.root / "sha256").glob("*/*/*.key")):
            yield f"sha256:{path.stem}"

    def _durable_temp(self, directory: Path, data: bytes) -> Path:
        _make_dirs_durable(directory)
        fd, name = tempfile.mkstemp(dir=directory, prefix=".key-")
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        return Path(name)


def _overwritten(paths: Iterable[Path]) -> tuple[list[Path], list[bool]]:
    """Overwrites each existing key file with random bytes (not synced here); says which ones existed."""
    def overwrite(target: Path) -> bool:
        try:
            with open(target, "r+b") as handle:
                handle.write(os.urandom(os.fstat(handle.fileno()).st_size))
            return True
        except FileNotFoundError:
            return False
    paths = list(paths)
    return paths, in_parallel(overwrite, paths)


class SealedBlobStore:
    def __init__(self, inner: LocalBlobStore, keys: KeyDirectory, keyring: MasterKeyring) -> None:
        self.inner, self.keys, self.keyring = inner, keys, keyring

    def spool_dir(self) -> Path:
        return self.inner.spool_dir()

    def put(self, spool: Spool) -> str:
        spool.finish()
        try:
            if self.keys.load(spool.checksum) is not None and \
                    self.inner.holds(spool.checksum, sealed_size(spool.size)):
                return self.inner.key_for(spool.checksum)
            data_key = self._data_key_for_new_content(spool.checksum)
            fd, name = tempfile.mkstemp(dir=self.spool_dir(), prefix="sealed-")
            sealed = Path(name)
            try:
                with os.fdopen(fd, "wb") as target:
                    seal_file(spool.path, target, data_key, spool.checksum, spool.size)
                    target.flush()
                    os.fsync(target.fileno())
                return self.inner.store_file(spool.checksum, sealed, sealed_size(spool.size))
            finally:
                sealed.unlink(missing_ok=True)
        finally:
            spool.discard()

    def open(self, checksum: str, size: int) -> BinaryIO:
        wrapped = self.keys.load(checksum)
        if wrapped is None:
            raise KeyUnavailable(f"the data key of {checksum} was destroyed; the content is unrecoverable",
                                 code="data_key_shredded")
        data_key = self.keyring.unwrap(wrapped, checksum)
        return OpenedBlob(self.inner.open(checksum, sealed_size(size)), data_key, checksum, size)  # type: ignore

    def exists(self, checksum: str) -> bool:
        return self.inner.exists(checksum) and self.keys.load(checksum) is not None

    def delete(self, checksum: str) -> None:
        self.shred(checksum)
        self.inner.delete(checksum)

    def shred(self, checksum: str) -> bool:
        return self.keys.shred(checksum)

    def destroy_many(self, checksums: Iterable[str]) -> int:
        """Keys first (the content is unreadable from then on), then the ciphertext; one sync for each step."""
        checksums = list(checksums)
        self.keys.shred_many(checksums)
        return self.inner.destroy_many(checksums)

    def checksums(self) -> Iterator[str]:
        return self.inner.checksums()

    def sweep_leftovers(self, referenced: set[str], min_age_seconds: float) -> int:
        """Also shreds data keys whose blob never made it to disk or into a row (a filer crashed in between)."""
        removed = self.inner.sweep_leftovers(referenced, min_age_seconds)
        for checksum in list(self.keys.checksums()):
            key = self.keys.path_for(checksum)
            if checksum not in referenced and not self.inner.exists(checksum) \
                    and time.time() - key.stat().st_mtime >= min_age_seconds:
                removed += self.keys.shred(checksum)
        return removed

    def quarantine(self, checksum: str, min_age_seconds: float) -> bool:
        """The key goes with its blob, so quarantined content stays readable for investigation."""
        if not self.inner.quarantine(checksum, min_age_seconds):
            return False
        key = self.keys.path_for(checksum)
        if key.exists():
            target = self.inner.root / "quarantine" / key.name
            os.replace(key, target)
            _fsync_dir(target.parent)
        return True

    def rewrap(self) -> int:
        """Re-wraps every data key under the current master key; blobs are not rewritten. Returns the count."""
        count = 0
        for checksum in self.keys.checksums():
            wrapped = self.keys.load(checksum)
            if wrapped is not None and self.keyring.wrapped_by(wrapped) != self.keyring.current.key_id:
                self.keys.replace(checksum, self.keyring.wrap(self.keyring.unwrap(wrapped, checksum), checksum))
                count += 1
        return count

    def _data_key_for_new_content(self, checksum: str) -> bytes:
        wrapped = self.keys.load(checksum)
        if wrapped is None and self.inner.exists(checksum):
            self.inner.delete(checksum)  # its key was shredded: unreadable, so this filing replaces it
        if wrapped is None:
            wrapped = self.keys.add(checksum, self.keyring.wrap(os.urandom(DATA_KEY_BYTES), checksum))
        return self.keyring.unwrap(wrapped, checksum)

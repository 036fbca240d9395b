"""Encryption at rest: AES-256-GCM envelope encryption, one data key per blob.

- The plaintext SHA-256 stays the blob's identity; ciphertext is stored under it.
- Data keys are wrapped (AES-256-GCM, the checksum as associated data) by a master key that comes from the
  environment or a key file, never from the database. Wrapped keys live in a key directory of their own, so
  destroying one (crypto-shredding) makes the content unrecoverable from any copy of the blob store.
- Content is sealed in chunks (see BlobCipher) so reads stream and every chunk's GCM tag is checked.
"""
from __future__ import annotations

import base64
import hashlib
import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from archive.errors import IntegrityFailure

MAGIC = b"ARCB"
FORMAT_VERSION = 1
CHUNK = 256 * 1024
TAG = 16
HEADER = struct.Struct(">4sBI7s")  # magic, version, chunk size, nonce prefix
WRAP_VERSION = b"\x01"


class KeyUnavailable(IntegrityFailure):
    code = "key_unavailable"


@dataclass(frozen=True)
class MasterKey:
    key_id: str
    secret: bytes

    @classmethod
    def from_secret(cls, secret: bytes) -> MasterKey:
        if len(secret) != 32:
            raise ValueError("a master key is 32 bytes (base64 of 32 random bytes)")
        return cls(hashlib.sha256(b"archive-master-key:" + secret).hexdigest()[:16], secret)


class MasterKeyring:
    """The current master key wraps; any listed key unwraps (older keys stay until rotation has re-wrapped)."""

    def __init__(self, keys: list[MasterKey]) -> None:
        if not keys:
            raise ValueError("the keyring is empty")
        self.keys = keys
        self.current = keys[0]
        self._by_id = {k.key_id: k for k in keys}

    def wrap(self, data_key: bytes, checksum: str) -> bytes:
        nonce = os.urandom(12)
        sealed = AESGCM(self.current.secret).encrypt(nonce, data_key, checksum.encode())
        return WRAP_VERSION + self.current.key_id.encode() + nonce + sealed

    def unwrap(self, wrapped: bytes, checksum: str) -> bytes:
        key_id, nonce, sealed = wrapped[1:17].decode(), wrapped[17:29], wrapped[29:]
        master = self._by_id.get(key_id)
        if wrapped[:1] != WRAP_VERSION or master is None:
            raise KeyUnavailable(f"the data key of {checksum} is wrapped by master key {key_id}, which is not loaded",
                            code="master_key_missing")
        try:
            return AESGCM(master.secret).decrypt(nonce, sealed, checksum.encode())
        except InvalidTag:
            raise KeyUnavailable(f"the wrapped data key of {checksum} fails its integrity check",
                            code="data_key_corrupted") from None

    def wrapped_by(self, wrapped: bytes) -> str:
        return wrapped[1:17].decode()


def parse_keyring(text: str) -> MasterKeyring:
    """One base64 key per line (or comma-separated); the first is current. Blank lines and # comments ignored."""
    entries = [e.strip() for line in text.splitlines() for e in line.split("#", 1)[0].split(",") if e.strip()]
    try:
        return MasterKeyring([MasterKey.from_secret(base64.b64decode(e, validate=True)) for e in entries])
    except (ValueError, base64.binascii.Error) as exc:
        raise ValueError(f"invalid master key material: {exc}") from None


def new_master_key_text() -> str:
    return base64.b64encode(os.urandom(32)).decode()


def sealed_size(plain_size: int) -> int:
    chunks = max(1, -(-plain_size // CHUNK))
    return HEADER.size + plain_size + TAG * chunks


def seal_file(source: Path, target: BinaryIO, data_key: bytes, checksum: str, plain_size: int) -> None:
    """Writes the sealed form of `source`: a header, then chunks each with its own nonce and tag.

    The nonce is prefix || chunk index || last-chunk flag, so chunks cannot be reordered, dropped or truncated
    without a tag failing; the checksum is associated data, so a blob cannot be swapped for another.
    """
    prefix = os.urandom(7)
    aead = AESGCM(data_key)
    target.write(HEADER.pack(MAGIC, FORMAT_VERSION, CHUNK, prefix))
    with open(source, "rb") as plain:
        index, remaining = 0, plain_size
        while True:
            chunk = plain.read(CHUNK)
            remaining -= len(chunk)
            last = remaining <= 0
            target.write(aead.encrypt(_nonce(prefix, index, last), chunk, checksum.encode()))
            index += 1
            if last:
                break


class OpenedBlob:
    """A read-only stream of the plaintext; raises IntegrityFailure on the first chunk whose tag fails."""

    def __init__(self, sealed: BinaryIO, data_key: bytes, checksum: str, plain_size: int) -> None:
        magic, version, chunk, self._prefix = HEADER.unpack(sealed.read(HEADER.size).ljust(HEADER.size, b"\0"))
        if magic != MAGIC or version != FORMAT_VERSION or chunk <= 0:
            sealed.close()
            raise IntegrityFailure(f"the stored copy of {checksum} is not a sealed blob", code="blob_corrupted")
        self._sealed, self._aead, self._aad = sealed, AESGCM(data_key), checksum.encode()
        self._chunk, self._chunks = chunk, max(1, -(-plain_size // chunk))
        self._index, self._buffer = 0, b""
        self.checksum = checksum

    def read(self, size: int = -1) -> bytes:
        while self._index < self._chunks and (size < 0 or len(self._buffer) < size):
            self._buffer += self._next_chunk()
        if size < 0:
            size = len(self._buffer)
        data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data

    def _next_chunk(self) -> bytes:
        sealed = self._sealed.read(self._chunk + TAG)
        last = self._index == self._chunks - 1
        try:
            plain = self._aead.decrypt(_nonce(self._prefix, self._index, last), sealed, self._aad)
        except InvalidTag:
            raise IntegrityFailure(f"the stored copy of {self.checksum} fails its GCM tag at chunk {self._index}",
                                   code="blob_corrupted") from None
        self._index += 1
        return plain

    def close(self) -> None:
        self._sealed.close()

    def __enter__(self) -> OpenedBlob:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _nonce(prefix: bytes, index: int, last: bool) -> bytes:
    return prefix + struct.pack(">I", index) + (b"\x01" if last else b"\x00")

"""Ed25519 keys that sign checkpoints. Private halves are files (0600) in the signing key directory; public
halves are rows, served at /api/v1/audit/keys and kept after rotation so old checkpoints still verify."""
from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from archive.clock import Clock, isoformat
from archive.errors import Conflict
from archive.models import SigningKey
from audit.log import Actor, append

ALGORITHM = "Ed25519"


def key_id_for(public_raw: bytes) -> str:
    return hashlib.sha256(public_raw).hexdigest()[:16]


def current_key(session: Session) -> SigningKey | None:
    return session.scalar(select(SigningKey).where(SigningKey.retired_at.is_(None))
                          .order_by(SigningKey.created_at.desc()).limit(1))


def generate_key(session: Session, clock: Clock, actor: Actor, key_dir: Path, rotate: bool = False) -> SigningKey:
    """A new signing key. Without `rotate`, refuses when one is in force; with it, retires the old one."""
    old = current_key(session)
    if old is not None and not rotate:
        raise Conflict(f"signing key {old.key_id} is in force; rotate it instead", code="signing_key_exists")
    private = Ed25519PrivateKey.generate()
    public_raw = private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    key = SigningKey(key_id=key_id_for(public_raw), algorithm=ALGORITHM, created_at=clock(),
                     public_key=base64.b64encode(public_raw).decode())
    _write_private(key_dir / f"{key.key_id}.pem", private)
    if old is not None:
        old.retired_at = clock()
    session.add(key)
    session.flush()
    append(session, clock, actor, "signing_key.rotated" if old else "signing_key.generated",
           f"signing_key:{key.key_id}", {"public_key": key.public_key, "retired": old.key_id if old else None})
    return key


def ensure_key(session: Session, clock: Clock, actor: Actor, key_dir: Path) -> SigningKey:
    return current_key(session) or generate_key(session, clock, actor, key_dir)


def sign(key_dir: Path, key: SigningKey, message: bytes) -> str:
    pem = (key_dir / f"{key.key_id}.pem").read_bytes()
    private = serialization.load_pem_private_key(pem, password=None)
    return base64.b64encode(private.sign(message)).decode()


def verify(public_key_b64: str, message: bytes, signature_b64: str) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key_b64)).verify(
            base64.b64decode(signature_b64), message)
        return True
    except (InvalidSignature, ValueError):
        return False


def public_keys(session: Session) -> list[dict]:
    return [{"key_id": k.key_id, "algorithm": k.algorithm, "public_key": k.public_key,
             "created_at": isoformat(k.created_at), "retired_at": isoformat(k.retired_at)}
            for k in session.scalars(select(SigningKey).order_by(SigningKey.created_at))]


def _write_private(path: Path, private: Ed25519PrivateKey) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
        handle.flush()
        os.fsync(handle.fileno())

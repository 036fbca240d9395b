"""The whole-container signature of an evidence package, carried in the zip comment.

The signed bytes are the zip up to and including its end-of-central-directory record, whose comment-length field
already holds the final length; the comment is
`ARCHIVE-PACKAGE-SIGNATURE/1 <key id> <base64 public key> <base64 Ed25519 signature>`. Carrying the public key lets
a verifier check the container before parsing anything inside it. Any changed bit, headers included, breaks it.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

PREFIX = b"ARCHIVE-PACKAGE-SIGNATURE/1 "
SIGNATURE_B64_LENGTH = 88  # 64 bytes of Ed25519 signature


def sign_zip_file(path: Path, sign: Callable[[bytes], str], key_id: str, public_key_b64: str) -> None:
    raw = bytearray(path.read_bytes())
    end = raw.rfind(b"PK\x05\x06")
    if end < 0 or int.from_bytes(raw[end + 20:end + 22], "little") != 0:
        raise ValueError("expected a zip without a comment")
    comment_length = len(PREFIX) + len(key_id) + 1 + len(public_key_b64) + 1 + SIGNATURE_B64_LENGTH
    raw[end + 20:end + 22] = comment_length.to_bytes(2, "little")
    signature = sign(bytes(raw))
    comment = PREFIX + f"{key_id} {public_key_b64} {signature}".encode("ascii")
    if len(comment) != comment_length:
        raise ValueError("unexpected signature length")
    with open(path, "wb") as handle:
        handle.write(bytes(raw) + comment)
        handle.flush()
        os.fsync(handle.fileno())

"""RFC 3161 time-stamps for checkpoints, from a configured time-stamping authority (ARCHIVE_TSA_URL)."""
from __future__ import annotations

import hashlib
import os
import urllib.request

from archive.errors import ArchiveError

SHA256_OID = bytes.fromhex("0609608648016503040201")  # 2.16.840.1.101.3.4.2.1


class TimestampFailed(ArchiveError):
    status = 502
    code = "timestamp_failed"


def timestamp_request(message: bytes, nonce: int) -> bytes:
    """DER TimeStampReq: version 1, SHA-256 message imprint, a nonce, certReq TRUE."""
    algorithm = _der(0x30, SHA256_OID + b"\x05\x00")
    imprint = _der(0x30, algorithm + _der(0x04, hashlib.sha256(message).digest()))
    return _der(0x30, _der(0x02, b"\x01") + imprint + _der(0x02, _int_bytes(nonce)) + b"\x01\x01\xff")


def request_timestamp(url: str, message: bytes, timeout: float = 10.0) -> bytes:
    """Returns the DER TimeStampResp; raises TimestampFailed when the authority does not grant one."""
    body = timestamp_request(message, int.from_bytes(os.urandom(8), "big"))
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/timestamp-query"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            reply = response.read()
    except OSError as exc:
        raise TimestampFailed(f"the time-stamping authority at {url} did not answer: {exc}") from None
    if not _granted(reply):
        raise TimestampFailed(f"the time-stamping authority at {url} refused the request")
    return reply


def _granted(reply: bytes) -> bool:
    """PKIStatusInfo.status is 0 (granted) or 1 (grantedWithMods): bytes 30 .. 30 .. 02 01 0X."""
    marker = reply.find(b"\x02\x01", 0, 16)
    return marker != -1 and reply[marker + 2] in (0, 1)


def _der(tag: int, content: bytes) -> bytes:
    length = len(content)
    if length < 0x80:
        return bytes([tag, length]) + content
    size = (length.bit_length() + 7) // 8
    return bytes([tag, 0x80 | size]) + length.to_bytes(size, "big") + content


def _int_bytes(value: int) -> bytes:
    raw = value.to_bytes((value.bit_length() + 8) // 8 or 1, "big")
    return raw

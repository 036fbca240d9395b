"""Domain errors. Each carries a stable machine-readable code and the HTTP status the web layer maps it to."""
from __future__ import annotations

from typing import Any


class ArchiveError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, code: str | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.extra = extra


class InvalidInput(ArchiveError):
    status = 400
    code = "invalid_input"


class NotFound(ArchiveError):
    status = 404
    code = "not_found"


class Conflict(ArchiveError):
    status = 409
    code = "conflict"


class PayloadTooLarge(ArchiveError):
    status = 413
    code = "payload_too_large"


class UnsupportedMediaType(ArchiveError):
    status = 415
    code = "unsupported_media_type"


class Unauthenticated(ArchiveError):
    status = 401
    code = "unauthenticated"


class Forbidden(ArchiveError):
    status = 403
    code = "forbidden"


class IntegrityFailure(ArchiveError):
    """Stored content no longer matches its recorded checksum or size: never served as valid."""

    status = 500
    code = "integrity_failure"


class SchemaOutOfDate(ArchiveError):
    status = 503
    code = "schema_out_of_date"


class Gone(ArchiveError):
    """The record exists as a tombstone; its content was destroyed by disposition."""

    status = 410
    code = "gone"


class TooManyAttempts(ArchiveError):
    """Login backoff: the caller must wait `retry_after` seconds."""

    status = 429

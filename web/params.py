"""Query parameters, checked: a bad value is a 400 naming the parameter, never a silent default.

Page sizes above MAX_LIMIT are capped (the response's cursor then continues the listing)."""
from __future__ import annotations

from datetime import datetime, timezone

from flask import request

from archive.errors import InvalidInput

MAX_LIMIT = 1000


def positive_int_param(name: str, default: int | None = None, maximum: int | None = None) -> int | None:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    if not (raw.isascii() and raw.isdigit()) or int(raw) < 1:
        raise InvalidInput(f"{name}: must be a positive integer", code="invalid_parameter", field=name)
    return min(int(raw), maximum) if maximum else int(raw)


def limit_param(default: int = 100) -> int:
    return positive_int_param("limit", default, MAX_LIMIT)


def cursor_param() -> int:
    raw = request.args.get("cursor")
    if raw is None or raw == "":
        return 0
    if not (raw.isascii() and raw.isdigit()):
        raise InvalidInput("cursor: not a cursor this API issued", code="invalid_cursor", field="cursor")
    return int(raw)


def datetime_param(name: str) -> datetime | None:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(f"{name}: must be an ISO 8601 date-time", code="invalid_parameter", field=name) from None
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value

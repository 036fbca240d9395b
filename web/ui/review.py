"""The review queue as the UI shows it: the same service as `GET /api/v1/review` (archive/review.py)."""
from __future__ import annotations

from typing import Any

from archive import review
from web.context import actor, runtime


def review_queue(after: str | None = None, limit: int = 100) -> dict[str, Any]:
    rt = runtime()
    with rt.transaction() as session:
        return review.list_queue(session, rt.clock, actor(), after, limit)

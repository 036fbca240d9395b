"""Browser sessions and login backoff for the web UI. Only hashes of session tokens are stored."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from archive.models import Base, User


class UiSession(Base):
    __tablename__ = "ui_sessions"
    id: Mapped[str] = mapped_column(String(80), primary_key=True)  # sha256 of the cookie's token
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(500))
    notices: Mapped[list | None] = mapped_column(JSON)  # [[category, text]] shown once, on the next page
    user: Mapped[User] = relationship()


class LoginThrottle(Base):
    """Failed logins per (username, client address), keyed by a hash of both."""

    __tablename__ = "login_throttles"
    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failed_at: Mapped[datetime]
    blocked_until: Mapped[datetime | None]

"""Browser sessions: password login with backoff per (username, address), server-side sessions, logout.

The cookie carries a random token; the database keeps only its SHA-256, so a leaked database opens no session.
Failed attempts back off exponentially (BACKOFF_FREE failures are free, then 2, 4, 8 ... seconds up to
BACKOFF_MAX), and a blocked attempt is refused without looking at the password.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from archive.accounts import ROLE_SCOPES, check_password, hash_password
from archive.errors import InvalidInput, TooManyAttempts, Unauthenticated
from archive.models import User
from archive.models_sessions import LoginThrottle, UiSession
from archive.runtime import Runtime
from audit.log import Actor, append

IDLE_TIMEOUT = timedelta(hours=2)
ABSOLUTE_TIMEOUT = timedelta(hours=12)
SEEN_RESOLUTION = timedelta(minutes=1)
BACKOFF_FREE = 2
BACKOFF_MAX = timedelta(minutes=15)
LANGUAGES = ("en", "fr")
_DUMMY_HASH = hash_password("not-a-password-of-anyone")


@dataclass(frozen=True)
class SessionInfo:
    user_id: str
    username: str
    role: str
    language: str | None
    csrf_token: str
    actor: Actor
    has_notices: bool = False


def session_actor(user: User, ip: str | None, user_agent: str | None) -> Actor:
    return Actor(name=f"user:{user.username}", role=user.role, scopes=ROLE_SCOPES[user.role], ip=ip,
                 user_agent=user_agent, credential="session")


def login(rt: Runtime, username: str, password: str, ip: str | None, user_agent: str | None) -> tuple[str, SessionInfo]:
    """Returns the cookie token and the new session; raises Unauthenticated or TooManyAttempts (both audited)."""
    key = _throttle_key(username, ip)
    anonymous = Actor(name=f"login:{username[:150]}", ip=ip, user_agent=user_agent)
    wait = _blocked_for(rt, key)
    if wait:
        _failed(rt, anonymous, username, "backoff", key, count=False)
        raise TooManyAttempts(f"too many failed attempts; try again in {wait} seconds", code="login_backoff",
                              retry_after=wait)
    with rt.transaction() as session:
        user = session.scalar(select(User).where(User.username == username))
        ok = check_password(password, user.password_hash if user else _DUMMY_HASH) and user is not None
        if ok and user.active:
            return _open(session, rt, user, key, ip, user_agent)
    _failed(rt, anonymous, username, "disabled" if ok else "bad_credentials", key)
    raise Unauthenticated("wrong username or password", code="bad_credentials")


def _open(session: Session, rt: Runtime, user: User, key: str, ip: str | None,
          user_agent: str | None) -> tuple[str, SessionInfo]:
    token, now = secrets.token_urlsafe(32), rt.clock()
    row = UiSession(id=_digest(token), user_id=user.id, csrf_token=secrets.token_urlsafe(32), created_at=now,
                    last_seen_at=now, expires_at=now + ABSOLUTE_TIMEOUT, ip=ip, user_agent=(user_agent or "")[:500])
    session.add(row)
    session.execute(delete(LoginThrottle).where(LoginThrottle.key == key))
    session.execute(delete(UiSession).where(UiSession.expires_at <= now))
    actor = session_actor(user, ip, user_agent)
    append(session, rt.clock, actor, "user.logged_in", f"user:{user.id}", {"username": user.username})
    return token, _info(row, user, actor)


def _blocked_for(rt: Runtime, key: str) -> int:
    with rt.reading() as session:
        throttle = session.get(LoginThrottle, key)
        if throttle is None or throttle.blocked_until is None:
            return 0
        remaining = (throttle.blocked_until - rt.clock()).total_seconds()
    return max(0, int(remaining + 0.999))


def _failed(rt: Runtime, actor: Actor, username: str, reason: str, key: str, count: bool = True) -> None:
    with rt.transaction() as session:
        failures = _count_failure(session, rt, key) if count else None
        append(session, rt.clock, actor, "user.login_failed", None,
               {"username": username[:150], "reason": reason, "failures": failures}, outcome="denied")


def _count_failure(session: Session, rt: Runtime, key: str) -> int:
    now = rt.clock()
    throttle = session.get(LoginThrottle, key)
    if throttle is None:
        throttle = LoginThrottle(key=key, failures=0, last_failed_at=now)
        session.add(throttle)
    throttle.failures += 1
    throttle.last_failed_at = now
    if throttle.failures > BACKOFF_FREE:
        delay = min(timedelta(seconds=2 ** (throttle.failures - BACKOFF_FREE)), BACKOFF_MAX)
        throttle.blocked_until = now + delay
    return throttle.failures


def current(rt: Runtime, token: str | None, ip: str | None, user_agent: str | None) -> SessionInfo | None:
    """The live session for a cookie token, or None. Refreshes the idle timer at most once a minute."""
    if not token:
        return None
    now = rt.clock()
    with rt.reading() as session:
        row = session.get(UiSession, _digest(token))
        if row is None or row.expires_at <= now or now - row.last_seen_at > IDLE_TIMEOUT or not row.user.active:
            return None
        info = _info(row, row.user, session_actor(row.user, ip, user_agent))
        stale = now - row.last_seen_at >= SEEN_RESOLUTION
    if stale:
        with rt.transaction() as session:
            fresh = session.get(UiSession, _digest(token))
            if fresh is not None:
                fresh.last_seen_at = now
    return info


def logout(rt: Runtime, token: str, info: SessionInfo) -> None:
    with rt.transaction() as session:
        session.execute(delete(UiSession).where(UiSession.id == _digest(token)))
        append(session, rt.clock, info.actor, "user.logged_out", f"user:{info.user_id}", {"username": info.username})


def csrf_matches(expected: str, presented: str | None) -> bool:
    return bool(presented) and hmac.compare_digest(expected.encode(), (presented or "").encode())


def set_language(rt: Runtime, info: SessionInfo, language: str) -> None:
    if language not in LANGUAGES:
        raise InvalidInput(f"language: one of {', '.join(LANGUAGES)}", code="invalid_parameter", field="language")
    with rt.transaction() as session:
        user = session.get(User, info.user_id)
        old = user.language
        if old != language:
            user.language = language
            append(session, rt.clock, info.actor, "user.updated", f"user:{user.id}",
                   {"changes": {"language": {"old": old, "new": language}}})


def _info(row: UiSession, user: User, actor: Actor) -> SessionInfo:
    return SessionInfo(user.id, user.username, user.role, user.language, row.csrf_token, actor, bool(row.notices))


def push_notice(rt: Runtime, token: str, category: str, text: str) -> None:
    """A one-time message for the session's next page (the result of the action just done)."""
    with rt.transaction() as session:
        row = session.get(UiSession, _digest(token))
        if row is not None:
            row.notices = [*(row.notices or []), [category, text[:1000]]]


def take_notices(rt: Runtime, token: str) -> list[tuple[str, str]]:
    with rt.transaction() as session:
        row = session.get(UiSession, _digest(token))
        if row is None or not row.notices:
            return []
        notices, row.notices = row.notices, None
    return [(category, text) for category, text in notices]


def _throttle_key(username: str, ip: str | None) -> str:
    return _digest(f"{username}\x00{ip or ''}")


def _digest(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()

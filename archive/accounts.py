"""Users and API tokens. Passwords are scrypt-hashed; tokens are stored as a SHA-256 of the secret only."""
from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from archive.clock import Clock
from archive.errors import Conflict, Forbidden, InvalidInput, Unauthenticated
from archive.models import ROLES, ApiToken, User
from audit.log import Actor, append

SCOPES = ("file", "read", "audit", "admin")
ROLE_SCOPES = {
    "admin": frozenset(SCOPES),
    "records_manager": frozenset({"file", "read", "audit"}),
    "staff": frozenset({"file", "read"}),
    "auditor": frozenset({"read", "audit"}),
}
TOKEN_PREFIX = "arc"
LAST_USED_RESOLUTION = timedelta(minutes=1)


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1)
    return "scrypt$16384$8$1$" + base64.b64encode(salt).decode() + "$" + base64.b64encode(digest).decode()


def check_password(password: str, stored: str) -> bool:
    _, n, r, p, salt, digest = stored.split("$")
    computed = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p))
    return hmac.compare_digest(computed, base64.b64decode(digest))


def create_user(session: Session, clock: Clock, actor: Actor, username: str, role: str,
                password: str | None = None) -> tuple[User, str]:
    """Returns the user and the password (generated when none was given)."""
    if role not in ROLES:
        raise InvalidInput(f"unknown role {role!r}; roles are {', '.join(ROLES)}", code="unknown_role")
    if not username or len(username) > 150:
        raise InvalidInput("a username of 1 to 150 characters is required", code="invalid_username")
    if session.scalar(select(User).where(User.username == username)):
        raise Conflict(f"user {username!r} exists already", code="user_exists")
    password = password or secrets.token_urlsafe(18)
    if len(password) < 12:
        raise InvalidInput("passwords have at least 12 characters", code="weak_password")
    user = User(username=username, role=role, password_hash=hash_password(password), created_at=clock())
    session.add(user)
    session.flush()
    append(session, clock, actor, "user.created", f"user:{user.id}", {"username": username, "role": role})
    return user, password


def create_token(session: Session, clock: Clock, actor: Actor, name: str, scopes: list[str],
                 username: str | None = None, expires_at: datetime | None = None) -> str:
    """Returns the token text; it is not stored and cannot be shown again."""
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown or not scopes:
        raise InvalidInput(f"scopes must be among {', '.join(SCOPES)}; got {', '.join(scopes) or 'none'}",
                           code="invalid_scopes")
    user = _token_owner(session, username, scopes)
    if session.scalar(select(ApiToken).where(ApiToken.name == name)):
        raise Conflict(f"a token named {name!r} exists already", code="token_exists")
    secret = secrets.token_urlsafe(32)
    token = ApiToken(name=name, user_id=user.id if user else None, scopes=",".join(sorted(set(scopes))),
                     secret_hash="", created_at=clock(), expires_at=expires_at)
    session.add(token)
    session.flush()
    text = f"{TOKEN_PREFIX}_{token.id.replace('-', '')}_{secret}"
    token.secret_hash = _digest(text)
    append(session, clock, actor, "token.created", f"token:{token.id}",
           {"name": name, "scopes": token.scopes, "user": username})
    return text


def _token_owner(session: Session, username: str | None, scopes: list[str]) -> User | None:
    if username is None:
        return None
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise InvalidInput(f"no user {username!r}", code="unknown_user")
    excess = sorted(set(scopes) - ROLE_SCOPES[user.role])
    if excess:
        raise Forbidden(f"role {user.role} cannot hold the scopes {', '.join(excess)}", code="scope_not_allowed")
    return user


@dataclass(frozen=True)
class AuthenticatedToken:
    """What a request needs of its token, read in one Core query: every API request authenticates."""

    id: str
    name: str
    scopes: str
    last_used_at: datetime | None
    username: str | None  # None for a token of no user
    role: str | None


_TOKEN_AND_USER = (select(ApiToken.id, ApiToken.name, ApiToken.secret_hash, ApiToken.scopes, ApiToken.expires_at,
                          ApiToken.revoked_at, ApiToken.last_used_at, User.username, User.role, User.active)
                   .outerjoin(User, User.id == ApiToken.user_id).where(ApiToken.id == bindparam("id")))


def authenticate_token(session: Session, clock: Clock, text: str) -> AuthenticatedToken:
    """Finds the token by its embedded id and compares the secret's hash in constant time. Writes nothing."""
    token = session.connection().execute(_TOKEN_AND_USER, {"id": _token_id(text)}).first()
    presented = _digest(text)
    stored = token.secret_hash if token else _digest("")
    if not hmac.compare_digest(presented, stored) or token is None:
        raise Unauthenticated("the bearer token is not valid", code="invalid_token")
    now = clock()
    if token.revoked_at is not None or (token.expires_at is not None and token.expires_at <= now):
        raise Unauthenticated("the bearer token has expired or was revoked", code="invalid_token")
    if token.username is not None and not token.active:
        raise Unauthenticated("the token's user is disabled", code="invalid_token")
    return AuthenticatedToken(token.id, token.name, token.scopes, token.last_used_at, token.username, token.role)


def last_use_is_stale(token: ApiToken | AuthenticatedToken, clock: Clock) -> bool:
    """`last_used_at` is kept to a resolution, so most requests authenticate without writing anything."""
    return token.last_used_at is None or clock() - token.last_used_at >= LAST_USED_RESOLUTION


def record_token_use(session: Session, clock: Clock, token_id: str) -> None:
    token = session.get(ApiToken, token_id)
    if token is not None and last_use_is_stale(token, clock):
        token.last_used_at = clock()


def actor_for_token(token: AuthenticatedToken, ip: str | None, user_agent: str | None) -> Actor:
    name = f"user:{token.username}" if token.username is not None else f"token:{token.name}"
    return Actor(name=name, role=token.role, scopes=frozenset(token.scopes.split(",")), ip=ip,
                 user_agent=user_agent, credential=f"token:{token.name}")


def _token_id(text: str) -> str:
    parts = text.split("_", 2)
    if len(parts) != 3 or parts[0] != TOKEN_PREFIX or len(parts[1]) != 32:
        return "00000000-0000-0000-0000-000000000000"
    raw = parts[1]
    return f"{raw[:8]}-{raw[8:12]}-{raw[12:16]}-{raw[16:20]}-{raw[20:]}"


def _digest(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def revoke_token(session: Session, clock: Clock, actor: Actor, token_id: str) -> None:
    from archive.errors import NotFound
    token = session.get(ApiToken, token_id)
    if token is None:
        raise NotFound(f"no token {token_id}", code="token_not_found")
    if token.revoked_at is not None:
        raise Conflict(f"token {token.name!r} was revoked already", code="token_revoked")
    token.revoked_at = clock()
    append(session, clock, actor, "token.revoked", f"token:{token.id}", {"name": token.name})


def set_active(session: Session, clock: Clock, actor: Actor, user_id: str, active: bool) -> None:
    from archive.errors import NotFound
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"no user {user_id}", code="user_not_found")
    if user.active != active:
        user.active = active
        append(session, clock, actor, "user.enabled" if active else "user.disabled", f"user:{user.id}",
               {"username": user.username})

"""Bearer tokens: `Authorization: Bearer <token>`. A missing or bad token is 401, a missing scope 403."""
from __future__ import annotations

from functools import wraps
from typing import Any, Callable

from flask import g, request

from archive.accounts import actor_for_token, authenticate_token, last_use_is_stale, record_token_use
from archive.errors import Forbidden, Unauthenticated
from audit.log import Actor, append
from web.context import runtime


def requires(scope: str) -> Callable:
    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            g.actor = authenticated_actor()
            if scope not in g.actor.scopes:
                raise Forbidden(f"this token lacks the `{scope}` scope", code="missing_scope", scope=scope)
            return view(*args, **kwargs)
        return wrapper
    return decorate


def authenticated_actor() -> Actor:
    rt = runtime()
    header = request.headers.get("Authorization", "")
    scheme, _, text = header.partition(" ")
    if scheme.lower() != "bearer" or not text.strip():
        _record_failure("missing_token")
        raise Unauthenticated("an `Authorization: Bearer <token>` header is required", code="missing_token")
    try:
        with rt.reading() as session:
            token = authenticate_token(session, rt.clock, text.strip())
            actor = actor_for_token(token, request.remote_addr, request.user_agent.string or None)
            stale = last_use_is_stale(token, rt.clock)
    except Unauthenticated:
        _record_failure("invalid_token")
        raise
    if stale:
        with rt.transaction() as session:
            record_token_use(session, rt.clock, token.id)
    return actor


def _record_failure(reason: str) -> None:
    rt = runtime()
    anonymous = Actor(name="anonymous", ip=request.remote_addr, user_agent=request.user_agent.string or None)
    with rt.transaction() as session:
        append(session, rt.clock, anonymous, "auth.failed", None,
               {"method": request.method, "path": request.path, "reason": reason}, outcome="denied")

"""Sign in, sign out, and the language preference."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import g, redirect, render_template, request, url_for

from archive import sessions
from archive.errors import TooManyAttempts, Unauthenticated
from web.context import runtime
from web.ui.guard import SESSION_COOKIE, bp, new_login_csrf, page, set_session_cookie


@bp.get("/login")
def login():
    if g.ui is not None:
        return redirect(url_for("ui.home"))
    new_login_csrf()
    return render_template("login.html", next=_safe_next(request.args.get("next")))


@bp.post("/login")
def login_post():
    username, password = request.form.get("username", ""), request.form.get("password", "")
    try:
        token, _ = sessions.login(runtime(), username, password, request.remote_addr,
                                  request.user_agent.string or None)
    except (Unauthenticated, TooManyAttempts) as error:
        new_login_csrf()
        status = error.status
        response = render_template("login.html", next=_safe_next(request.form.get("next")), error=error,
                                   username=username), status
        return response if status != 429 else (*response, {"Retry-After": str(error.extra["retry_after"])})
    response = redirect(_safe_next(request.form.get("next")) or url_for("ui.home"))
    set_session_cookie(response, token)
    return response


@bp.post("/logout")
@page()
def logout():
    sessions.logout(runtime(), request.cookies[SESSION_COOKIE], g.ui)
    response = redirect(url_for("ui.login"))
    response.delete_cookie(SESSION_COOKIE)
    return response


@bp.post("/language")
@page()
def language():
    sessions.set_language(runtime(), g.ui, request.form.get("language", ""))
    return redirect(_safe_next(request.form.get("next")) or url_for("ui.home"))


def _safe_next(target: str | None) -> str | None:
    """Only local paths: never an open redirect to another site."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else None

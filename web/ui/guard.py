"""Who may see and do what in the UI: session cookie, CSRF on every POST, role scopes, read-only auditors, headers."""
from __future__ import annotations

import secrets
from functools import wraps
from typing import Any, Callable

from flask import Blueprint, abort, current_app, g, redirect, render_template, request, url_for
from markupsafe import Markup, escape
from flask_babel import get_locale, lazy_gettext
from werkzeug.exceptions import HTTPException

from archive import sessions
from archive.errors import ArchiveError
from web.context import runtime
from web.errors import HTTP_CODES, problem
from web.ui.labels import label_helpers

bp = Blueprint("ui", __name__, template_folder="templates", static_folder="static", static_url_path="/ui/static")

SESSION_COOKIE = "archive_session"
LOGIN_CSRF_COOKIE = "archive_login_csrf"
UI_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; frame-src 'self'; "
          "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
# Actions every signed-in role may POST, auditors included: they change the session, not the archive.
SESSION_ACTIONS = {"ui.logout", "ui.language"}


@bp.before_request
def load_session() -> None:
    g.ui = sessions.current(runtime(), request.cookies.get(SESSION_COOKIE), request.remote_addr,
                            request.user_agent.string or None)
    if g.ui is not None:
        g.actor = g.ui.actor
    if request.method == "POST":
        _check_post()


def _check_post() -> None:
    presented = request.form.get("csrf_token") or request.headers.get("X-CSRF-Token")
    if request.endpoint == "ui.login_post":
        if not sessions.csrf_matches(request.cookies.get(LOGIN_CSRF_COOKIE, ""), presented):
            abort(403, "the form expired or did not come from this site; reload it and try again")
        return
    if g.ui is None:
        abort(401, "sign in first")
    if not sessions.csrf_matches(g.ui.csrf_token, presented):
        abort(403, "the form expired or did not come from this site; reload it and try again")
    if g.ui.role == "auditor" and request.endpoint not in SESSION_ACTIONS:
        abort(403, "auditors have read-only access")


def page(scope: str = "read", roles: tuple[str, ...] | None = None) -> Callable:
    """A signed-in user with `scope` (and one of `roles`, if given); else the login page, or 403."""
    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if g.ui is None:
                if request.method == "GET":
                    return redirect(url_for("ui.login", next=request.full_path.rstrip("?")))
                abort(401, "sign in first")
            if scope not in g.ui.actor.scopes or (roles and g.ui.role not in roles):
                abort(403, "your role does not allow this page or action")
            return view(*args, **kwargs)
        return wrapper
    return decorate


def can(scope: str, roles: tuple[str, ...] | None = None) -> bool:
    """For templates: whether the current user may act with `scope` (auditors never change anything)."""
    info = g.get("ui")
    if info is None or scope not in info.actor.scopes or (roles and info.role not in roles):
        return False
    return info.role != "auditor"


def may_read(scope: str) -> bool:
    info = g.get("ui")
    return info is not None and scope in info.actor.scopes


def notify(text: str, category: str = "ok") -> None:
    """Tell the user, on the next page, what their action did."""
    sessions.push_notice(runtime(), request.cookies[SESSION_COOKIE], category, str(text))


def notices() -> list[tuple[str, str]]:
    info = g.get("ui")
    if info is None or not info.has_notices:
        return []
    return sessions.take_notices(runtime(), request.cookies[SESSION_COOKIE])


def csrf_field() -> Markup:
    token = g.ui.csrf_token if g.get("ui") else g.get("login_csrf", "")
    return Markup('<input type="hidden" name="csrf_token" value="%s">') % escape(token)


def new_login_csrf() -> str:
    g.login_csrf = request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(32)
    return g.login_csrf


ROLE_LABELS = {"admin": lazy_gettext("administrator"), "records_manager": lazy_gettext("records manager"),
               "staff": lazy_gettext("staff"), "auditor": lazy_gettext("auditor")}


@bp.app_context_processor
def template_helpers() -> dict[str, Any]:
    return {"can": can, "may_read": may_read, "csrf_field": csrf_field, "ui": g.get("ui"), "notices": notices,
            "current_locale": lambda: str(get_locale() or "en"), "role_label": lambda r: ROLE_LABELS.get(r, r),
            "short": lambda checksum: (checksum or "").removeprefix("sha256:")[:12], **label_helpers()}


@bp.after_request
def headers(response):
    response.headers.setdefault("Content-Security-Policy", UI_CSP)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Cache-Control", "no-store")
    if g.get("login_csrf"):
        response.set_cookie(LOGIN_CSRF_COOKIE, g.login_csrf, httponly=True, samesite="Strict",
                            secure=current_app.config["UI_COOKIE_SECURE"])
    return response


def set_session_cookie(response, token: str) -> None:
    response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="Lax",
                        secure=current_app.config["UI_COOKIE_SECURE"],
                        max_age=int(sessions.ABSOLUTE_TIMEOUT.total_seconds()))


@bp.errorhandler(ArchiveError)
def domain_error(error: ArchiveError):
    return _error_page(error.status, error.code, error.message, error.extra)


@bp.errorhandler(HTTPException)
def http_error(error: HTTPException):
    status = error.code or 500
    return _error_page(status, HTTP_CODES.get(status, f"http_{status}"), error.description or "", {})


def _error_page(status: int, code: str, message: str, extra: dict[str, Any]):
    if request.accept_mimetypes.best == "application/json":  # the upload script asks for JSON
        return problem(status, code, message, **extra)
    return render_template("error.html", status=status, code=code, message=message), status

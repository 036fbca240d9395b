"""Admin: users, API tokens with scopes, signing keys. Secrets are shown once, right after creation."""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from flask import redirect, render_template, request, url_for
from flask_babel import gettext as _

from archive import accounts, overview
from archive.models import ROLES
from audit import signing
from web.context import actor, runtime
from web.ui.guard import bp, notify, page


@bp.get("/admin")
@page(scope="admin")
def admin():
    return _render()


@bp.post("/admin/users")
@page(scope="admin")
def admin_user_create():
    rt = runtime()
    with rt.transaction() as session:
        user, password = accounts.create_user(session, rt.clock, actor(), request.form.get("username", "").strip(),
                                              request.form.get("role", ""), request.form.get("password") or None)
        username = user.username
    return _render(secret={"kind": "password", "name": username, "value": password}), 201


@bp.post("/admin/users/<user_id>/active")
@page(scope="admin")
def admin_user_active(user_id: str):
    rt = runtime()
    with rt.transaction() as session:
        accounts.set_active(session, rt.clock, actor(), user_id, request.form.get("active") == "1")
    notify(_("Account updated."), "ok")
    return redirect(url_for("ui.admin"))


@bp.post("/admin/tokens")
@page(scope="admin")
def admin_token_create():
    rt = runtime()
    days = request.form.get("expires_days", "").strip()
    expires = rt.clock() + timedelta(days=int(days)) if days.isdigit() and int(days) > 0 else None
    name = request.form.get("name", "").strip()
    with rt.transaction() as session:
        text = accounts.create_token(session, rt.clock, actor(), name, request.form.getlist("scopes"),
                                     request.form.get("user") or None, expires)
    return _render(secret={"kind": "token", "name": name, "value": text}), 201


@bp.post("/admin/tokens/<token_id>/revoke")
@page(scope="admin")
def admin_token_revoke(token_id: str):
    rt = runtime()
    with rt.transaction() as session:
        accounts.revoke_token(session, rt.clock, actor(), token_id)
    notify(_("Token revoked."), "ok")
    return redirect(url_for("ui.admin"))


@bp.post("/admin/keys/rotate")
@page(scope="admin")
def admin_key_rotate():
    rt = runtime()
    with rt.transaction() as session:
        key = signing.generate_key(session, rt.clock, actor(), Path(rt.settings.signing_key_dir), rotate=True)
        key_id = key.key_id
    notify(_("New signing key %(key)s in force.", key=key_id), "ok")
    return redirect(url_for("ui.admin"))


def _render(secret: dict | None = None) -> str:
    rt = runtime()
    with rt.transaction() as session:
        listing = overview.list_accounts(session, rt.clock, actor())
        keys = signing.public_keys(session)
    return render_template("admin.html", listing=listing, keys=keys, roles=ROLES, scopes=accounts.SCOPES,
                           secret=secret)

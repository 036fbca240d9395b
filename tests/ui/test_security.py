"""Sessions, CSRF, login backoff, headers, escaping, and what is never shown inline."""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import select

from archive.clock import FrozenClock
from archive.models import AuditEvent
from archive.models_sessions import UiSession
from tests.ui.conftest import PASSWORD, csrf_of, sign_in
from web.ui.pages_search import safe_snippet


def actions(runtime, name):
    with runtime.transaction() as session:
        return session.scalars(select(AuditEvent).where(AuditEvent.action == name).order_by(AuditEvent.seq)).all()


def test_the_session_cookie_is_httponly_lax_and_secure_by_default(client, users, runtime):
    response = sign_in(client, users["staff"])
    cookie = next(h for h in response.headers.getlist("Set-Cookie") if h.startswith("archive_session="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" in cookie
    token = cookie.split(";")[0].split("=", 1)[1]
    with runtime.transaction() as session:
        stored = session.scalars(select(UiSession.id)).all()
    assert stored and token not in stored[0] and stored[0].startswith("sha256:")
    assert actions(runtime, "user.logged_in")[-1].actor == "user:staff-user"


def test_secure_cookies_can_be_turned_off_for_the_loopback_server(settings, runtime):
    import dataclasses
    from web.app import create_app
    runtime.settings = dataclasses.replace(settings, cookie_secure="off")
    app = create_app(runtime=runtime)
    assert app.config["UI_COOKIE_SECURE"] is False


def test_a_post_without_or_with_a_wrong_csrf_token_is_refused(login, runtime):
    client = login("staff")
    for token in (None, "forged"):
        data = {"name": "mine", "q": "facture", **({"csrf_token": token} if token else {})}
        response = client.post("/search/saved", data=data)
        assert response.status_code == 403 and "did not come from this site" in response.get_data(as_text=True)
    assert client.post("/search/saved", data={"name": "mine", "q": "facture", "csrf_token": client.csrf}
                       ).status_code == 302
    assert not actions(runtime, "search.saved")[1:]  # only the one with the right token


def test_the_login_form_needs_its_own_csrf_cookie(client, users):
    response = client.post("/login", data={"username": users["staff"], "password": PASSWORD,
                                           "csrf_token": "guess"})
    assert response.status_code == 403


def test_failed_logins_back_off_exponentially_per_user_and_address(app, client, users, runtime):
    clock = FrozenClock(datetime(2026, 11, 29, 12, tzinfo=timezone.utc))
    runtime.clock = clock
    for _ in range(3):
        assert sign_in(client, users["staff"], "wrong password!").status_code == 401
    blocked = sign_in(client, users["staff"], PASSWORD)  # the right password does not help while blocked
    assert blocked.status_code == 429 and blocked.headers["Retry-After"] == "2"
    other_user = sign_in(app.test_client(), users["auditor"], PASSWORD)
    assert other_user.status_code == 302
    clock.advance(seconds=2)
    assert sign_in(client, users["staff"], "wrong password!").status_code == 401
    assert sign_in(client, users["staff"], PASSWORD).headers["Retry-After"] == "4"
    clock.advance(seconds=4)
    assert sign_in(client, users["staff"], PASSWORD).status_code == 302
    failures = actions(runtime, "user.login_failed")
    assert [e.details["reason"] for e in failures] == ["bad_credentials"] * 3 + ["backoff", "bad_credentials",
                                                                                 "backoff"]
    assert all(e.outcome == "denied" for e in failures)
    fresh = app.test_client()
    assert sign_in(fresh, users["staff"], "wrong password!").status_code == 401  # the count restarted at zero
    assert sign_in(fresh, users["staff"], PASSWORD).status_code == 302


def test_an_unknown_user_gets_the_same_answer_as_a_wrong_password(client, users):
    unknown = sign_in(client, "nobody", PASSWORD)
    wrong = sign_in(client, users["staff"], "wrong password!")
    assert unknown.status_code == wrong.status_code == 401
    assert "Wrong username or password." in unknown.get_data(as_text=True)


def test_logout_ends_the_session_on_the_server(login, runtime):
    client = login("staff")
    cookie = client.get_cookie("archive_session").value
    assert client.post("/logout", data={"csrf_token": client.csrf}).status_code == 302
    assert actions(runtime, "user.logged_out")
    client.set_cookie("archive_session", cookie)
    assert client.get("/").status_code == 302


def test_disabled_users_lose_their_sessions(login, runtime):
    from archive.models import User
    staff, admin = login("staff"), login("admin")
    with runtime.transaction() as session:
        target = session.scalar(select(User).where(User.username == "staff-user")).id
    assert admin.post(f"/admin/users/{target}/active", data={"active": "0", "csrf_token": admin.csrf}
                      ).status_code == 302
    assert staff.get("/").status_code == 302
    assert actions(runtime, "user.disabled")[-1].subject == f"user:{target}"


def test_no_open_redirect_after_login(client, users):
    page = client.get("/login?next=//evil.example/x")
    assert "evil.example" not in page.get_data(as_text=True)
    response = client.post("/login", data={"username": users["staff"], "password": PASSWORD,
                                           "next": "https://evil.example/", "csrf_token": csrf_of(page.get_data(as_text=True))})
    assert response.headers["Location"] == "/"


def test_pages_carry_a_strict_csp_and_nosniff(login, filed):
    client = login("admin")
    response = client.get(f"/documents/{filed['invoice']['id']}")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    html = response.get_data(as_text=True)
    assert "<script>" not in html and " on" + "click=" not in html and "style=" not in html


def test_the_pdf_preview_is_sandboxed_and_framed_only_by_us(login, filed):
    client = login("staff")
    response = client.get(f"/documents/{filed['invoice']['id']}/preview")
    assert response.mimetype == "application/pdf" and response.data.startswith(b"%PDF")
    csp = response.headers["Content-Security-Policy"]
    assert "sandbox" in csp and "frame-ancestors 'self'" in csp and response.headers["X-Frame-Options"] == "SAMEORIGIN"
    page = client.get(f"/documents/{filed['invoice']['id']}").get_data(as_text=True)
    assert "<iframe" not in page and f"/documents/{filed['invoice']['id']}/pages/1.png" in page
    thumbnail = client.get(f"/documents/{filed['invoice']['id']}/thumbnail.png")
    assert thumbnail.mimetype == "image/png" and thumbnail.data.startswith(b"\x89PNG")


def test_markup_documents_are_never_shown_inline_only_downloaded(login, filed, runtime):
    client = login("staff")
    document_id = filed["xml"]["id"]
    for suffix in ("preview", "thumbnail.png", "pages/1.png"):
        response = client.get(f"/documents/{document_id}/{suffix}")
        assert response.status_code == 415 and b"alert(1)" not in response.data
    download = client.get(f"/documents/{document_id}/download")
    assert download.headers["Content-Disposition"].startswith("attachment;")
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    page = client.get(f"/documents/{document_id}").get_data(as_text=True)
    assert "No preview" in page and "<iframe" not in page
    assert not [e for e in actions(runtime, "document.previewed") if e.subject == f"document:{document_id}"]


def test_titles_and_text_are_escaped_everywhere(login, filed):
    client = login("admin")
    for url in (f"/documents/{filed['invoice']['id']}", "/customers/C-1042/orders/PO-4711", "/"):
        html = client.get(url).get_data(as_text=True)
        assert "Invoice &lt;b&gt;4711&lt;/b&gt;" in html and "<b>4711" not in html, url


def test_snippets_keep_only_mark_tags():
    assert safe_snippet("a &lt;b&gt; <mark>facture</mark> &amp; c") == "a &lt;b&gt; <mark>facture</mark> &amp; c"
    assert safe_snippet('<img src=x onerror=alert(1)> <mark>x') == \
        "&lt;img src=x onerror=alert(1)&gt; <mark>x</mark>"


def test_previews_and_downloads_are_audited(login, filed, runtime):
    client = login("staff")
    client.get(f"/documents/{filed['invoice']['id']}/preview")
    client.get(f"/documents/{filed['invoice']['id']}/download")
    previewed = actions(runtime, "document.previewed")
    assert previewed and previewed[-1].actor == "user:staff-user" and previewed[-1].credential == "session"
    assert actions(runtime, "document.downloaded")[-1].actor == "user:staff-user"


def test_restricted_documents_are_refused_to_staff_and_shown_to_auditors(login, filed, runtime):
    from archive.models import Document
    document_id = filed["invoice"]["id"]
    with runtime.transaction() as session:
        session.get(Document, document_id).restricted = True
    staff, auditor = login("staff"), login("auditor")
    for suffix in ("", "/preview", "/thumbnail.png", "/pages/1.png", "/download"):
        assert staff.get(f"/documents/{document_id}{suffix}").status_code == 403, suffix
        assert auditor.get(f"/documents/{document_id}{suffix}").status_code == 200, suffix
    refused = actions(runtime, "document.access_refused")
    assert len(refused) == 5 and {e.actor for e in refused} == {"user:staff-user"}

"""Every page for every role: 200 where the role may see it, 403 where not, the login page for nobody."""
from __future__ import annotations

import pytest

from archive.models import ROLES

EVERYONE = set(ROLES)
AUDIT_ROLES = {"admin", "records_manager", "auditor"}
FILERS = {"admin", "records_manager", "staff"}


def pages(filed):
    invoice, customer, order = filed["invoice"]["id"], filed["customer"], filed["order"]
    return [
        ("/", EVERYONE, "What needs attention"),
        ("/search", EVERYONE, "Saved searches"),
        ("/search?q=facture&sort=date_desc", EVERYONE, "Export CSV"),
        ("/customers", EVERYONE, customer),
        (f"/customers/{customer}", EVERYONE, order),
        (f"/customers/{customer}/orders/{order}", EVERYONE, "Reconciliation"),
        (f"/documents/{invoice}", EVERYONE, filed["invoice"]["checksum"]),
        (f"/documents/{invoice}/preview", EVERYONE, None),
        (f"/documents/{invoice}/thumbnail.png", EVERYONE, None),
        (f"/documents/{invoice}/pages/1.png", EVERYONE, None),
        (f"/documents/{invoice}/download", EVERYONE, None),
        ("/upload", FILERS, "Drop files here"),
        ("/review", EVERYONE, "Review queue"),
        ("/audit", AUDIT_ROLES, "document.filed"),
        ("/audit/verify", AUDIT_ROLES, "The audit chain is intact."),
        ("/retention", AUDIT_ROLES, "Legal holds"),
        (f"/customers/{customer}/orders/{order}/evidence.zip", AUDIT_ROLES, None),
        ("/admin", {"admin"}, "Signing keys"),
    ]


@pytest.mark.parametrize("role", ROLES)
def test_every_page_answers_each_role_as_its_scopes_say(login, filed, role):
    client = login(role)
    for url, allowed, marker in pages(filed):
        response = client.get(url)
        if role in allowed:
            assert response.status_code == 200, (url, response.status_code, response.get_data(as_text=True)[:500])
            if marker:
                assert marker in response.get_data(as_text=True), (url, marker)
        else:
            assert response.status_code == 403, (url, response.status_code)
            assert "Not allowed" in response.get_data(as_text=True)


def test_signed_out_visitors_are_sent_to_the_login_page(client, filed):
    for url, _, _ in pages(filed):
        response = client.get(url)
        assert response.status_code == 302 and "/login?next=" in response.headers["Location"], url
    assert client.post("/search/saved", data={"name": "x", "q": "x"}).status_code == 401


def test_navigation_shows_only_what_the_role_may_open(login, filed):
    staff = login("staff").get("/").get_data(as_text=True)
    assert 'href="/upload"' in staff and 'href="/audit"' not in staff and 'href="/admin"' not in staff
    auditor = login("auditor").get("/").get_data(as_text=True)
    assert 'href="/audit"' in auditor and 'href="/upload"' not in auditor and 'href="/admin"' not in auditor
    admin = login("admin").get("/").get_data(as_text=True)
    assert all(f'href="/{p}"' in admin for p in ("upload", "audit", "retention", "admin"))


def test_auditors_see_no_form_that_changes_state(login, filed):
    client = login("auditor")
    urls = [f"/documents/{filed['invoice']['id']}", f"/customers/C-1042/orders/PO-4711", "/retention",
            "/search?q=facture"]
    for url in urls:
        html = client.get(url).get_data(as_text=True)
        actions = [a for a in __import__("re").findall(r'<form method="post" action="([^"]+)"', html)]
        assert set(actions) <= {"/language", "/logout"}, (url, actions)


def test_unknown_things_are_404_pages(login):
    client = login("admin")
    for url in ("/documents/0190aaaa-0000-7000-8000-000000000000", "/customers/NOPE",
                "/customers/C-1/orders/NOPE"):
        response = client.get(url)
        assert response.status_code == 404 and "Not found" in response.get_data(as_text=True), url

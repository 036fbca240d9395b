"""UI fixtures: one user per role, a signed-in test client for each, and a small filed order."""
from __future__ import annotations

import io
import re
from typing import Callable

import pytest

from archive.accounts import create_user
from archive.models import ROLES
from tests.fixtures.samples import metadata, pdf_bytes

PASSWORD = "correct horse battery staple"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    match = CSRF.search(html)
    assert match, "the page has no CSRF field"
    return match.group(1)


@pytest.fixture
def users(runtime, system_actor) -> dict[str, str]:
    with runtime.transaction() as session:
        for role in ROLES:
            create_user(session, runtime.clock, system_actor, f"{role}-user", role, PASSWORD)
        create_user(session, runtime.clock, system_actor, "second-manager", "records_manager", PASSWORD)
    return {role: f"{role}-user" for role in ROLES}


def sign_in(client, username: str, password: str = PASSWORD):
    page = client.get("/login")
    return client.post("/login", data={"username": username, "password": password,
                                       "csrf_token": csrf_of(page.get_data(as_text=True))})


@pytest.fixture
def login(app, users) -> Callable[[str], object]:
    """A fresh client signed in as the user of `role` (or a username); its `.csrf` is the session's token."""
    def make(role: str):
        client = app.test_client()
        response = sign_in(client, users.get(role, role))
        assert response.status_code == 302, response.get_data(as_text=True)
        client.csrf = csrf_of(client.get("/").get_data(as_text=True))
        return client
    return make


@pytest.fixture
def filed(client, auth) -> dict:
    """One order with an invoice (PDF), a delivery note, and a PNG without an order."""
    def post(data: bytes, name: str, meta: str) -> dict:
        response = client.post("/api/v1/documents", headers=auth, content_type="multipart/form-data",
                               data={"file": (io.BytesIO(data), name), "metadata": meta})
        assert response.status_code == 201, response.json
        return response.json
    invoice = post(pdf_bytes("Facture 4711 <script>alert(1)</script>"), "facture.pdf",
                   metadata(title="Invoice <b>4711</b>", external_reference="INV-4711"))
    delivery = post(pdf_bytes("Bon de livraison"), "bl.pdf", metadata(doc_type="delivery_note"))
    from tests.fixtures.samples import PNG_1PX
    image = post(PNG_1PX, "scan.png", metadata(order=None, doc_type="correspondence"))
    xml = post(b'<?xml version="1.0"?>\n<Invoice xmlns:h="http://www.w3.org/1999/xhtml"><h:script>alert(1)'
               b'</h:script></Invoice>\n', "x.xhtml", metadata(order=None, doc_type="other"))
    return {"invoice": invoice, "delivery": delivery, "image": image, "xml": xml,
            "customer": "C-1042", "order": "PO-4711"}

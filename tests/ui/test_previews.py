"""PDF pages rendered server-side to PNG: one image per page, version-aware, capped, refused like the preview."""
from __future__ import annotations

import io
import re

import pikepdf
from PIL import Image

from tests.fixtures.samples import metadata, pdf_bytes
from tests.ui.test_security import actions


def three_pages() -> bytes:
    pdf = pikepdf.new()
    for width in (612, 792, 612):  # the second page is landscape
        pdf.add_blank_page(page_size=(width, 1404 - width))
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def file_pdf(client, auth, data: bytes) -> str:
    response = client.post("/api/v1/documents", headers=auth, content_type="multipart/form-data",
                           data={"file": (io.BytesIO(data), "three.pdf"), "metadata": metadata()})
    assert response.status_code == 201, response.json
    return response.json["id"]


def code_of(response) -> str:
    match = re.search(r'data-code="([^"]+)"', response.get_data(as_text=True))
    return match.group(1) if match else ""


def png_size(data: bytes) -> tuple[int, int]:
    assert data.startswith(b"\x89PNG")
    return Image.open(io.BytesIO(data)).size


def test_each_page_is_a_png_and_past_the_last_page_is_404(login, client, auth, users, runtime):
    document_id = file_pdf(client, auth, three_pages())
    staff = login("staff")
    sizes = []
    for number in (1, 2, 3):
        response = staff.get(f"/documents/{document_id}/pages/{number}.png")
        assert response.status_code == 200 and response.mimetype == "image/png", number
        assert response.headers["Cache-Control"] == "private, no-store"
        sizes.append(png_size(response.data))
    assert sizes[0][0] == 1000 and abs(sizes[0][1] - 1000 * 792 / 612) <= 1
    assert sizes[1][0] == 1000 and sizes[1][1] < 1000  # landscape
    beyond = staff.get(f"/documents/{document_id}/pages/4.png")
    assert beyond.status_code == 404 and code_of(beyond) == "page_not_found"
    assert staff.get(f"/documents/{document_id}/pages/0.png").status_code == 404
    pages = [e for e in actions(runtime, "document.previewed") if e.details.get("kind") == "page"]
    assert [e.details["page"] for e in pages] == [1, 2, 3, 4]  # the read that found no page 4 is a read too
    assert {e.actor for e in pages} == {"user:staff-user"}


def test_the_document_page_shows_every_page_as_a_lazy_image_with_links(login, client, auth, users):
    document_id = file_pdf(client, auth, three_pages())
    html = login("auditor").get(f"/documents/{document_id}").get_data(as_text=True)
    for number in (1, 2, 3):
        assert f'src="/documents/{document_id}/pages/{number}.png" loading="lazy"' in html
        assert f'id="page-{number}"' in html
    assert 'href="#page-2" rel="next"' in html and 'href="#page-2" rel="prev"' in html
    assert f"/pages/4.png" not in html and "<iframe" not in html and "<script>" not in html


def test_pages_beyond_the_setting_are_not_rendered(login, client, auth, users, runtime):
    document_id = file_pdf(client, auth, three_pages())
    object.__setattr__(runtime.settings, "preview_max_pages", 2)
    staff = login("staff")
    assert staff.get(f"/documents/{document_id}/pages/2.png").status_code == 200
    refused = staff.get(f"/documents/{document_id}/pages/3.png")
    assert refused.status_code == 404 and code_of(refused) == "page_beyond_preview_limit"
    html = staff.get(f"/documents/{document_id}").get_data(as_text=True)
    assert "/pages/2.png" in html and "/pages/3.png" not in html and "Only the first 2 of 3 pages" in html


def test_pdfs_over_the_size_setting_get_no_page_images(login, client, auth, users, runtime):
    document_id = file_pdf(client, auth, pdf_bytes("big", padding=4096))
    object.__setattr__(runtime.settings, "preview_max_bytes", 1024)
    staff = login("staff")
    response = staff.get(f"/documents/{document_id}/pages/1.png")
    assert response.status_code == 413 and code_of(response) == "no_preview"
    html = staff.get(f"/documents/{document_id}").get_data(as_text=True)
    assert "/pages/1.png" not in html and "cannot be shown here" in html


def test_pages_follow_the_version_asked_for(login, client, auth, users):
    document_id = file_pdf(client, auth, pdf_bytes("one page"))
    response = client.post(f"/api/v1/documents/{document_id}/versions", headers=auth,
                           content_type="multipart/form-data", data={"file": (io.BytesIO(three_pages()), "v2.pdf")})
    assert response.status_code == 201, response.json
    staff = login("staff")
    assert staff.get(f"/documents/{document_id}/pages/3.png").status_code == 200
    assert staff.get(f"/documents/{document_id}/pages/3.png?version=1").status_code == 404
    assert staff.get(f"/documents/{document_id}/pages/1.png?version=1").status_code == 200
    assert code_of(staff.get(f"/documents/{document_id}/pages/1.png?version=9")) == "version_not_found"


def test_images_and_markup_have_no_pages(login, filed):
    staff = login("staff")
    for name in ("image", "xml"):
        response = staff.get(f"/documents/{filed[name]['id']}/pages/1.png")
        assert response.status_code == 415 and code_of(response) == "no_preview", name


def test_a_broken_pdf_is_refused_clearly_not_crashed(login, client, auth, users):
    document_id = file_pdf(client, auth, pdf_bytes("x")[:200] + b"garbage" * 50)
    staff = login("staff")
    response = staff.get(f"/documents/{document_id}/pages/1.png")
    assert response.status_code == 415 and code_of(response) == "no_preview"
    assert "the PDF cannot be rendered" in response.get_data(as_text=True)
    page = staff.get(f"/documents/{document_id}")
    assert page.status_code == 200 and "cannot be shown here" in page.get_data(as_text=True)

"""French and English: the browser's language, then the user's own choice; the catalogue is complete."""
from __future__ import annotations

from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from web.ui import TRANSLATIONS


def test_the_browser_language_is_used_until_the_user_chooses(login):
    client = login("staff")
    assert ">Rechercher<" in client.get("/", headers={"Accept-Language": "fr-FR,fr;q=0.9"}).get_data(as_text=True)
    assert ">Search<" in client.get("/", headers={"Accept-Language": "en-GB"}).get_data(as_text=True)
    assert client.post("/language", data={"language": "fr", "csrf_token": client.csrf, "next": "/search"}
                       ).headers["Location"] == "/search"
    page = client.get("/search", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert ">Rechercher<" in page and 'lang="fr"' in page and "Recherches enregistrées" in page


def test_auditors_may_choose_their_language_but_change_nothing_else(login):
    client = login("auditor")
    assert client.post("/language", data={"language": "fr", "csrf_token": client.csrf}).status_code == 302
    assert client.post("/language", data={"language": "xx", "csrf_token": client.csrf}).status_code == 400


def test_plural_forms_and_placeholders_are_translated(login, filed):
    client = login("admin")
    page = client.get("/customers/C-1042/orders/PO-4711", headers={"Accept-Language": "fr"}).get_data(as_text=True)
    assert "Rapprochement" in page and "1 bon de livraison" in page and "Réception" in page


def test_every_message_has_a_french_translation_and_the_mo_is_compiled():
    po_path = TRANSLATIONS / "fr" / "LC_MESSAGES" / "messages.po"
    with po_path.open("rb") as handle:
        catalog = read_po(handle)
    untranslated = [m.id for m in catalog if m.id and not (all(m.string) if isinstance(m.string, tuple)
                                                            else m.string)]
    assert untranslated == []
    with po_path.with_suffix(".mo").open("rb") as handle:
        compiled = read_mo(handle)
    assert {_key(m.id) for m in compiled if m.id} == {_key(m.id) for m in catalog if m.id}
    with (TRANSLATIONS / "messages.pot").open("rb") as handle:
        template = read_po(handle)
    assert {_key(m.id) for m in template if m.id} <= {_key(m.id) for m in catalog if m.id}, \
        "run scripts/ui_translations.py"


def _key(message_id):
    return tuple(message_id) if isinstance(message_id, (list, tuple)) else message_id

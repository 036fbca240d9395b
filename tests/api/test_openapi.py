"""web/api/openapi.json against itself and against what the app really serves.

Every request made here goes through `Api.call`, which asserts the status code, checks that the status, the media
type, the required headers and the query/header parameters are documented for that operation, and validates the JSON
body (success or problem) with JSON Schema 2020-12 against the spec's own schema, `$ref`s resolved through a
`referencing` registry holding the whole document.
"""
from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import zipfile
from pathlib import Path
from typing import Any, Callable
from urllib.parse import quote, urlparse

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import OpenAPIV31SpecValidator, validate
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from datetime import datetime, timezone

from archive.accounts import SCOPES, create_token, create_user
from archive.clock import FrozenClock
from archive.tasks import drain
from audit.checkpoints import create_checkpoint
from tests.fixtures.samples import ELF_HEADER, PNG_1PX, docx_bytes, metadata, pdf_bytes
from web.api.openapi import SPEC_PATH
from web.app import API_PREFIX

SPEC: dict[str, Any] = json.loads(SPEC_PATH.read_text(encoding="utf-8"))
SPEC_URI = "urn:order-archive:openapi"
REGISTRY = Registry().with_resource(SPEC_URI, DRAFT202012.create_resource(SPEC))
FORMATS = Draft202012Validator.FORMAT_CHECKER
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
PLACEHOLDER = "no-such-thing"


# --- reading the spec ---------------------------------------------------------------------------------------------

def escape(part: str) -> str:
    return part.replace("~", "~0").replace("/", "~1")


def lookup(at: str) -> Any:
    node: Any = SPEC
    for part in at.split("/")[1:]:
        part = part.replace("~1", "/").replace("~0", "~")
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node


def deref(node: Any, at: str) -> tuple[Any, str]:
    """Follows local `$ref`s (components/responses, parameters, headers) to the node and its JSON pointer."""
    while isinstance(node, dict) and "$ref" in node:
        ref = node["$ref"]
        assert ref.startswith("#/"), f"only local references are expected, found {ref}"
        at = ref[1:]
        node = lookup(at)
    return node, at


def validator_at(at: str) -> Draft202012Validator:
    return Draft202012Validator({"$ref": f"{SPEC_URI}#{at}"}, registry=REGISTRY, format_checker=FORMATS)


def assert_valid(instance: Any, at: str, what: str) -> None:
    errors = sorted(validator_at(at).iter_errors(instance), key=lambda e: list(e.absolute_path))
    assert not errors, f"{what} does not match {at}:\n" + "\n".join(
        f"  at {'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}" for e in errors[:10])


def documented_operations() -> set[tuple[str, str]]:
    return {(path, method) for path, item in SPEC["paths"].items() for method in item if method in HTTP_METHODS}


def operation(path: str, method: str) -> tuple[dict[str, Any], str]:
    assert path in SPEC["paths"], f"{path} is not documented"
    assert method in SPEC["paths"][path], f"{method.upper()} {path} is not documented"
    return SPEC["paths"][path][method], "/paths/" + escape(path) + "/" + method


def parameters(path: str, method: str) -> dict[tuple[str, str], dict[str, Any]]:
    """Path-level and operation-level parameters, keyed by (in, name); the operation's win."""
    op, at = operation(path, method)
    found: dict[tuple[str, str], dict[str, Any]] = {}
    item_at = "/paths/" + escape(path)
    for owner, owner_at in ((SPEC["paths"][path], item_at), (op, at)):
        for index, raw in enumerate(owner.get("parameters", [])):
            param, _ = deref(raw, f"{owner_at}/parameters/{index}")
            found[(param["in"], param["name"].lower() if param["in"] == "header" else param["name"])] = param
    return found


def security_of(op: dict[str, Any]) -> list[dict[str, Any]]:
    return op.get("security", SPEC.get("security", []))


def secured_operations() -> list[tuple[str, str]]:
    return sorted((p, m) for p, m in documented_operations() if security_of(operation(p, m)[0]))


def placeholders(path: str, method: str) -> dict[str, str]:
    """Values for every path parameter that name nothing existing but still match the route's converter."""
    return {name: "999999" if param["schema"].get("type") == "integer" else PLACEHOLDER
            for (where, name), param in parameters(path, method).items() if where == "path"}


def concrete(path: str, values: dict[str, str] | None = None) -> str:
    values = values or {}
    return API_PREFIX + re.sub(r"\{([^}]+)\}", lambda m: quote(values.get(m.group(1), PLACEHOLDER), safe=""), path)


# --- calling the app ----------------------------------------------------------------------------------------------

class Api:
    """Calls the app and checks each exchange against the spec."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.exercised: set[tuple[str, str, int]] = set()

    def call(self, method: str, path: str, status: int, *, params: dict[str, str] | None = None,
             query: dict[str, Any] | None = None, headers: dict[str, str] | None = None,
             json_body: Any = None, form: dict[str, Any] | None = None, raw: tuple[bytes, str] | None = None):
        op, at = operation(path, method)
        documented = parameters(path, method)
        for name in (params or {}):
            assert ("path", name) in documented, f"path parameter {name} of {method.upper()} {path} is undocumented"
        for name in (query or {}):
            assert ("query", name) in documented, f"query parameter {name} of {method.upper()} {path} is undocumented"
        for name in (headers or {}):
            if name.lower() != "authorization":
                assert ("header", name.lower()) in documented, \
                    f"request header {name} of {method.upper()} {path} is undocumented"
        expect_success = 200 <= status < 300
        kwargs: dict[str, Any] = {"method": method.upper(), "query_string": query, "headers": headers or {}}
        if json_body is not None:
            self._check_json_request(op, at, json_body, expect_success)
            kwargs["json"] = json_body
        elif form is not None:
            self._check_form_request(op, at, form, expect_success)
            kwargs["data"] = {k: (io.BytesIO(v[0]), v[1]) if isinstance(v, tuple) else v for k, v in form.items()}
            kwargs["content_type"] = "multipart/form-data"
        elif raw is not None:
            kwargs["data"], kwargs["content_type"] = raw
        response = self.client.open(concrete(path, params), **kwargs)
        assert response.status_code == status, \
            f"{method.upper()} {path}: expected {status}, got {response.status_code}: {response.get_data(True)[:500]}"
        check_response(response, path, method)
        self.exercised.add((path, method, status))
        return response

    @staticmethod
    def _check_json_request(op: dict[str, Any], at: str, body: Any, expect_success: bool) -> None:
        content = op.get("requestBody", {}).get("content", {})
        assert "application/json" in content, f"{at} takes no JSON body"
        if expect_success:
            assert_valid(body, f"{at}/requestBody/content/application~1json/schema", "the request body")

    @staticmethod
    def _check_form_request(op: dict[str, Any], at: str, form: dict[str, Any], expect_success: bool) -> None:
        content = op.get("requestBody", {}).get("content", {})
        assert "multipart/form-data" in content, f"{at} takes no multipart body"
        schema = content["multipart/form-data"]["schema"]
        undocumented = set(form) - set(schema["properties"])
        assert not undocumented, f"form parts {undocumented} of {at} are undocumented"
        if not expect_success:
            return
        assert set(schema.get("required", [])) <= set(form)
        for name, part in schema["properties"].items():
            if name in form and "contentSchema" in part:
                assert part.get("contentMediaType") == "application/json"
                assert_valid(json.loads(form[name]), f"{at}/requestBody/content/multipart~1form-data/schema/"
                                                     f"properties/{escape(name)}/contentSchema", f"the `{name}` part")


def check_response(response: Any, path: str, method: str) -> None:
    op, at = operation(path, method)
    key = str(response.status_code)
    assert key in op["responses"], f"{method.upper()} {path} does not document status {key}"
    documented, resp_at = deref(op["responses"][key], f"{at}/responses/{key}")
    for name, raw_header in documented.get("headers", {}).items():
        header, header_at = deref(raw_header, f"{resp_at}/headers/{escape(name)}")
        value = response.headers.get(name)
        if header.get("required"):
            assert value is not None, f"{method.upper()} {path} {key}: the {name} header is missing"
        if value is not None:
            assert_valid(value, f"{header_at}/schema", f"the {name} header of {method.upper()} {path} {key}")
    content = documented.get("content", {})
    if not content:
        assert response.get_data() == b"", f"{method.upper()} {path} {key} documents no body but has one"
        return
    media = response.mimetype
    assert media in content, f"{method.upper()} {path} {key}: {media} is not among {sorted(content)}"
    schema_at = f"{resp_at}/content/{escape(media)}/schema"
    if media == "application/json" or media.endswith("+json"):
        body = json.loads(response.get_data(as_text=True))
        assert_valid(body, schema_at, f"the body of {method.upper()} {path} {key}")
        if media == "application/problem+json":
            assert body["status"] == response.status_code


@pytest.fixture
def api(client) -> Api:
    return Api(client)


@pytest.fixture
def token_headers(make_token) -> Callable[..., dict[str, str]]:
    def make(scopes: str = "file,read,audit,admin", name: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {make_token(scopes, name)}"}
    return make


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


# --- the document itself ------------------------------------------------------------------------------------------

def test_the_document_is_valid_openapi_3_1():
    assert SPEC["openapi"] == "3.1.0"
    validate(SPEC, cls=OpenAPIV31SpecValidator)


def test_schema_validation_really_checks_formats_and_references():
    for name in ("date-time", "date", "uuid"):
        assert name in FORMATS.checkers, f"format {name} would not be checked"
    receipt_at = "/components/schemas/Receipt"
    good = {"id": "01900000-0000-7000-8000-000000000000", "version": 1, "checksum": sha256(b"x"), "size": 1,
            "mime_type": "application/pdf", "doc_type": "invoice", "filed_at": "2024-07-15T10:00:00.000000Z",
            "audit_seq": 3, "duplicate": False}
    assert not list(validator_at(receipt_at).iter_errors(good))
    for bad in ({**good, "extra": 1}, {**good, "filed_at": "yesterday"}, {**good, "id": "nope"},
                {k: v for k, v in good.items() if k != "audit_seq"}, {**good, "mime_type": "application/x-elf"}):
        assert list(validator_at(receipt_at).iter_errors(bad)), bad


def test_the_document_is_served_unauthenticated(api):
    response = api.call("get", "/openapi.json", 200)
    assert response.get_json() == SPEC


def test_servers_point_at_the_api_prefix():
    assert [server["url"] for server in SPEC["servers"]] == [API_PREFIX]


def test_every_served_route_is_documented_and_every_documented_route_is_served(app):
    served = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(API_PREFIX + "/"):
            continue
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule[len(API_PREFIX):])
        served |= {(path, method.lower()) for method in rule.methods - {"HEAD", "OPTIONS"}}
    assert served, "no routes under the API prefix"
    assert sorted(served - documented_operations()) == [], "served but not documented"
    assert sorted(documented_operations() - served) == [], "documented but not served"


def test_every_operation_states_its_security():
    scheme = SPEC["components"]["securitySchemes"]["bearerAuth"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    for scope in SCOPES:
        assert f"`{scope}`" in scheme["description"]
    for path, method in sorted(documented_operations()):
        op, _ = operation(path, method)
        assert op.get("operationId"), f"{method.upper()} {path} has no operationId"
        if not security_of(op):
            assert "x-required-scope" not in op
            continue
        assert security_of(op) == [{"bearerAuth": []}]
        assert op.get("x-required-scope") in SCOPES, f"{method.upper()} {path} names no required scope"
        assert f"`{op['x-required-scope']}` scope" in op["description"]
        assert {"401", "403"} <= set(op["responses"]), f"{method.upper()} {path} lacks 401/403"


def test_problem_responses_use_problem_json():
    for path, method in sorted(documented_operations()):
        op, at = operation(path, method)
        for key, raw in op["responses"].items():
            if int(key) < 400:
                continue
            documented, _ = deref(raw, f"{at}/responses/{key}")
            assert list(documented["content"]) == ["application/problem+json"], (path, method, key)
            assert documented["content"]["application/problem+json"]["schema"] == {
                "$ref": "#/components/schemas/Problem"}


# --- every operation, succeeding ----------------------------------------------------------------------------------

def test_every_documented_operation_succeeds_as_documented(api, token_headers, runtime, system_actor):
    auth = token_headers(name="openapi-flow")

    confirmation_png = PNG_1PX
    confirmation = api.call("post", "/documents", 201, headers=auth, form={
        "file": (confirmation_png, "confirmation.png"),
        "metadata": metadata(doc_type="order_confirmation")}).get_json()

    invoice_pdf = pdf_bytes("Invoice 4711")
    invoice_meta = metadata(title="Invoice 4711", document_date="2024-07-15", external_reference="RE-4711",
                            relations=[{"type": "invoices", "target": confirmation["id"]}])
    response = api.call("post", "/documents", 201, headers={**auth, "Idempotency-Key": "invoice-4711"},
                        form={"file": (invoice_pdf, "Rechnung 4711 – März.pdf"), "metadata": invoice_meta})
    invoice = response.get_json()
    assert response.headers["Location"].endswith(f"{API_PREFIX}/documents/{invoice['id']}")
    assert (invoice["version"], invoice["checksum"], invoice["size"]) == (1, sha256(invoice_pdf), len(invoice_pdf))
    assert (invoice["mime_type"], invoice["doc_type"], invoice["duplicate"]) == ("application/pdf", "invoice", False)

    again = api.call("post", "/documents", 200, headers=auth,
                     form={"file": (invoice_pdf, "copy.pdf"), "metadata": invoice_meta}).get_json()
    assert (again["id"], again["duplicate"]) == (invoice["id"], True)

    loose = api.call("post", "/documents", 201, headers=auth, form={
        "file": (docx_bytes(), "letter.docx"),
        "metadata": metadata(doc_type="correspondence", customer={"number": "C-2001"}, order=None)}).get_json()

    shown = api.call("get", "/documents/{document_id}", 200, params={"document_id": invoice["id"]},
                     headers=auth).get_json()
    assert shown["customer"] == {"number": "C-1042", "name": "ACME SARL"}
    assert shown["order"] == {"number": "PO-4711"}
    assert shown["relations"] == [{"type": "invoices", "source": invoice["id"], "target": confirmation["id"],
                                   "direction": "outgoing"}]
    assert [v["original_filename"] for v in shown["versions"]] == ["Rechnung 4711 – März.pdf"]
    target = api.call("get", "/documents/{document_id}", 200, params={"document_id": confirmation["id"]},
                      headers=auth).get_json()
    assert target["relations"][0]["direction"] == "incoming"
    nameless = api.call("get", "/documents/{document_id}", 200, params={"document_id": loose["id"]},
                        headers=auth).get_json()
    assert (nameless["order"], nameless["customer"]["name"], nameless["title"]) == (None, None, None)

    content = api.call("get", "/documents/{document_id}/content", 200, params={"document_id": invoice["id"]},
                       headers=auth)
    assert content.get_data() == invoice_pdf
    assert content.headers["ETag"] == f'"{sha256(invoice_pdf)}"'
    assert content.headers["Digest"] == "sha-256=" + base64.b64encode(hashlib.sha256(invoice_pdf).digest()).decode()
    assert "filename*=UTF-8''Rechnung%204711%20%E2%80%93%20M%C3%A4rz.pdf" in content.headers["Content-Disposition"]

    second_pdf = pdf_bytes("Invoice 4711, corrected")
    response = api.call("post", "/documents/{document_id}/versions", 201, params={"document_id": invoice["id"]},
                        headers={**auth, "Idempotency-Key": "invoice-4711-v2"},
                        form={"file": (second_pdf, "invoice-v2.pdf"), "reason": "corrected VAT"})
    version = response.get_json()
    assert response.headers["Location"].endswith(f"{API_PREFIX}/documents/{invoice['id']}")
    assert (version["id"], version["version"], version["checksum"]) == (invoice["id"], 2, sha256(second_pdf))

    first = api.call("get", "/documents/{document_id}/content", 200, params={"document_id": invoice["id"]},
                     query={"version": "1"}, headers=auth)
    assert first.get_data() == invoice_pdf
    current = api.call("get", "/documents/{document_id}/content", 200, params={"document_id": invoice["id"]},
                       headers=auth)
    assert current.get_data() == second_pdf

    corrected = api.call("patch", "/documents/{document_id}", 200, params={"document_id": invoice["id"]},
                         headers=auth, json_body={"title": "Invoice 4711 (corrected)", "document_date": None,
                                                  "external_reference": None}).get_json()
    assert (corrected["title"], corrected["document_date"], corrected["external_reference"]) == \
        ("Invoice 4711 (corrected)", None, None)
    assert [(v["number"], v["reason"]) for v in corrected["versions"]] == [(1, None), (2, "corrected VAT")]
    assert (corrected["current_version"], corrected["checksum"]) == (2, sha256(second_pdf))
    moved = api.call("patch", "/documents/{document_id}", 200, params={"document_id": loose["id"]},
                     headers=auth, json_body={"order": {"number": "PO-2001"}}).get_json()
    assert moved["order"] == {"number": "PO-2001"}

    page = api.call("get", "/customers", 200, query={"limit": "1"}, headers=auth).get_json()
    assert [c["number"] for c in page["items"]] == ["C-1042"] and page["next_cursor"] == "C-1042"
    page = api.call("get", "/customers", 200, query={"limit": "1", "cursor": page["next_cursor"]},
                    headers=auth).get_json()
    assert [c["number"] for c in page["items"]] == ["C-2001"] and page["next_cursor"] is None

    customer = api.call("get", "/customers/{number}", 200, params={"number": "C-1042"}, headers=auth).get_json()
    assert [(o["number"], o["documents"]) for o in customer["orders"]] == [("PO-4711", 2)]
    assert customer["documents_without_order"] == 0
    other = api.call("get", "/customers/{number}", 200, params={"number": "C-2001"}, headers=auth).get_json()
    assert (other["name"], [o["number"] for o in other["orders"]]) == (None, ["PO-2001"])

    dossier = api.call("get", "/customers/{number}/orders/{order_number}", 200,
                       params={"number": "C-1042", "order_number": "PO-4711"}, headers=auth).get_json()
    by_stage = {s["stage"]: [d["id"] for d in s["documents"]] for s in dossier["stages"]}
    assert by_stage["confirmation"] == [confirmation["id"]] and by_stage["invoicing"] == [invoice["id"]]
    assert sum(map(len, by_stage.values())) == 2
    assert dossier["relations"] == [{"type": "invoices", "source": invoice["id"], "target": confirmation["id"]}]

    subject = f"document:{invoice['id']}"
    events = api.call("get", "/audit/events", 200, headers=auth,
                      query={"subject": subject, "actor": "token:openapi-flow", "limit": "2"}).get_json()
    assert len(events["items"]) == 2 and events["next_cursor"] is not None
    assert {e["subject"] for e in events["items"]} == {subject}
    rest = api.call("get", "/audit/events", 200, headers=auth,
                    query={"subject": subject, "cursor": events["next_cursor"], "limit": "1000"}).get_json()
    assert rest["next_cursor"] is None
    assert min(e["seq"] for e in rest["items"]) > max(e["seq"] for e in events["items"])
    filed = api.call("get", "/audit/events", 200, headers=auth, query={
        "action": "document.filed", "since": "2000-01-01T00:00:00Z", "until": "2999-01-01"}).get_json()
    assert {e["subject"] for e in filed["items"]} == {f"document:{d['id']}" for d in (confirmation, invoice, loose)}

    assert api.call("get", "/audit/keys", 200).get_json() == {"keys": []}
    first_checkpoint = create_checkpoint(runtime, system_actor)
    api.call("get", "/customers/{number}", 200, params={"number": "C-1042"}, headers=auth)
    second_checkpoint = create_checkpoint(runtime, system_actor)
    listed = api.call("get", "/audit/checkpoints", 200, query={"limit": "10"}, headers=auth).get_json()
    assert [c["id"] for c in listed["items"]] == [second_checkpoint.id, first_checkpoint.id]
    for checkpoint in listed["items"]:
        assert_valid(json.loads(checkpoint["statement"]), "/components/schemas/CheckpointStatement", "a statement")
    seq = filed["items"][0]["seq"]
    proof = api.call("get", "/audit/events/{seq}/proof", 200, params={"seq": str(seq)}, headers=auth).get_json()
    assert (proof["seq"], proof["leaf_index"], proof["checkpoint"]["id"]) == (seq, seq - 1, second_checkpoint.id)
    assert proof["event"]["seq"] == seq and proof["event_hash"] == filed["items"][0]["hash"]
    older = api.call("get", "/audit/events/{seq}/proof", 200, params={"seq": str(seq)},
                     query={"checkpoint": str(first_checkpoint.id)}, headers=auth).get_json()
    assert older["tree_size"] == first_checkpoint.tree_size < proof["tree_size"]
    consistency = api.call("get", "/audit/checkpoints/consistency", 200, headers=auth, query={
        "from": str(first_checkpoint.id), "to": str(second_checkpoint.id)}).get_json()
    assert (consistency["from"]["id"], consistency["to"]["id"]) == (first_checkpoint.id, second_checkpoint.id)
    assert consistency["proof"]
    keys = api.call("get", "/audit/keys", 200).get_json()["keys"]
    assert [k["key_id"] for k in keys] == [first_checkpoint.key_id] and keys[0]["retired_at"] is None

    report = api.call("get", "/audit/verify", 200, headers=auth).get_json()
    assert report["ok"] is True and report["events"] > 0 and report["first_bad_seq"] is None
    assert (report["checkpoints"], report["bad_signatures"]) == (2, [])
    assert report["records"]["ok"] is True and report["records"]["versions"] == 4

    package = api.call("post", "/exports", 200, headers=auth, json_body={"customer": "C-1042", "order": "PO-4711"})
    assert package.headers["X-Package-SHA256"] == sha256(package.get_data())
    assert package.headers["Content-Disposition"].startswith('attachment; filename="evidence-C-1042-PO-4711.zip"; filename*=')
    with zipfile.ZipFile(io.BytesIO(package.get_data())) as bag:
        assert bag.testzip() is None and "bagit.txt" in bag.namelist()

    drain(runtime)
    found = api.call("get", "/search", 200, query={"q": "RE-4711 OR letter", "sort": "date_desc", "limit": "1"},
                     headers=auth).get_json()
    assert found["total"] >= 1 and len(found["hits"]) == 1 and set(found["facets"]) == {"type", "customer", "year",
                                                                                       "status"}
    exported = api.call("get", "/search/export", 200, query={"q": "type:invoice", "sort": "date_asc"}, headers=auth)
    assert exported.get_data(as_text=True).startswith("id,")
    saved = api.call("post", "/searches", 201, headers=auth,
                     json_body={"name": "Invoices", "query": "type:invoice"}).get_json()
    assert api.call("get", "/searches", 200, headers=auth).get_json()["items"] == [saved]
    api.call("delete", "/searches/{saved_id}", 204, params={"saved_id": saved["id"]}, headers=auth)

    exercise_retention(api, auth, runtime, system_actor, invoice, confirmation)
    exercise_review(api, auth, runtime, loose)

    api.call("get", "/openapi.json", 200)

    succeeded = {(path, method) for path, method, status in api.exercised
                 if status < 300 or operation(path, method)[0].get("x-always-refused")}
    assert sorted(documented_operations() - succeeded) == [], "documented operations this test did not exercise"


def exercise_review(api, auth, runtime, loose):
    """An unstructured delivery note citing an order nobody filed: queued for review, then confirmed."""
    from tests.integration.understanding_support import store_text_extraction
    note = api.call("post", "/documents", 201, headers=auth, form={
        "file": (pdf_bytes("Lieferschein LS-1"), "ls.pdf"),
        "metadata": metadata(doc_type="delivery_note", customer={"number": "C-2001"}, order=None)}).get_json()
    store_text_extraction(runtime, note["id"], "Muster GmbH\nLieferschein Nr. LS-1\nIhre Bestellung Nr. PO-9999\n")
    queue = api.call("get", "/review", 200, query={"limit": "1"}, headers=auth).get_json()
    assert queue["items"][0]["document"]["id"] == note["id"]
    assert {r["code"] for r in queue["items"][0]["reasons"]} == {"order_reference_unresolved",
                                                               "delivery_note_without_order"}
    confirmed = api.call("post", "/documents/{document_id}/confirm", 200, params={"document_id": note["id"]},
                         headers=auth, json_body={"fields": {"order_references": ["PO-2001"]}}).get_json()
    assert confirmed["changes"] == {"order_references": {"old": ["PO-9999"], "new": ["PO-2001"]}}
    assert confirmed["open_reasons"] == []
    dossier = api.call("get", "/customers/{number}/orders/{order_number}", 200,
                       params={"number": "C-2001", "order_number": "PO-2001"}, headers=auth).get_json()
    cards = {d["id"]: d for s in dossier["stages"] for d in s["documents"]}
    assert cards[note["id"]]["extracted"]["fields"]["order_references"]["confirmed"] is True
    assert dossier["flags"]["stages_present"] == ["fulfilment", "other"] or "fulfilment" in \
        dossier["flags"]["stages_present"]
    assert api.call("get", "/review", 200, headers=auth).get_json()["items"] == []


def exercise_retention(api, auth, runtime, system_actor, invoice, confirmation):
    """Holds, order closing and four-eyes disposition, years later on a frozen clock."""
    managers = {}
    with runtime.transaction() as session:
        for name in ("alice", "bob"):
            create_user(session, runtime.clock, system_actor, name, "records_manager", "a-long-enough-password")
            token = create_token(session, runtime.clock, system_actor, f"{name}-rm", ["file", "read", "audit"], name)
            managers[name] = {"Authorization": f"Bearer {token}"}
    doc = {"document_id": invoice["id"]}
    refused = api.call("delete", "/documents/{document_id}", 409, params=doc, headers=auth).get_json()
    assert refused["code"] == "retention_active"
    closed = api.call("post", "/customers/{number}/orders/{order_number}/close", 200, headers=auth,
                      params={"number": "C-1042", "order_number": "PO-4711"}, json_body={}).get_json()
    assert closed["event"] == "order_closed"
    hold = api.call("post", "/holds", 201, headers=managers["alice"], json_body={
        "scope": {"documents": [confirmation["id"]]}, "reason": "dispute", "case_reference": "C-77"}).get_json()
    assert api.call("get", "/holds", 200, headers=auth).get_json()["items"][0]["id"] == hold["id"]
    held = api.call("get", "/holds/{hold_id}", 200, params={"hold_id": hold["id"]}, headers=auth).get_json()
    assert held["documents"] == [confirmation["id"]]
    api.call("post", "/holds/{hold_id}/release", 200, params={"hold_id": hold["id"]}, headers=managers["bob"],
             json_body={"reason": "settled"})
    runtime.clock = FrozenClock(datetime(2037, 2, 1, tzinfo=timezone.utc))
    due = api.call("get", "/retention/due", 200, query={"action": "destroy", "limit": "10"}, headers=auth).get_json()
    assert invoice["id"] in [d["id"] for d in due["items"]]
    batch = api.call("post", "/disposition-batches", 201, headers=managers["alice"],
                     json_body={"documents": [invoice["id"]], "reason": "expired"}).get_json()
    ids = {"batch_id": batch["id"]}
    api.call("get", "/disposition-batches/{batch_id}", 200, params=ids, headers=auth)
    same = api.call("post", "/disposition-batches/{batch_id}/approve", 403, params=ids, headers=managers["alice"])
    assert same.get_json()["code"] == "four_eyes_required"
    api.call("post", "/disposition-batches/{batch_id}/approve", 200, params=ids, headers=managers["bob"])
    done = api.call("post", "/disposition-batches/{batch_id}/execute", 200, params=ids,
                    headers=managers["alice"]).get_json()
    assert (done["status"], done["disposed_count"]) == ("executed", 1)
    gone = api.call("get", "/documents/{document_id}/content", 410, params=doc, headers=auth).get_json()
    assert gone["code"] == "disposed"
    tombstone = api.call("get", "/documents/{document_id}", 200, params=doc, headers=auth).get_json()
    assert tombstone["retention"]["status"] == "disposed"
    exercise_erasure(api, auth, managers, done)


def exercise_erasure(api, auth, managers, done):
    """A GDPR erasure request for the customer whose invoice was just disposed."""
    assert done["erasure_request_id"] is None
    recorded = api.call("post", "/erasure-requests", 201, headers=managers["alice"], json_body={
        "customer": "C-1042", "requester": "the data subject", "legal_ground": "GDPR art. 17(1)(a)",
        "reference": "DPO-1"}).get_json()
    ids = {"request_id": recorded["id"]}
    listed = api.call("get", "/erasure-requests", 200, query={"customer": "C-1042"}, headers=auth).get_json()
    assert [r["id"] for r in listed["items"]] == [recorded["id"]]
    assert api.call("get", "/erasure-requests/{request_id}", 200, params=ids, headers=auth).get_json() == recorded
    report = api.call("get", "/erasure-requests/{request_id}/report", 200, params=ids, headers=auth).get_json()
    disposed = [d for d in report["documents"] if d["state"] == "disposed"]
    assert [d["certificate"] for d in disposed] == [done["certificate_id"]]
    assert sum(report["summary"].values()) == recorded["document_count"] == len(report["documents"])
    review = api.call("get", "/retention/due", 200, query={"action": "review"}, headers=auth).get_json()["items"]
    kept = api.call("post", "/retention/review", 200, headers=managers["bob"], json_body={
        "documents": [review[0]["id"]], "decision": "keep", "keep_until": "2040-01-01", "reason": "claim"}).get_json()
    assert (kept["documents"], kept["batch"]) == (1, None)


# --- authentication and scopes ------------------------------------------------------------------------------------

@pytest.mark.parametrize("path,method", secured_operations())
def test_a_missing_token_is_401(api, path, method):
    body = api.call(method, path, 401, params=placeholders(path, method)).get_json()
    assert body["code"] == "missing_token"


def test_an_invalid_token_is_401(api):
    response = api.call("get", "/customers", 401, headers={"Authorization": "Bearer arc_" + "0" * 32 + "_nope"})
    assert response.get_json()["code"] == "invalid_token"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("path,method", secured_operations())
def test_a_token_without_the_documented_scope_is_403(api, token_headers, path, method):
    scope = operation(path, method)[0]["x-required-scope"]
    headers = token_headers(",".join(s for s in SCOPES if s != scope))
    body = api.call(method, path, 403, params=placeholders(path, method), headers=headers).get_json()
    assert (body["code"], body["scope"]) == ("missing_scope", scope)


# What each secured operation answers to a token holding only its documented scope, with placeholder ids and no
# body: never 401, and 403 only as `role_required` where a role is needed besides the scope. Adding an operation without adding it here fails the test below.
ONLY_THE_SCOPE = {
    ("/documents", "post"): (400, "missing_file"),
    ("/documents/{document_id}", "get"): (404, "document_not_found"),
    ("/documents/{document_id}", "patch"): (400, "invalid_json"),
    ("/documents/{document_id}/content", "get"): (404, "document_not_found"),
    ("/documents/{document_id}/versions", "post"): (400, "missing_file"),
    ("/customers", "get"): (200, None),
    ("/customers/{number}", "get"): (404, "customer_not_found"),
    ("/customers/{number}/orders/{order_number}", "get"): (404, "customer_not_found"),
    ("/audit/events", "get"): (200, None),
    ("/audit/events/{seq}/proof", "get"): (404, "event_not_found"),
    ("/audit/checkpoints", "get"): (200, None),
    ("/audit/checkpoints/consistency", "get"): (400, "missing_parameter"),
    ("/exports", "post"): (400, "invalid_json"),
    ("/audit/verify", "get"): (200, None),
    ("/search", "get"): (400, "empty_query"),
    ("/search/export", "get"): (400, "empty_query"),
    ("/searches", "get"): (200, None),
    ("/searches", "post"): (400, "invalid_json"),
    ("/searches/{saved_id}", "delete"): (404, "saved_search_not_found"),
    ("/documents/{document_id}", "delete"): (404, "document_not_found"),
    ("/customers/{number}/orders/{order_number}/close", "post"): (404, "customer_not_found"),
    ("/retention/due", "get"): (200, None),
    ("/holds", "get"): (200, None),
    ("/holds", "post"): (400, "invalid_json"),
    ("/holds/{hold_id}", "get"): (404, "hold_not_found"),
    ("/holds/{hold_id}/release", "post"): (400, "invalid_json"),
    ("/disposition-batches", "post"): (403, "role_required"),
    ("/disposition-batches/{batch_id}", "get"): (404, "batch_not_found"),
    ("/disposition-batches/{batch_id}/approve", "post"): (403, "role_required"),
    ("/disposition-batches/{batch_id}/execute", "post"): (403, "role_required"),
    ("/erasure-requests", "post"): (400, "invalid_json"),
    ("/retention/review", "post"): (400, "invalid_json"),
    ("/erasure-requests", "get"): (200, None),
    ("/erasure-requests/{request_id}", "get"): (404, "erasure_request_not_found"),
    ("/erasure-requests/{request_id}/report", "get"): (404, "erasure_request_not_found"),
    ("/review", "get"): (200, None),
    ("/documents/{document_id}/confirm", "post"): (404, "document_not_found"),
}


def test_the_table_below_covers_every_secured_operation():
    assert sorted(ONLY_THE_SCOPE) == secured_operations()


@pytest.mark.parametrize("path,method", sorted(ONLY_THE_SCOPE))
def test_the_documented_scope_is_enough(api, token_headers, path, method):
    status, code = ONLY_THE_SCOPE[(path, method)]
    headers = token_headers(operation(path, method)[0]["x-required-scope"])
    response = api.call(method, path, status, params=placeholders(path, method), headers=headers)
    if code:
        assert response.get_json()["code"] == code


# --- errors -------------------------------------------------------------------------------------------------------

@pytest.fixture
def filed(api, auth) -> dict[str, Any]:
    return api.call("post", "/documents", 201, headers=auth,
                    form={"file": (pdf_bytes("filed"), "filed.pdf"), "metadata": metadata()}).get_json()


def test_unknown_things_are_404(api, auth, filed):
    missing = "01900000-0000-7000-8000-000000000000"
    cases = [
        ("get", "/documents/{document_id}", {"document_id": missing}, {}, "document_not_found"),
        ("get", "/documents/{document_id}/content", {"document_id": missing}, {}, "document_not_found"),
        ("get", "/documents/{document_id}/content", {"document_id": filed["id"]}, {"version": "9"},
         "version_not_found"),
        ("get", "/customers/{number}", {"number": "C-0000"}, {}, "customer_not_found"),
        ("get", "/customers/{number}/orders/{order_number}", {"number": "C-1042", "order_number": "PO-0"}, {},
         "order_not_found"),
    ]
    for method, path, params, query, code in cases:
        assert api.call(method, path, 404, params=params, query=query, headers=auth).get_json()["code"] == code
    body = api.call("patch", "/documents/{document_id}", 404, params={"document_id": missing}, headers=auth,
                    json_body={"title": "x"}).get_json()
    assert body["code"] == "document_not_found"
    body = api.call("post", "/documents/{document_id}/versions", 404, params={"document_id": missing}, headers=auth,
                    form={"file": (pdf_bytes("v2"), "v2.pdf")}).get_json()
    assert body["code"] == "document_not_found"


@pytest.mark.parametrize("meta,code,field", [
    ("{not json", "invalid_json", "metadata"),
    ("[]", "invalid_metadata", "metadata"),
    (metadata(colour="red"), "unknown_field", "colour"),
    (metadata(doc_type="recipe"), "unknown_document_type", "doc_type"),
    (metadata(customer={"name": "no number"}), "missing_field", "customer.number"),
    (metadata(document_date="15.07.2024"), "invalid_metadata", "document_date"),
    (metadata(relations=[{"type": "likes", "target": "x"}]), "unknown_relation_type", "relations[0].type"),
    (metadata(relations=[{"type": "invoices", "target": "01900000-0000-7000-8000-000000000000"}]),
     "unknown_relation_target", "relations[0].target"),
    (None, "missing_metadata", "metadata"),
])
def test_bad_metadata_is_400(api, auth, meta, code, field):
    form = {"file": (pdf_bytes(), "invoice.pdf")}
    if meta is not None:
        form["metadata"] = meta
    body = api.call("post", "/documents", 400, headers=auth, form=form).get_json()
    assert (body["code"], body["field"]) == (code, field)


def test_other_bad_requests_are_400(api, auth, filed):
    doc = {"document_id": filed["id"]}
    cases = [
        api.call("post", "/documents", 400, headers=auth, form={"metadata": metadata()}),
        api.call("post", "/documents", 400, headers=auth, form={"file": (b"", "empty.pdf"), "metadata": metadata()}),
        api.call("post", "/documents", 400, headers={**auth, "Idempotency-Key": "x" * 201},
                 form={"file": (pdf_bytes(), "a.pdf"), "metadata": metadata()}),
        api.call("post", "/documents/{document_id}/versions", 400, params=doc, headers=auth, form={"reason": "r"}),
        api.call("patch", "/documents/{document_id}", 400, params=doc, headers=auth, json_body={"checksum": "x"}),
        api.call("patch", "/documents/{document_id}", 400, params=doc, headers=auth, json_body={}),
        api.call("patch", "/documents/{document_id}", 400, params=doc, headers=auth, raw=(b"title=x", "text/plain")),
        api.call("get", "/documents/{document_id}/content", 400, params=doc, query={"version": "0"}, headers=auth),
        api.call("get", "/customers", 400, query={"limit": "ten"}, headers=auth),
        api.call("get", "/audit/events", 400, query={"cursor": "abc"}, headers=auth),
        api.call("get", "/audit/events", 400, query={"since": "last week"}, headers=auth),
    ]
    assert [r.get_json()["code"] for r in cases] == [
        "missing_file", "empty_file", "invalid_idempotency_key", "missing_file", "field_not_editable",
        "empty_patch", "invalid_json", "invalid_parameter", "invalid_parameter", "invalid_cursor",
        "invalid_parameter"]


def test_disallowed_content_is_415(api, auth, filed):
    allowed = lookup("/components/schemas/MediaType")["enum"]
    body = api.call("post", "/documents", 415, headers=auth,
                    form={"file": (ELF_HEADER, "invoice.pdf"), "metadata": metadata()}).get_json()
    assert body["code"] == "unsupported_media_type"
    assert body["detected_type"] not in allowed
    assert sorted(body["allowed_types"]) == sorted(allowed)
    body = api.call("post", "/documents/{document_id}/versions", 415, params={"document_id": filed["id"]},
                    headers=auth, form={"file": (ELF_HEADER, "v2.pdf")}).get_json()
    assert body["code"] == "unsupported_media_type"


def test_a_reused_idempotency_key_with_other_content_is_409(api, auth):
    headers = {**auth, "Idempotency-Key": "once"}
    first = api.call("post", "/documents", 201, headers=headers,
                     form={"file": (pdf_bytes("one"), "one.pdf"), "metadata": metadata()}).get_json()
    replay = api.call("post", "/documents", 201, headers=headers,
                      form={"file": (pdf_bytes("one"), "one.pdf"), "metadata": metadata()}).get_json()
    assert replay == first
    body = api.call("post", "/documents", 409, headers=headers,
                    form={"file": (pdf_bytes("two"), "two.pdf"), "metadata": metadata()}).get_json()
    assert (body["code"], body["document_id"]) == ("idempotency_key_reused", first["id"])
    body = api.call("post", "/documents/{document_id}/versions", 409, params={"document_id": first["id"]},
                    headers=headers, form={"file": (pdf_bytes("three"), "three.pdf")}).get_json()
    assert body["code"] == "idempotency_key_reused"


def test_a_file_over_the_limit_is_413(api, auth, settings, filed):
    big = pdf_bytes("big", padding=settings.max_upload_bytes)
    body = api.call("post", "/documents", 413, headers=auth,
                    form={"file": (big, "big.pdf"), "metadata": metadata()}).get_json()
    assert (body["code"], body["limit"]) == ("file_too_large", settings.max_upload_bytes)
    body = api.call("post", "/documents/{document_id}/versions", 413, params={"document_id": filed["id"]},
                    headers=auth, form={"file": (big, "big.pdf")}).get_json()
    assert body["code"] == "file_too_large"


def test_a_body_over_the_request_limit_is_413(api, auth, settings):
    huge = pdf_bytes("huge", padding=settings.max_upload_bytes + 2 * 1024 * 1024)
    body = api.call("post", "/documents", 413, headers=auth,
                    form={"file": (huge, "huge.pdf"), "metadata": metadata()}).get_json()
    assert body["code"] == "payload_too_large"


def test_a_malformed_multipart_body_is_400(api, auth):
    body = api.call("post", "/documents", 400, headers=auth,
                    raw=(b"--xyz\r\nContent-Disposition: form-data; name=\"file\"", "multipart/form-data; boundary=xyz")
                    ).get_json()
    assert body["code"] == "malformed_multipart"


def test_damaged_content_is_a_500_problem_and_never_served(api, auth, settings, filed):
    digest = filed["checksum"].split(":", 1)[1]
    stored = [p for p in Path(urlparse(settings.blob_url).path).rglob(f"*{digest}*") if p.is_file()]
    assert len(stored) == 1, stored
    stored[0].chmod(0o600)
    data = bytearray(stored[0].read_bytes())
    data[len(data) // 2] ^= 0xFF
    stored[0].write_bytes(bytes(data))
    response = api.call("get", "/documents/{document_id}/content", 500, params={"document_id": filed["id"]},
                        headers=auth)
    assert response.get_json()["code"] in ("checksum_mismatch", "blob_corrupted")
    assert filed["checksum"] not in response.headers.get("ETag", "")


def test_proofs_of_what_is_not_there(api, auth, runtime, system_actor, filed):
    body = api.call("get", "/audit/events/{seq}/proof", 409, params={"seq": "1"}, headers=auth).get_json()
    assert body["code"] == "not_yet_checkpointed"
    checkpoint = create_checkpoint(runtime, system_actor)
    body = api.call("get", "/audit/events/{seq}/proof", 404, params={"seq": "999999"}, headers=auth).get_json()
    assert body["code"] == "event_not_found"
    body = api.call("get", "/audit/events/{seq}/proof", 404, params={"seq": "1"}, query={"checkpoint": "999"},
                    headers=auth).get_json()
    assert body["code"] == "checkpoint_not_found"
    body = api.call("get", "/audit/checkpoints/consistency", 404, headers=auth,
                    query={"from": str(checkpoint.id), "to": "999"}).get_json()
    assert body["code"] == "checkpoint_not_found"
    body = api.call("get", "/audit/checkpoints/consistency", 400, headers=auth,
                    query={"from": str(checkpoint.id)}).get_json()
    assert body["code"] == "missing_parameter"
    body = api.call("get", "/audit/checkpoints", 400, headers=auth, query={"limit": "0"}).get_json()
    assert (body["code"], body["field"]) == ("invalid_parameter", "limit")


def test_bad_export_requests(api, auth, filed):
    cases = [
        (400, {"order": "PO-4711"}, "missing_field"),
        (400, {"customer": "C-1042", "order": 4711}, "invalid_metadata"),
        (400, {"customer": "C-1042", "format": "tar"}, "unknown_field"),
        (404, {"customer": "C-0000"}, "customer_not_found"),
        (404, {"customer": "C-1042", "order": "PO-0"}, "order_not_found"),
    ]
    for status, body, code in cases:
        assert api.call("post", "/exports", status, headers=auth, json_body=body).get_json()["code"] == code

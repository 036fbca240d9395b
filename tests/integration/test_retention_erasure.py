"""GDPR art. 17 erasure requests against legal retention, on a FrozenClock that travels years (fr schedule)."""
from __future__ import annotations

from sqlalchemy import select

from archive.accounts import create_token
from archive.models import AuditEvent
from audit.log import Actor
from retention.certificates import verify_certificate
from tests.integration.retention_support import archive, archive_factory  # noqa: F401 - fixtures

AFTER_EXPIRY = dict(days=365 * 10 + 5)  # 2025-01-10 -> 2035-01-12: invoices of 2024 are past 2034-12-31
CUSTOMER = {"number": "C-77", "name": "Jeanne Martin"}
REQUEST = {"customer": "C-77", "requester": "Jeanne Martin (data subject)",
           "legal_ground": "GDPR art. 17(1)(a): no longer necessary", "reference": "DPO-2025-013"}


def actions(rt, action):
    with rt.reading() as session:
        return session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)).all()


def service_token(archive, scopes):
    with archive.runtime.transaction() as session:
        token = create_token(session, archive.clock, Actor.system("test"), f"svc-{scopes}", scopes.split(","))
    return {"Authorization": f"Bearer {token}"}


def file_customer_documents(archive):
    old = archive.file("old invoice erasable", document_date="2010-03-01", customer=CUSTOMER)  # until 2020-12-31
    kept = archive.file("recent invoice jeanne", document_date="2024-03-01", customer=CUSTOMER)  # until 2034-12-31
    letter = archive.file("letter jeanne", doc_type="correspondence", document_date="2024-03-01", customer=CUSTOMER)
    held = archive.file("disputed invoice", document_date="2024-05-01", customer=CUSTOMER, order={"number": "PO-9"})
    other = archive.file("another customer jeanne", document_date="2024-03-01")
    archive.drain()
    hold = archive.call("post", "/holds", "alice", json={"scope": {"documents": [held["id"]]},
                                                        "reason": "dispute", "case_reference": "TC-9"}).json
    return old, kept, letter, held, other, hold


def states(report):
    return {d["id"]: d["state"] for d in report["documents"]}


def test_recording_restricts_what_must_be_kept_and_proposes_what_need_not(archive):
    old, kept, letter, held, other, hold = file_customer_documents(archive)
    recorded = archive.call("post", "/erasure-requests", "alice", json=REQUEST)
    assert recorded.status_code == 201, recorded.json
    assert recorded.json["document_count"] == 4 and recorded.json["batch"]
    assert recorded.headers["Location"].endswith(f"/erasure-requests/{recorded.json['id']}")
    report = archive.call("get", f"/erasure-requests/{recorded.json['id']}/report", "bob").json
    assert states(report) == {old["id"]: "proposed", kept["id"]: "restricted", letter["id"]: "restricted",
                              held["id"]: "held"}
    by_id = {d["id"]: d for d in report["documents"]}
    assert by_id[kept["id"]]["retain_until"] == "2034-12-31"
    assert by_id[held["id"]]["holds"] == [hold["id"]]
    assert by_id[old["id"]]["batch"] == recorded.json["batch"]
    assert report["summary"] == {"proposed": 1, "restricted": 2, "held": 1}
    assert archive.call("get", f"/documents/{other['id']}", "sam").json["restricted"] is False
    requested = actions(archive.runtime, "erasure.requested")
    assert len(requested) == 1 and requested[0].details["reference"] == "DPO-2025-013"
    restricted = {e.subject for e in actions(archive.runtime, "document.restricted")}
    assert restricted == {f"document:{kept['id']}", f"document:{letter['id']}", f"document:{held['id']}"}


def test_restricted_documents_are_read_by_records_managers_and_auditors_only(archive):
    _, kept, _, _, _, _ = file_customer_documents(archive)
    assert archive.call("post", "/erasure-requests", "alice", json=REQUEST).status_code == 201
    archive.drain()
    for who in ("sam", "ada"):  # staff, and administrators too
        shown = archive.call("get", f"/documents/{kept['id']}", who)
        assert (shown.status_code, shown.json["code"]) == (403, "restricted")
        assert archive.call("get", f"/documents/{kept['id']}/content", who).json["code"] == "restricted"
        assert archive.call("patch", f"/documents/{kept['id']}", who, json={"title": "x"}).status_code == 403
        assert kept["id"] not in [h["id"] for h in archive.call("get", "/search?q=jeanne", who).json["hits"]]
        card_ids = [c["id"] for s in archive.call("get", "/customers/C-77/orders/PO-4711", who).json["stages"]
                    for c in s["documents"]]
        assert kept["id"] not in card_ids
    allowed = archive.call("get", f"/documents/{kept['id']}", "bob")
    assert allowed.status_code == 200 and allowed.json["restricted"] is True
    assert archive.call("get", f"/documents/{kept['id']}/content", "bob").status_code == 200
    assert kept["id"] in [h["id"] for h in archive.call("get", "/search?q=jeanne", "bob").json["hits"]]
    # a token owned by no user reads restricted documents only with the audit scope
    assert archive.client.get(f"/api/v1/documents/{kept['id']}",
                              headers=service_token(archive, "read,audit")).status_code == 200
    assert archive.client.get(f"/api/v1/documents/{kept['id']}",
                              headers=service_token(archive, "read")).json["code"] == "restricted"
    refused = actions(archive.runtime, "document.access_refused")
    assert len(refused) >= 7 and {e.outcome for e in refused} == {"denied"}
    assert {e.actor for e in refused} >= {"user:sam", "user:ada"}


def test_erasure_runs_through_four_eyes_and_retention_expiry(archive):
    old, kept, letter, held, other, hold = file_customer_documents(archive)
    request = archive.call("post", "/erasure-requests", "alice", json=REQUEST).json
    batch = request["batch"]
    own = archive.call("post", f"/disposition-batches/{batch}/approve", "alice")
    assert (own.status_code, own.json["code"]) == (403, "four_eyes_required")
    assert archive.call("post", f"/disposition-batches/{batch}/approve", "bob").status_code == 200
    executed = archive.call("post", f"/disposition-batches/{batch}/execute", "alice").json
    assert executed["disposed_count"] == 1 and executed["erasure_request_id"] == request["id"]
    report = archive.call("get", f"/erasure-requests/{request['id']}/report").json
    entry = {d["id"]: d for d in report["documents"]}[old["id"]]
    assert (entry["state"], entry["batch"], entry["certificate"]) == ("disposed", batch, executed["certificate_id"])

    archive.travel(**AFTER_EXPIRY)
    report = archive.call("get", f"/erasure-requests/{request['id']}/report").json
    assert states(report)[kept["id"]] == "due" and states(report)[letter["id"]] == "due"
    due = [d["id"] for d in archive.call("get", "/retention/due").json["items"]]
    assert sorted(due) == sorted([kept["id"], letter["id"], other["id"]])  # the letter's class says review
    # (correspondence) but the erasure request wins: it is destroyed at expiry, not reviewed
    assert archive.call("get", "/retention/due?action=review").json["items"] == []
    second = archive.call("post", "/disposition-batches", "bob", json={"reason": "erasure at expiry"}).json
    assert archive.call("post", f"/disposition-batches/{second['id']}/approve", "alice").status_code == 200
    done = archive.call("post", f"/disposition-batches/{second['id']}/execute", "bob").json
    report = archive.call("get", f"/erasure-requests/{request['id']}/report").json
    assert states(report) == {old["id"]: "disposed", kept["id"]: "disposed", letter["id"]: "disposed",
                              held["id"]: "held"}
    assert {d["certificate"] for d in report["documents"] if d["state"] == "disposed"} == \
        {executed["certificate_id"], done["certificate_id"]}
    certificate = archive.call("get", f"/documents/{done['certificate_id']}/content").data
    assert {d["id"] for d in verify_certificate(certificate)["documents"]} == {kept["id"], letter["id"], other["id"]}

    archive.call("post", f"/holds/{hold['id']}/release", "bob", json={"reason": "settled"})
    assert states(archive.call("get", f"/erasure-requests/{request['id']}/report").json)[held["id"]] == "due"


def test_requests_are_listed_shown_and_guarded(archive):
    file_customer_documents(archive)
    denied = archive.call("post", "/erasure-requests", "ada", json=REQUEST)
    assert (denied.status_code, denied.json["code"]) == (403, "role_required")
    bad = archive.call("post", "/erasure-requests", "alice", json={"customer": "C-77"})
    assert (bad.status_code, bad.json["code"], bad.json["field"]) == (400, "missing_field", "requester")
    missing = archive.call("post", "/erasure-requests", "alice", json={**REQUEST, "customer": "C-404"})
    assert (missing.status_code, missing.json["code"]) == (404, "customer_not_found")
    created = archive.call("post", "/erasure-requests", "alice", json=REQUEST).json
    listed = archive.call("get", "/erasure-requests?customer=C-77", "bob").json["items"]
    assert [r["id"] for r in listed] == [created["id"]]
    shown = archive.call("get", f"/erasure-requests/{created['id']}", "bob").json
    assert shown == created
    assert archive.call("get", f"/erasure-requests/{created['id']}", "ada").json["code"] == "role_required"
    assert archive.call("get", "/erasure-requests/nope", "bob").json["code"] == "erasure_request_not_found"
    assert len(actions(archive.runtime, "erasure.viewed")) == 1

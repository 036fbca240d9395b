"""Documents whose class says `review` at expiry: kept longer (audited, retention only grows) or proposed for
disposition through four eyes. fr schedule: correspondence is reviewed at expiry; time travels years."""
from __future__ import annotations

import json

from sqlalchemy import select

from archive.models import AuditEvent
from tests.fixtures.samples import pdf_bytes
from tests.integration.retention_support import archive, archive_factory  # noqa: F401 - fixtures

AFTER_EXPIRY = dict(days=365 * 10 + 5)  # 2025-01-10 -> 2035-01-12


def reviewable(archive):
    return [d["id"] for d in archive.call("get", "/retention/due?action=review").json["items"]]


def test_keep_extends_retention_and_dispose_goes_through_four_eyes(archive):
    letters = [archive.file(f"letter {n}", doc_type="correspondence", document_date="2024-03-01")["id"]
               for n in range(3)]
    invoice = archive.file("invoice", document_date="2024-03-01")["id"]
    archive.travel(**AFTER_EXPIRY)
    assert sorted(reviewable(archive)) == sorted(letters)
    decide = lambda who, **body: archive.call("post", "/retention/review", who, json=body)  # noqa: E731

    kept = decide("alice", documents=[letters[0]], decision="keep", keep_until="2040-12-31", reason="open claim")
    assert kept.status_code == 200, kept.json
    assert kept.json == {"decision": "keep", "documents": 1, "keep_until": "2040-12-31", "batch": None}
    retention = archive.call("get", f"/documents/{letters[0]}").json["retention"]
    assert retention["retain_until"] == "2040-12-31" and "kept until 2040-12-31 (open claim)" in retention["rule"]
    assert letters[0] not in reviewable(archive)
    with archive.runtime.reading() as session:
        event = session.scalar(select(AuditEvent).where(AuditEvent.action == "retention.review_kept"))
    assert (event.actor, event.subject) == ("user:alice", f"document:{letters[0]}")
    assert json.loads(event.details_json)["old_retain_until"] == "2029-12-31"  # fr: letters 5 years

    disposal = decide("alice", documents=letters[1:], decision="dispose", reason="no longer needed").json
    batch = disposal["batch"]
    assert (disposal["decision"], batch["document_count"], batch["status"]) == ("dispose", 2, "proposed")
    assert archive.call("post", f"/disposition-batches/{batch['id']}/approve", "alice").status_code == 403
    assert archive.call("post", f"/disposition-batches/{batch['id']}/approve", "bob").status_code == 200
    done = archive.call("post", f"/disposition-batches/{batch['id']}/execute", "alice").json
    assert done["disposed_count"] == 2
    assert archive.call("get", f"/documents/{letters[1]}/content").json["code"] == "disposed"
    assert archive.call("get", f"/documents/{invoice}/content").status_code == 200  # not in the batch

    archive.travel(days=365 * 6)  # 2041: the kept letter comes back for review
    assert reviewable(archive) == [letters[0]]


def test_review_decisions_are_guarded(archive):
    letter = archive.file("letter", doc_type="correspondence", document_date="2024-03-01")["id"]
    invoice = archive.file("invoice", document_date="2024-03-01")["id"]
    early = archive.call("post", "/retention/review", json={"documents": [letter], "decision": "dispose",
                                                            "reason": "x"})
    assert (early.status_code, early.json["code"]) == (409, "not_due_for_review")
    archive.travel(**AFTER_EXPIRY)
    staff = archive.call("post", "/retention/review", "sam", json={"documents": [letter], "decision": "dispose",
                                                                   "reason": "x"})
    assert (staff.status_code, staff.json["code"]) == (403, "missing_scope")  # staff tokens lack `audit`
    admin = archive.call("post", "/retention/review", "ada", json={"documents": [letter], "decision": "dispose",
                                                                   "reason": "x"})
    assert (admin.status_code, admin.json["code"]) == (403, "role_required")
    wrong = archive.call("post", "/retention/review", json={"documents": [invoice], "decision": "keep",
                                                            "keep_until": "2040-01-01", "reason": "x"})
    assert (wrong.status_code, wrong.json["code"]) == (409, "not_due_for_review")
    past = archive.call("post", "/retention/review", json={"documents": [letter], "decision": "keep",
                                                           "keep_until": "2030-01-01", "reason": "x"})
    assert (past.status_code, past.json["field"]) == (400, "keep_until")
    vague = archive.call("post", "/retention/review", json={"documents": [letter], "decision": "maybe",
                                                            "reason": "x"})
    assert (vague.status_code, vague.json["field"]) == (400, "decision")
    # the ordinary proposal path never takes review documents
    refused = archive.call("post", "/disposition-batches", json={"documents": [letter]})
    assert (refused.status_code, refused.json["code"]) == (409, "not_due")


def test_review_through_the_cli(cli, tmp_path):
    for name in ("alice", "bob"):
        assert cli("users", "create", "--username", name, "--role", "records_manager", input="").exit_code == 0
    ids = []
    for n in range(2):  # eu-default: correspondence is reviewed 6 years after its fiscal year; 2010 is long past
        source = tmp_path / f"letter{n}.pdf"
        source.write_bytes(pdf_bytes(f"letter {n}", padding=200))
        filed = cli("file", str(source), "--type", "correspondence", "--customer", "C-5", "--date", "2010-03-01")
        ids.append(json.loads(filed.stdout)["id"])
    listed = json.loads(cli("retention", "review", "list").stdout)
    assert sorted(d["id"] for d in listed["items"]) == sorted(ids)
    kept = cli("retention", "review", "keep", "--document", ids[0], "--until", "2099-12-31", "--reason", "claim",
               "--as", "alice")
    assert kept.exit_code == 0, kept.output
    assert json.loads(kept.stdout)["keep_until"] == "2099-12-31"
    disposed = cli("retention", "review", "dispose", "--document", ids[1], "--reason", "done", "--as", "alice")
    batch = json.loads(disposed.stdout)["batch"]["id"]
    assert cli("retention", "approve", batch, "--as", "bob").exit_code == 0
    assert json.loads(cli("retention", "execute", batch, "--as", "alice").stdout)["disposed_count"] == 1
    assert json.loads(cli("retention", "review", "list").stdout)["items"] == []
    denied = cli("retention", "review", "dispose", "--document", ids[0], "--reason", "x")  # as an administrator
    assert denied.exit_code == 1 and "role_required" in denied.stderr

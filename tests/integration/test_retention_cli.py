"""`archive retention …` covers what the retention API does: holds, four-eyes batches, erasure requests."""
from __future__ import annotations

import json

from tests.fixtures.samples import pdf_bytes


def run_json(cli, *args):
    result = cli(*args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def file(cli, tmp_path, name, date):
    source = tmp_path / f"{name}.pdf"
    source.write_bytes(pdf_bytes(name, padding=300))
    return run_json(cli, "file", str(source), "--type", "invoice", "--customer", "C-9", "--date", date)["id"]


def test_holds_batches_and_erasure_requests_through_the_cli(cli, tmp_path):
    for name, role in (("alice", "records_manager"), ("bob", "records_manager"), ("carol", "auditor")):
        assert cli("users", "create", "--username", name, "--role", role, input="").exit_code == 0
    expired = file(cli, tmp_path, "expired", "2010-03-01")  # kept ten years: long over by now
    disputed = file(cli, tmp_path, "disputed", "2010-05-01")
    recent = file(cli, tmp_path, "recent", "2025-06-01")

    hold = run_json(cli, "retention", "hold", "place", "--document", disputed, "--reason", "dispute",
                    "--case-reference", "TC-1", "--as", "alice")
    assert hold["document_count"] == 1 and hold["placed_by"] == "user:alice"
    assert [h["id"] for h in run_json(cli, "retention", "hold", "list", "--active")["items"]] == [hold["id"]]
    assert run_json(cli, "retention", "hold", "show", hold["id"])["documents"] == [disputed]

    request = run_json(cli, "retention", "erasure", "record", "--customer", "C-9", "--requester", "the data subject",
                       "--legal-ground", "GDPR art. 17(1)(a)", "--reference", "DPO-1", "--as", "alice")
    own = cli("retention", "approve", request["batch"], "--as", "alice")
    assert own.exit_code == 1 and "four_eyes_required" in own.stderr
    assert run_json(cli, "retention", "approve", request["batch"], "--as", "bob")["approved_by"] == "user:bob"
    assert run_json(cli, "retention", "execute", request["batch"], "--as", "alice")["disposed_count"] == 1

    report = run_json(cli, "retention", "erasure", "report", request["id"], "--as", "carol")
    assert {d["id"]: d["state"] for d in report["documents"]} == {expired: "disposed", disputed: "held",
                                                                   recent: "restricted"}
    denied = cli("retention", "erasure", "report", request["id"])  # an administrator does not read it
    assert denied.exit_code == 1 and "role_required" in denied.stderr
    assert "restricted" in cli("show", recent).stderr
    assert run_json(cli, "show", recent, "--as", "carol")["restricted"] is True  # an auditor reads it
    assert cli("get", recent, "-o", str(tmp_path / "r.pdf")).exit_code == 1
    assert cli("get", recent, "-o", str(tmp_path / "r.pdf"), "--as", "bob").exit_code == 0
    assert (tmp_path / "r.pdf").read_bytes() == (tmp_path / "recent.pdf").read_bytes()
    assert run_json(cli, "retention", "erasure", "list", "--as", "bob")["items"][0]["id"] == request["id"]
    assert run_json(cli, "retention", "erasure", "show", request["id"], "--as", "bob")["customer"] == "C-9"

    assert run_json(cli, "retention", "hold", "release", hold["id"], "--reason", "settled", "--as", "bob")[
        "status"] == "released"
    assert [d["id"] for d in run_json(cli, "retention", "due")["items"]] == [disputed]
    batch = run_json(cli, "retention", "propose", "--document", disputed, "--reason", "erasure", "--as", "bob")
    run_json(cli, "retention", "approve", batch["id"], "--as", "alice")
    assert run_json(cli, "retention", "execute", batch["id"], "--as", "bob")["disposed_count"] == 1
    assert run_json(cli, "retention", "batch", batch["id"])["status"] == "executed"
    unknown = cli("retention", "propose", "--as", "nobody")
    assert unknown.exit_code == 1 and "unknown_user" in unknown.stderr

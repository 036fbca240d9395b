"""Fixity finds flipped bytes, missing blobs and orphans; downloads of damaged content fail loudly."""
import os

from sqlalchemy import select

from archive.fixity import run_fixity
from archive.hashing import spool_stream
from archive.models import AuditEvent, DocumentVersion
from tests.fixtures.samples import metadata, pdf_bytes, upload


def file_some(client, auth, n=3):
    return [upload(client, auth, pdf_bytes(f"doc {i}", padding=3000), metadata()).json for i in range(n)]


def blob_path(runtime, checksum):
    inner = getattr(runtime.blobs, "inner", runtime.blobs)
    return inner.path_for(checksum)


def flip_byte(path, offset=-40):
    os.chmod(path, 0o640)
    raw = bytearray(path.read_bytes())
    raw[offset] ^= 0x20
    path.write_bytes(bytes(raw))


def test_clean_run_marks_versions_verified(client, auth, runtime, system_actor):
    file_some(client, auth)
    report = run_fixity(runtime, system_actor)
    assert report.clean and report.complete and report.checked == 3
    with runtime.sessions() as session:
        assert all(v.last_verified_at for v in session.scalars(select(DocumentVersion)))


def test_flipped_byte_is_found_by_fixity_and_refused_on_download(client, auth, runtime, system_actor, cli):
    receipts = file_some(client, auth)
    flip_byte(blob_path(runtime, receipts[1]["checksum"]))
    response = client.get(f"/api/v1/documents/{receipts[1]['id']}/content", headers=auth)
    assert response.status_code == 500 and response.json["code"] in ("blob_corrupted", "checksum_mismatch")
    assert client.get(f"/api/v1/documents/{receipts[0]['id']}/content", headers=auth).status_code == 200
    result = cli("fixity", "run")
    assert result.exit_code == 1
    assert receipts[1]["checksum"] in result.stdout
    with runtime.sessions() as session:
        failures = session.scalars(select(AuditEvent).where(AuditEvent.action == "fixity.blob_corrupted")).all()
    assert [e.subject for e in failures] == [f"blob:{receipts[1]['checksum']}"]


def test_missing_blob_is_reported(client, auth, runtime, system_actor):
    receipts = file_some(client, auth)
    path = blob_path(runtime, receipts[0]["checksum"])
    os.chmod(path, 0o640)
    path.unlink()
    report = run_fixity(runtime, system_actor)
    assert report.missing == [receipts[0]["checksum"]] and not report.clean


def test_orphans_are_quarantined_after_the_grace_period(client, auth, runtime, system_actor):
    file_some(client, auth, 1)
    orphan = spool_stream(__import__("io").BytesIO(b"%PDF-1.4 orphan"), runtime.blobs.spool_dir(), 10**6)
    runtime.blobs.put(orphan)
    assert run_fixity(runtime, system_actor).orphans_quarantined == []  # too young: may be mid-filing
    report = run_fixity(runtime, system_actor, orphan_min_age=0)
    assert report.orphans_quarantined == [orphan.checksum]
    assert orphan.checksum not in list(runtime.blobs.checksums())
    assert run_fixity(runtime, system_actor, orphan_min_age=0).clean


def test_runs_resume_where_they_stopped_and_respect_the_rate(client, auth, runtime, system_actor):
    file_some(client, auth, 5)
    first = run_fixity(runtime, system_actor, max_blobs=2)
    assert not first.complete and first.checked == 2
    slept = []
    rest = run_fixity(runtime, system_actor, max_bytes_per_second=1000, sleep=slept.append)
    assert rest.run_id == first.run_id and rest.complete and rest.checked == 5
    assert sum(slept) > 5  # 3 blobs of >3 kB at 1 kB/s
    fresh = run_fixity(runtime, system_actor)
    assert fresh.run_id != first.run_id and fresh.checked == 5


def test_leftovers_of_crashed_filers_are_swept(client, auth, runtime, system_actor):
    file_some(client, auth, 1)
    stale = runtime.blobs.spool_dir() / "spool-crashed"
    stale.write_bytes(b"%PDF plaintext of an upload that never finished")
    orphan_key = None
    if hasattr(runtime.blobs, "keys"):
        orphan_key = runtime.blobs.keys.path_for("sha256:" + "ab" * 32)
        runtime.blobs.keys.add("sha256:" + "ab" * 32, b"wrapped")
    assert run_fixity(runtime, system_actor).leftovers_removed == 0  # young: may belong to a filing under way
    report = run_fixity(runtime, system_actor, orphan_min_age=0)
    assert report.clean and report.leftovers_removed == (2 if orphan_key else 1)
    assert not stale.exists() and (orphan_key is None or not orphan_key.exists())
    assert client.get(f"/api/v1/documents/{file_some(client, auth, 1)[0]['id']}/content",
                      headers=auth).status_code == 200

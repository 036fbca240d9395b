"""Every file of the hostile corpora ends in a definite state, within the limits, with no exception escaping.

Each file goes through the real detection and the real sandboxed extraction (what `document.process` runs); a few go
end to end through filing. A type we do not accept is refused at filing (415): that is its definite outcome.
"""
from __future__ import annotations

import csv
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from archive.extraction import extract
from archive.extraction.sandbox import Limits, SandboxFailure, run_limited
from archive.mime import ALLOWED, detect
from archive.tasks import drain
from tests.conftest import require_corpus
from tests.fixtures.samples import metadata, upload

LIMITS = Limits(cpu_seconds=20, memory_mb=1536, max_pages=200, wall_seconds=90)


def outcome(path: Path) -> tuple[str, str, float]:
    mime_type = detect(path)
    if mime_type not in ALLOWED:
        return "refused", mime_type, 0.0
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as work:
        try:
            result = run_limited(extract, (str(path), mime_type, work, LIMITS.max_pages), LIMITS)
            state, detail = "done", result["extracted"]["source"]
        except SandboxFailure as failure:
            state, detail = "failed", failure.reason
    return state, detail, time.monotonic() - started


@pytest.mark.parametrize("folder", ["qpdf-malformed", "format-corpus"])
def test_every_corpus_file_ends_done_failed_with_reason_or_refused(folder):
    files = sorted(p for p in (require_corpus() / folder).rglob("*") if p.is_file())
    with ThreadPoolExecutor(2) as pool:
        outcomes = dict(zip(files, pool.map(outcome, files)))
    for path, (state, detail, seconds) in outcomes.items():
        assert state in ("done", "failed", "refused"), path
        assert detail.strip(), f"{path}: no reason given"
        assert seconds < LIMITS.wall_seconds + 5, f"{path} took {seconds:.1f}s"
    states = [state for state, _, _ in outcomes.values()]
    assert states.count("done") > len(files) / 2 and "failed" in states  # the corpus is mostly readable, not all
    by_name = {p.name: o for p, o in outcomes.items()}
    if folder == "format-corpus":
        assert by_name["hello_world.pdf"][:2] == ("done", "text")
        assert by_name["minimal_test.pdf"][0] == "failed"
    else:
        assert by_name["bad34.pdf"][0] == "failed" and "page 1" in by_name["bad34.pdf"][1]


def test_variations_mime_types_match_their_folders():
    root = require_corpus() / "format-corpus"
    with (root / "EXPECTED.csv").open(newline="") as table:
        expected = {row[0]: row[1] for row in csv.reader(table) if row[0].startswith("variations/")
                    and not row[1].startswith("(")}
    assert len(expected) >= 15
    mismatches = {path: (detect(root / path), mime) for path, mime in expected.items() if detect(root / path) != mime}
    assert mismatches == {}


def test_hostile_samples_end_to_end_through_filing(client, auth, runtime):
    root = require_corpus()
    samples = {"format-corpus/pdf-handbuilt-test-corpus/hello_world.pdf": "done",
               "qpdf-malformed/damaged/bad34.pdf": "failed", "qpdf-malformed/damaged/issue-117.pdf": "failed",
               "qpdf-malformed/damaged/bad-encryption-length.pdf": "failed"}
    filed = {}
    for number, (path, _) in enumerate(samples.items()):
        data = (root / path).read_bytes()
        response = upload(client, auth, data, metadata(order={"number": f"PO-{number}"}), filename="x.pdf")
        assert response.status_code == 201, response.json
        filed[path] = (response.json["id"], data)
    drain(runtime)
    for path, expected in samples.items():
        document_id, data = filed[path]
        shown = client.get(f"/api/v1/documents/{document_id}", headers=auth).json
        assert shown["processing"]["status"] == expected, (path, shown["processing"])
        assert (shown["processing"]["error"] is None) == (expected == "done")
        assert client.get(f"/api/v1/documents/{document_id}/content", headers=auth).data == data
    refused = upload(client, auth, (root / "format-corpus/variations/variations/application/rtf/lorem-ipsum.rtf")
                     .read_bytes(), metadata(), filename="x.rtf")
    assert refused.status_code == 415 and refused.json["code"] == "unsupported_media_type"

"""Evidence packages: BagIt-valid, verified offline by their own verifier, and no changed bit goes unnoticed."""
import importlib.util
import io
import os
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import bagit
import pytest

from tests.fixtures.samples import metadata, pdf_bytes, upload


@pytest.fixture(scope="session")
def bare_python(tmp_path_factory) -> Path:
    """A Python with nothing but `cryptography`: what an auditor's machine is assumed to have."""
    target = tmp_path_factory.mktemp("auditor-venv")
    venv.create(target, with_pip=True)
    python = target / "bin" / "python"
    wheel_cache = os.environ.get("PIP_CACHE_DIR")
    result = subprocess.run([str(python), "-m", "pip", "install", "--quiet", "cryptography"],
                            capture_output=True, text=True, env={**os.environ, **({"PIP_CACHE_DIR": wheel_cache}
                                                                                   if wheel_cache else {})})
    if result.returncode != 0:
        pytest.fail(f"could not install cryptography into a bare venv: {result.stderr[-2000:]}")
    return python


@pytest.fixture
def package(client, auth) -> bytes:
    order = upload(client, auth, pdf_bytes("order", padding=2000), metadata(doc_type="customer_order")).json
    invoice = upload(client, auth, pdf_bytes("invoice"), metadata(
        relations=[{"type": "invoices", "target": order["id"]}]), filename="=HYPERLINK(evil).pdf").json
    client.post(f"/api/v1/documents/{invoice['id']}/versions", headers=auth, content_type="multipart/form-data",
                data={"file": (io.BytesIO(pdf_bytes("invoice v2")), "v2.pdf"), "reason": "corrected"})
    client.get(f"/api/v1/documents/{order['id']}/content", headers=auth)
    response = client.post("/api/v1/exports", json={"customer": "C-1042", "order": "PO-4711"}, headers=auth)
    assert response.status_code == 200, response.data[:500]
    assert response.mimetype == "application/zip"
    return response.data


def load_verifier(package_bytes: bytes, tmp_path: Path):
    source = zipfile.ZipFile(io.BytesIO(package_bytes)).read("verify_package.py")
    path = tmp_path / "verify_package.py"
    path.write_bytes(source)
    spec = importlib.util.spec_from_file_location("packaged_verifier", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return path, module


def test_package_is_a_valid_bag_with_the_expected_contents(package, tmp_path):
    with zipfile.ZipFile(io.BytesIO(package)) as archive:
        names = archive.namelist()
        archive.extractall(tmp_path / "bag")
        csv_text = archive.read("data/metadata/documents.csv").decode()
    bag = bagit.Bag(str(tmp_path / "bag"))
    bag.validate()
    assert sum(1 for n in names if n.startswith("data/documents/")) == 3  # 2 documents, one with 2 versions
    assert {"data/audit/events.jsonl", "data/audit/proofs.json", "data/audit/checkpoint.json",
            "data/audit/keys.json", "data/metadata/documents.json", "verify_package.py"} <= set(names)
    assert "'=HYPERLINK(evil).pdf" in csv_text  # a formula in a spreadsheet cell is neutralised


def test_offline_verifier_accepts_the_package_with_only_cryptography(package, tmp_path, bare_python):
    path, _ = load_verifier(package, tmp_path)
    (tmp_path / "package.zip").write_bytes(package)
    result = subprocess.run([str(bare_python), "-I", str(path), str(tmp_path / "package.zip")],
                            capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "VERDICT: VALID" in result.stdout
    assert "audit events hash-checked and proven" in result.stdout
    tampered = bytearray(package)
    tampered[len(tampered) // 2] ^= 0x01
    (tmp_path / "tampered.zip").write_bytes(bytes(tampered))
    result = subprocess.run([str(bare_python), "-I", str(path), str(tmp_path / "tampered.zip")],
                            capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 1 and "VERDICT: NOT VALID" in result.stdout


def test_every_single_bit_change_is_rejected(package, tmp_path):
    _, verifier = load_verifier(package, tmp_path)
    target = tmp_path / "flipped.zip"
    edges = set(range(0, 300)) | set(range(len(package) - 600, len(package)))
    # every bit of the last 600 bytes (central directory, end record, signature), one bit elsewhere
    flips = [(o, b) for o in sorted(edges) for b in range(8) if o >= len(package) - 600 or b == o % 8]
    flips += [(o, o % 8) for o in range(300, len(package) - 600, 11)]
    offsets = flips
    accepted = []
    for offset, bit in flips:
        flipped = bytearray(package)
        flipped[offset] ^= 1 << bit
        target.write_bytes(bytes(flipped))
        try:
            verifier.verify(str(target), [])
            accepted.append((offset, bit))
        except (verifier.Failure, KeyError, ValueError):
            pass
    assert accepted == [], f"changed bits at these offsets went unnoticed: {accepted[:20]}"
    assert len(offsets) > 1000


def test_trusted_key_is_enforced(package, tmp_path):
    path, verifier = load_verifier(package, tmp_path)
    (tmp_path / "p.zip").write_bytes(package)
    with pytest.raises(verifier.Failure, match="not among the trusted keys"):
        verifier.verify(str(tmp_path / "p.zip"), ["0000000000000000"])


def test_export_errors(client, make_token):
    staff = {"Authorization": f"Bearer {make_token('file,read')}"}
    auditor = {"Authorization": f"Bearer {make_token('read,audit')}"}
    assert client.post("/api/v1/exports", json={"customer": "C"}, headers=staff).status_code == 403
    assert client.post("/api/v1/exports", json={}, headers=auditor).json["code"] == "missing_field"
    assert client.post("/api/v1/exports", json={"customer": "nobody"}, headers=auditor).status_code == 404


def test_cli_export_writes_a_package(client, auth, cli, tmp_path):
    upload(client, auth, pdf_bytes(), metadata())
    result = cli("export", "--customer", "C-1042", "-o", str(tmp_path / "p.zip"))
    assert result.exit_code == 0, result.output
    _, verifier = load_verifier((tmp_path / "p.zip").read_bytes(), tmp_path)
    assert any("VALID" in line or "ok" in line for line in verifier.verify(str(tmp_path / "p.zip"), []))
    assert not (tmp_path / ".p.zip.partial").exists()
    assert cli("export", "--customer", "nobody", "-o", str(tmp_path / "q.zip")).exit_code == 1
    assert not (tmp_path / "q.zip").exists()


def test_export_by_search_query(client, auth, runtime, cli, tmp_path):
    import json

    from archive.tasks import drain
    upload(client, auth, b"invoice about retour", metadata(), filename="a.txt")
    upload(client, auth, b"delivery note", metadata(doc_type="delivery_note"), filename="b.txt")
    drain(runtime)
    result = cli("export", "--query", "type:invoice retour", "-o", str(tmp_path / "q.zip"))
    assert result.exit_code == 0, result.output
    package = (tmp_path / "q.zip").read_bytes()
    _, verifier = load_verifier(package, tmp_path)
    verifier.verify(str(tmp_path / "q.zip"), [])
    index = json.loads(zipfile.ZipFile(io.BytesIO(package)).read("data/metadata/documents.json"))
    assert [d["doc_type"] for d in index["documents"]] == ["invoice"] and index["query"] == "type:invoice retour"
    assert cli("export", "--customer", "C-1042", "--query", "x", "-o", str(tmp_path / "r.zip")).exit_code == 1

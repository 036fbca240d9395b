#!/usr/bin/env python3
"""Offline verifier for evidence packages of the order archive. Needs only Python 3.10+ and `cryptography`.

    python3 verify_package.py package.zip [--trusted-key KEY_ID ...]

Checks, trusting nothing the archive's server says:
 1. the whole zip against the Ed25519 signature in its comment (any changed bit fails);
 2. the BagIt structure: every payload and tag file against its SHA-256 manifest, nothing missing or added;
 3. the signature over the tag manifest (package-signature.json), so an extracted bag verifies too;
 4. every document file against the checksum its metadata and its filing event record;
 5. every audit event: its hash recomputed from its canonical body, and its RFC 9162 inclusion proof up to the
    signed checkpoint, whose Ed25519 signature is checked against the published public key.
Prints one line per check and a verdict; exits 0 only when everything holds. Compare the printed key ids with the
ones your organisation recorded (or pass --trusted-key), since a forger could ship keys of their own.
"""
from __future__ import annotations

import argparse
import base64
import hashlib
import io
import json
import sys
import zipfile
from pathlib import PurePosixPath

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from audit.merkle import leaf_hash, verify_inclusion  # the packaged copy inlines this module above

ZIP_SIGNATURE_PREFIX = b"ARCHIVE-PACKAGE-SIGNATURE/1 "
RECORDING_ACTIONS = ("document.filed", "document.version_added")


class Failure(Exception):
    pass


def canonical_json(value) -> bytes:
    """The archive's canonical encoding (docs/audit-chain.md), restated here so the server's code is not trusted."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def strict_b64decode(text: str) -> bytes:
    """Base64 in its one canonical spelling: spare bits in the last character may not differ unnoticed."""
    raw = base64.b64decode(text, validate=True)
    if base64.b64encode(raw).decode("ascii") != text:
        raise ValueError("base64 is not in canonical form")
    return raw


def verify_signature(keys: dict, key_id: str, message: bytes, signature_b64: str, what: str) -> None:
    if key_id not in keys:
        raise Failure(f"{what}: signed by unknown key {key_id}")
    try:
        public = Ed25519PublicKey.from_public_bytes(strict_b64decode(keys[key_id]["public_key"]))
        public.verify(strict_b64decode(signature_b64), message)
    except (InvalidSignature, ValueError) as exc:
        raise Failure(f"{what}: the signature does not verify ({exc.__class__.__name__})") from None


def check_zip_signature(raw: bytes) -> tuple[str, str]:
    """Before anything inside is parsed: the container against the signature and key in its comment."""
    end = raw.rfind(b"PK\x05\x06")
    if end < 0 or end + 22 > len(raw):
        raise Failure("not a zip file")
    comment_length = int.from_bytes(raw[end + 20:end + 22], "little")
    comment = raw[end + 22:]
    if comment_length != len(comment) or not comment.startswith(ZIP_SIGNATURE_PREFIX):
        raise Failure("the zip carries no intact package signature")
    try:
        key_id, public_b64, signature = comment[len(ZIP_SIGNATURE_PREFIX):].decode("ascii").split(" ")
        public_raw = strict_b64decode(public_b64)
    except ValueError:
        raise Failure("the zip's signature comment is malformed") from None
    if hashlib.sha256(public_raw).hexdigest()[:16] != key_id:
        raise Failure("the zip's signature names a key id that does not fit its public key")
    # The signed bytes end with the end record, whose comment-length field is part of what was signed.
    verify_signature({key_id: {"public_key": public_b64}}, key_id, raw[:end + 22], signature, "zip signature")
    return key_id, public_b64


def read_zip(raw: bytes) -> dict[str, bytes]:
    """The members. Refuses names that escape the bag or repeat."""
    files: dict[str, bytes] = {}
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as package:
            for info in package.infolist():
                name = PurePosixPath(info.filename)
                if name.is_absolute() or ".." in name.parts or info.filename in files:
                    raise Failure(f"unsafe or repeated member name {info.filename!r}")
                if not info.is_dir():
                    files[info.filename] = package.read(info)
    except Failure:
        raise
    except Exception as exc:  # noqa: BLE001 - a signed container that fails to parse is simply invalid
        raise Failure(f"the zip is damaged: {exc}") from None
    return files


def parse_manifest(text: bytes, name: str) -> dict[str, str]:
    entries = {}
    for line in text.decode("utf-8").splitlines():
        digest, _, path = line.partition(" ")
        path = path.strip()
        if len(digest) != 64 or not path or path in entries:
            raise Failure(f"{name}: malformed line {line!r}")
        entries[path] = digest
    return entries


def check_bag(files: dict[str, bytes]) -> None:
    for required in ("bagit.txt", "bag-info.txt", "manifest-sha256.txt", "tagmanifest-sha256.txt"):
        if required not in files:
            raise Failure(f"{required} is missing")
    if b"BagIt-Version: 1.0" not in files["bagit.txt"]:
        raise Failure("bagit.txt does not declare BagIt 1.0")
    payload = parse_manifest(files["manifest-sha256.txt"], "manifest-sha256.txt")
    tags = parse_manifest(files["tagmanifest-sha256.txt"], "tagmanifest-sha256.txt")
    data_files = {n for n in files if n.startswith("data/")}
    if data_files != set(payload):
        raise Failure(f"payload files and manifest differ: {sorted(data_files ^ set(payload))[:5]}")
    untagged = set(files) - data_files - set(tags) - {"tagmanifest-sha256.txt", "package-signature.json"}
    if untagged or not {"bagit.txt", "bag-info.txt", "manifest-sha256.txt"} <= set(tags):
        raise Failure(f"tag files not covered by the tag manifest: {sorted(untagged)}")
    for manifest in (payload, tags):
        for path, digest in manifest.items():
            if path not in files or sha256_hex(files[path]) != digest:
                raise Failure(f"{path}: SHA-256 does not match the manifest")
    oxum = f"{sum(len(files[n]) for n in payload)}.{len(payload)}"
    if f"Payload-Oxum: {oxum}".encode() not in files["bag-info.txt"]:
        raise Failure("bag-info.txt Payload-Oxum does not match the payload")


def check_tag_signature(files: dict[str, bytes], keys: dict) -> str:
    envelope = json.loads(files["package-signature.json"])
    statement = envelope["statement"]
    if statement.get("tagmanifest_sha256") != sha256_hex(files["tagmanifest-sha256.txt"]):
        raise Failure("package-signature.json does not sign this tag manifest")
    verify_signature(keys, statement["key_id"], canonical_json(statement), envelope["signature"],
                     "package signature")
    return statement["key_id"]


def check_events(files: dict[str, bytes], keys: dict) -> tuple[int, dict]:
    checkpoint = json.loads(files["data/audit/checkpoint.json"])
    statement = json.loads(checkpoint["statement"])
    verify_signature(keys, statement["key_id"], checkpoint["statement"].encode(), checkpoint["signature"],
                     "checkpoint")
    size, root = statement["tree_size"], bytes.fromhex(statement["root_hash"].split(":", 1)[1])
    proofs = json.loads(files["data/audit/proofs.json"])
    recorded: dict = {}
    events = [json.loads(line) for line in files["data/audit/events.jsonl"].decode("utf-8").splitlines() if line]
    for item in events:
        body, seq = item["event"], item["event"]["seq"]
        if "sha256:" + sha256_hex(canonical_json(body)) != item["hash"]:
            raise Failure(f"audit event {seq}: its content does not match its hash")
        proof = [bytes.fromhex(p) for p in proofs[str(seq)]]
        if not verify_inclusion(leaf_hash(item["hash"].encode("ascii")), seq - 1, size, proof, root):
            raise Failure(f"audit event {seq}: not included in the signed checkpoint of {size} events")
        if body["action"] in RECORDING_ACTIONS:
            details = body["details"]
            recorded[(body["subject"].removeprefix("document:"), details["version"])] = details["checksum"]
    return len(events), recorded


def check_documents(files: dict[str, bytes], recorded: dict) -> int:
    documents = json.loads(files["data/metadata/documents.json"])["documents"]
    count = 0
    for document in documents:
        for version in document["versions"]:
            content = files.get(version["path"])
            if content is None or "sha256:" + sha256_hex(content) != version["checksum"]:
                raise Failure(f"{version['path']}: content does not match checksum {version['checksum']}")
            if recorded.get((document["id"], version["number"])) != version["checksum"]:
                raise Failure(f"{version['path']}: no filing event in the journal records this checksum")
            count += 1
    return count


def verify(path: str, trusted: list[str]) -> list[str]:
    with open(path, "rb") as handle:
        raw = handle.read()
    key_id, public_b64 = check_zip_signature(raw)
    files = read_zip(raw)
    keys = {k["key_id"]: k for k in json.loads(files["data/audit/keys.json"])["keys"]}
    if keys.get(key_id, {}).get("public_key") != public_b64:
        raise Failure(f"the container's signing key {key_id} is not among the package's published keys")
    report = [f"signing keys in the package: {', '.join(sorted(keys))}",
              f"ok   zip container signed by key {key_id}"]
    check_bag(files)
    report.append(f"ok   BagIt 1.0: {sum(1 for n in files if n.startswith('data/'))} payload files match")
    report.append(f"ok   tag manifest signed by key {check_tag_signature(files, keys)}")
    events, recorded = check_events(files, keys)
    report.append(f"ok   {events} audit events hash-checked and proven in the signed checkpoint")
    report.append(f"ok   {check_documents(files, recorded)} document versions match their filing events")
    untrusted = [k for k in {key_id} if trusted and k not in trusted]
    if untrusted:
        raise Failure(f"signed by key {untrusted[0]}, which is not among the trusted keys")
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("package")
    parser.add_argument("--trusted-key", action="append", default=[], help="a key id you trust (repeatable)")
    args = parser.parse_args(argv)
    try:
        for line in verify(args.package, args.trusted_key):
            print(line)
    except (Failure, KeyError, ValueError, OSError) as exc:
        print(f"FAIL {exc.__class__.__name__ if not isinstance(exc, Failure) else ''} {exc}".replace("  ", " "))
        print("VERDICT: NOT VALID")
        return 1
    print("VERDICT: VALID")
    return 0


if __name__ == "__main__":
    sys.exit(main())

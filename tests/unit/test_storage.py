import hashlib
import io
import os

import pytest

from archive.blobstore import LocalBlobStore, read_chunks
from archive.errors import IntegrityFailure, PayloadTooLarge
from archive.hashing import spool_stream
from archive.ids import new_id


def spool(store, data, limit=10_000_000):
    return spool_stream(io.BytesIO(data), store.spool_dir(), limit)


def test_blob_is_stored_under_its_checksum_and_read_back(tmp_path):
    store = LocalBlobStore(tmp_path)
    data = os.urandom(200_000)
    s = spool(store, data)
    key = store.put(s)
    digest = hashlib.sha256(data).hexdigest()
    assert s.checksum == f"sha256:{digest}"
    assert key == f"sha256/{digest[:2]}/{digest[2:4]}/{digest}"
    assert b"".join(read_chunks(store.open(s.checksum, len(data)))) == data
    assert list(store.checksums()) == [s.checksum]
    assert list(store.spool_dir().iterdir()) == []


def test_identical_content_is_stored_once_and_never_overwritten(tmp_path):
    store = LocalBlobStore(tmp_path)
    first = spool(store, b"same bytes")
    store.put(first)
    path = store.path_for(first.checksum)
    inode = path.stat().st_ino
    second = spool(store, b"same bytes")
    store.put(second)
    assert path.stat().st_ino == inode
    assert list(store.spool_dir().iterdir()) == []


def test_size_is_verified_on_read(tmp_path):
    store = LocalBlobStore(tmp_path)
    s = spool(store, b"twelve bytes")
    store.put(s)
    with pytest.raises(IntegrityFailure) as error:
        store.open(s.checksum, 13)
    assert error.value.code == "blob_size_mismatch"
    store.delete(s.checksum)
    with pytest.raises(IntegrityFailure) as error:
        store.open(s.checksum, 12)
    assert error.value.code == "blob_missing"


def test_damaged_existing_copy_is_not_silently_reused(tmp_path):
    store = LocalBlobStore(tmp_path)
    s = spool(store, b"original content")
    store.put(s)
    path = store.path_for(s.checksum)
    os.chmod(path, 0o640)
    path.write_bytes(b"short")
    with pytest.raises(IntegrityFailure):
        store.put(spool(store, b"original content"))
    assert path.read_bytes() == b"short"


def test_spool_refuses_to_grow_past_the_limit_and_leaves_nothing(tmp_path):
    store = LocalBlobStore(tmp_path)
    with pytest.raises(PayloadTooLarge):
        spool(store, b"x" * 101, limit=100)
    assert list(store.spool_dir().iterdir()) == []


def test_checksum_keys_are_validated(tmp_path):
    store = LocalBlobStore(tmp_path)
    for bad in ("md5:abc", "sha256:../../etc/passwd", "sha256:" + "g" * 64):
        with pytest.raises(ValueError):
            store.path_for(bad)


def test_ids_are_unique_and_sortable():
    ids = [new_id() for _ in range(5000)]
    assert len(set(ids)) == 5000
    assert ids == sorted(ids)
    assert all(i[14] == "7" for i in ids)


def test_fast_chained_hash_equals_the_canonical_definition():
    import json
    from datetime import datetime, timezone

    from audit.log import canonical_json, chained_hash, event_body, event_hash
    details = {"z": [1, 2.5, None, True], "a": {"é\u202e\r\n\"\\": "\x00\x1f\u2028"}, "n": -0.0, "big": 10**20}
    for ip, agent, subject in ((None, None, None), ("::1", "curl/8 \"x\"\n", "document:é")):
        time = datetime(2026, 1, 2, 3, 4, 5, 6789, tzinfo=timezone.utc)
        reference = event_hash(event_body(7, time, "user:ü", ip, "document.filed", subject, "success", ip, agent,
                                          details, "sha256:" + "0" * 64))
        text = canonical_json(details).decode()
        assert chained_hash(7, "2026-01-02T03:04:05.006789Z", "user:ü", ip, "document.filed", subject, "success", ip, agent, text,
                            "sha256:" + "0" * 64) == reference
        assert canonical_json(json.loads(text)).decode() == text

import hashlib
import io
import os

import pytest

from archive.blobstore import LocalBlobStore, read_chunks
from archive.encryption import CHUNK, MasterKey, MasterKeyring, new_master_key_text, parse_keyring
from archive.errors import IntegrityFailure
from archive.hashing import spool_stream
from archive.sealed_store import KeyDirectory, SealedBlobStore


def keyring(*texts):
    return parse_keyring("\n".join(texts or [new_master_key_text()]))


def sealed_store(tmp_path, ring=None):
    return SealedBlobStore(LocalBlobStore(tmp_path / "blobs"), KeyDirectory(tmp_path / "keys"), ring or keyring())


def put(store, data):
    spool = spool_stream(io.BytesIO(data), store.spool_dir(), 10**9)
    store.put(spool)
    return spool.checksum


def read(store, checksum, size):
    return b"".join(read_chunks(store.open(checksum, size)))


@pytest.mark.parametrize("size", [1, 1000, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 17])
def test_round_trip_and_no_plaintext_on_disk(tmp_path, size):
    store = sealed_store(tmp_path)
    data = (b"INVOICE-PLAINTEXT-MARKER " * (size // 25 + 1))[:size]
    checksum = put(store, data)
    assert checksum == "sha256:" + hashlib.sha256(data).hexdigest()
    assert read(store, checksum, size) == data
    on_disk = store.inner.path_for(checksum).read_bytes()
    assert b"INVOICE-PLAINTEXT" not in on_disk and len(on_disk) > size


def tamper(path, offset, new=None):
    os.chmod(path, 0o640)
    raw = bytearray(path.read_bytes())
    raw[offset] ^= 0x01
    path.write_bytes(bytes(raw) if new is None else new(bytes(raw)))


@pytest.mark.parametrize("offset", [0, 20, CHUNK, -1])
def test_a_flipped_bit_anywhere_fails_the_read(tmp_path, offset):
    store = sealed_store(tmp_path)
    data = os.urandom(2 * CHUNK + 5)
    checksum = put(store, data)
    tamper(store.inner.path_for(checksum), offset)
    with pytest.raises(IntegrityFailure):
        read(store, checksum, len(data))


def test_swapped_chunks_fail(tmp_path):
    store = sealed_store(tmp_path)
    data = os.urandom(3 * CHUNK)
    checksum = put(store, data)
    path = store.inner.path_for(checksum)
    raw = path.read_bytes()
    header, step = 16, CHUNK + 16
    swapped = raw[:header] + raw[header + step:header + 2 * step] + raw[header:header + step] + raw[header + 2 * step:]
    os.chmod(path, 0o640)
    path.write_bytes(swapped)
    with pytest.raises(IntegrityFailure, match="GCM"):
        read(store, checksum, len(data))


def test_a_blob_cannot_be_served_under_another_checksum(tmp_path):
    store = sealed_store(tmp_path)
    a, b = put(store, b"content a"), put(store, b"content b")
    os.chmod(store.inner.path_for(a), 0o640)
    store.inner.path_for(a).write_bytes(store.inner.path_for(b).read_bytes())
    with pytest.raises(IntegrityFailure):
        read(store, a, 9)


def test_shredding_the_data_key_makes_content_unrecoverable(tmp_path):
    store = sealed_store(tmp_path)
    checksum = put(store, b"personal data")
    key_file = store.keys.path_for(checksum)
    assert store.shred(checksum) and not key_file.exists()
    with pytest.raises(IntegrityFailure) as error:
        read(store, checksum, 13)
    assert error.value.code == "data_key_shredded"


def test_identical_content_shares_one_key_and_one_blob(tmp_path):
    store = sealed_store(tmp_path)
    first = put(store, b"same")
    key = store.keys.load(first)
    inode = store.inner.path_for(first).stat().st_ino
    assert put(store, b"same") == first
    assert store.keys.load(first) == key and store.inner.path_for(first).stat().st_ino == inode


def test_master_rotation_rewraps_keys_without_rewriting_blobs(tmp_path):
    old, new = new_master_key_text(), new_master_key_text()
    store = sealed_store(tmp_path, keyring(old))
    checksum = put(store, b"kept for ten years")
    blob = store.inner.path_for(checksum)
    before = (blob.stat().st_ino, blob.stat().st_mtime_ns, blob.read_bytes())
    store.keyring = keyring(new, old)
    assert store.rewrap() == 1 and store.rewrap() == 0
    store.keyring = keyring(new)  # the old master key is gone
    assert read(store, checksum, 18) == b"kept for ten years"
    assert (blob.stat().st_ino, blob.stat().st_mtime_ns, blob.read_bytes()) == before
    store.keyring = keyring(old)
    with pytest.raises(IntegrityFailure) as error:
        read(store, checksum, 18)
    assert error.value.code == "master_key_missing"


def test_keyring_parsing():
    with pytest.raises(ValueError):
        parse_keyring("not base64!")
    with pytest.raises(ValueError):
        parse_keyring("c2hvcnQ=")
    ring = MasterKeyring([MasterKey.from_secret(b"k" * 32)])
    assert len(ring.current.key_id) == 16

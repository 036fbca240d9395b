"""Checkpoints carry an RFC 3161 time-stamp from a real (local, openssl-based) authority when one is configured."""
import base64
import dataclasses

import pytest

from audit.checkpoints import create_checkpoint
from audit.log import append
from audit.timestamps import TimestampFailed, request_timestamp
from tests.fixtures.tsa import LocalTsa


@pytest.fixture(scope="module")
def tsa():
    authority = LocalTsa()
    yield authority
    authority.close()


def test_checkpoint_is_timestamped_and_openssl_verifies_it(runtime, system_actor, tsa):
    runtime.settings = dataclasses.replace(runtime.settings, tsa_url=tsa.url)
    with runtime.transaction() as session:
        append(session, runtime.clock, system_actor, "test.appended")
    checkpoint = create_checkpoint(runtime, system_actor)
    reply = base64.b64decode(checkpoint.timestamp_token)
    verified = tsa.verify(checkpoint.statement.encode(), reply)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "Verification: OK" in verified.stdout
    assert tsa.verify(checkpoint.statement.encode() + b" ", reply).returncode != 0


def test_an_unreachable_authority_fails_the_checkpoint_loudly(runtime, system_actor):
    runtime.settings = dataclasses.replace(runtime.settings, tsa_url="http://127.0.0.1:9/tsa")
    with runtime.transaction() as session:
        append(session, runtime.clock, system_actor, "test.appended")
    with pytest.raises(TimestampFailed):
        create_checkpoint(runtime, system_actor)


def test_request_timestamp_against_the_authority(tsa):
    assert tsa.verify(b"hello", request_timestamp(tsa.url, b"hello")).returncode == 0

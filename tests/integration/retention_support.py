"""Fixtures for the retention tests: an archive on a FrozenClock that can travel years, under a chosen schedule,
with two records managers (four eyes), a staff member and an administrator."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable

import pytest

from archive.accounts import create_token, create_user
from archive.clock import FrozenClock
from archive.tasks import drain
from config.backends import build_runtime
from config.settings import load_settings
from tests.fixtures.samples import metadata, pdf_bytes, upload
from web.app import create_app

START = datetime(2025, 1, 10, 9, 0, tzinfo=timezone.utc)


@dataclass
class Archive:
    runtime: Any
    clock: FrozenClock
    client: Any
    headers: dict[str, dict[str, str]]

    def file(self, text: str, as_: str = "staff", data: bytes | None = None, **fields: Any) -> dict[str, Any]:
        data = data if data is not None else pdf_bytes(text, padding=2000)
        response = upload(self.client, self.headers[as_], data, metadata(**fields))
        assert response.status_code == 201, response.json
        return response.json

    def call(self, method: str, path: str, as_: str = "alice", **kwargs: Any):
        return getattr(self.client, method)(f"/api/v1{path}", headers=self.headers[as_], **kwargs)

    def travel(self, **delta: float) -> None:
        self.clock.advance(**delta)

    def drain(self) -> None:
        drain(self.runtime)


def make_archive(tmp_path, database_url: str, schedule: str = "fr") -> Archive:
    settings = load_settings(environ={}, data_dir=tmp_path / "data", database_url=database_url,
                             max_upload_bytes=2 * 1024 * 1024, retention_schedule=schedule)
    clock = FrozenClock(START)
    runtime = build_runtime(settings, clock)
    headers = {}
    from audit.log import Actor
    system = Actor.system("test")
    with runtime.transaction() as session:
        for name, role, scopes in (("alice", "records_manager", "file,read,audit"),
                                   ("bob", "records_manager", "file,read,audit"),
                                   ("sam", "staff", "file,read"), ("ada", "admin", "file,read,audit,admin")):
            create_user(session, clock, system, name, role, "a-long-enough-password")
            token = create_token(session, clock, system, f"{name}-token", scopes.split(","), name)
            headers[name] = {"Authorization": f"Bearer {token}"}
    headers["staff"] = headers["sam"]
    return Archive(runtime, clock, create_app(runtime=runtime).test_client(), headers)


@pytest.fixture
def archive_factory(tmp_path, database_url) -> Callable[..., Archive]:
    made: list[Archive] = []

    def make(schedule: str = "fr") -> Archive:
        archive = make_archive(tmp_path, database_url, schedule)
        made.append(archive)
        return archive
    yield make
    for archive in made:
        archive.runtime.close()


@pytest.fixture
def archive(archive_factory) -> Archive:
    return archive_factory()

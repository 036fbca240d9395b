"""Fixtures in the flaskr style: every test gets a fresh database, data directory, app, client and CLI runner.

The whole suite runs once per database: ARCHIVE_TEST_DB=sqlite (default) or postgres, the latter at
ARCHIVE_TEST_POSTGRES_URL (scripts/services.sh starts it). Under CI=true a missing service fails instead of skipping.
"""
from __future__ import annotations

import os
import shutil
import time
import uuid
from pathlib import Path
from typing import Callable, Iterator

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from archive.accounts import create_token
from archive.db import make_engine, upgrade
from archive.runtime import Runtime
from audit.log import Actor
from config.backends import build_runtime
from config.settings import load_settings
from web.app import create_app

IN_CI = os.environ.get("CI") == "true"
DB_KIND = os.environ.get("ARCHIVE_TEST_DB", "sqlite")
TEMPLATE_DB = f"archive_test_template_{os.getpid()}"  # parallel runs must not share one
CORPUS = Path(os.environ.get("ARCHIVE_CORPUS", Path(__file__).resolve().parents[2] / "shared" / "corpus"))


def missing_service(reason: str) -> None:
    """Skip on a user's machine; fail in CI so that CI can never go green by skipping."""
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: required)")
    pytest.skip(reason)


def require_corpus() -> Path:
    if not CORPUS.is_dir():
        missing_service(f"test corpus not found at {CORPUS}")
    return CORPUS


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "archive.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def postgres_admin_url() -> Iterator[str]:
    url = os.environ.get("ARCHIVE_TEST_POSTGRES_URL")
    if not url:
        missing_service("ARCHIVE_TEST_POSTGRES_URL is not set; run scripts/services.sh")
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {TEMPLATE_DB} WITH (FORCE)"))
            conn.execute(text(f"CREATE DATABASE {TEMPLATE_DB}"))
    except Exception as exc:  # noqa: BLE001 - any connection problem means the service is missing
        missing_service(f"PostgreSQL is not reachable at {url}: {exc}")
    finally:
        engine.dispose()
    template = make_engine(make_url(url).set(database=TEMPLATE_DB).render_as_string(hide_password=False))
    upgrade(template)
    template.dispose()
    yield url
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {TEMPLATE_DB} WITH (FORCE)"))
    admin.dispose()


@pytest.fixture
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if DB_KIND == "sqlite":
        path = tmp_path / "archive.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    admin_url = request.getfixturevalue("postgres_admin_url")
    name = f"archive_t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE_DB}"))
    yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    _drop_database(admin, name)
    admin.dispose()


def _drop_database(admin, name: str) -> None:
    """Cleanup must not fail a test: a server process (autovacuum) may hold the database for a moment."""
    for attempt in range(5):
        try:
            with admin.connect() as conn:
                conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            return
        except Exception:  # noqa: BLE001 - retried, then left for the next run's cleanup
            time.sleep(0.2 * (attempt + 1))


@pytest.fixture
def settings(tmp_path: Path, database_url: str):
    return load_settings(environ={}, data_dir=tmp_path / "data", database_url=database_url,
                         max_upload_bytes=2 * 1024 * 1024)


@pytest.fixture
def runtime(settings) -> Iterator[Runtime]:
    rt = build_runtime(settings)
    yield rt
    rt.close()


@pytest.fixture
def app(runtime: Runtime):
    return create_app(runtime=runtime)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def system_actor() -> Actor:
    return Actor.system("test")


@pytest.fixture
def make_token(runtime: Runtime, system_actor: Actor) -> Callable[..., str]:
    def make(scopes: str = "file,read,audit,admin", name: str | None = None) -> str:
        with runtime.transaction() as session:
            return create_token(session, runtime.clock, system_actor, name or f"t-{uuid.uuid4().hex[:8]}",
                                scopes.split(","))
    return make


@pytest.fixture
def auth(make_token) -> dict[str, str]:
    return {"Authorization": f"Bearer {make_token()}"}


@pytest.fixture
def cli(settings, monkeypatch: pytest.MonkeyPatch) -> Callable[..., object]:
    """Runs `archive ...` in-process against the test's database and data directory."""
    monkeypatch.setenv("ARCHIVE_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("ARCHIVE_DATABASE_URL", settings.database_url)
    from web.cli import cli as group

    def run(*args: str, input: str | None = None):
        return CliRunner().invoke(group, list(args), input=input, catch_exceptions=False)
    return run

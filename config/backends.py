"""The one place that picks implementations, by URL scheme, for the four seams."""
from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

from archive.blobstore import BlobStore, LocalBlobStore
from archive.clock import Clock, system_clock
from archive.db import make_engine, make_sessionmaker
from archive.runtime import Runtime
from config.settings import Settings, SettingsError


def build_runtime(settings: Settings, clock: Clock = system_clock) -> Runtime:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.database_url)
    return Runtime(settings=settings, engine=engine, sessions=make_sessionmaker(engine),
                   blobs=blob_store_for(settings.blob_url), clock=clock)


def blob_store_for(url: str) -> BlobStore:
    parsed = urlparse(url)
    if parsed.scheme == "file":
        return LocalBlobStore(Path(parsed.path))
    raise SettingsError(f"ARCHIVE_BLOB_URL: no blob store for scheme {parsed.scheme!r} (supported: file://)")

"""Settings: one frozen dataclass read from ARCHIVE_* variables and an optional TOML file.

Nothing is read at import time; `load_settings()` is called by the app factory and the CLI.
Precedence: explicit overrides > environment > TOML file named by ARCHIVE_CONFIG > defaults.
"""
from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

MIB = 1024 * 1024


class SettingsError(ValueError):
    """A setting has a value we cannot use."""


@dataclass(frozen=True)
class Settings:
    data_dir: Path = Path("archive-data")
    database_url: str = ""
    blob_url: str = ""
    search_url: str = ""
    search_index_name: str = "archive-documents"
    broker_url: str = ""
    max_upload_bytes: int = 100 * MIB
    secret_key: str = ""
    web_workers: int = 0  # 0: the default of web.server.web_workers (2)
    web_threads: int = 8
    encryption: str = "on"
    master_key: str = dataclasses.field(default="", repr=False)
    master_key_file: str = ""
    key_dir: str = ""
    signing_key_dir: str = ""
    tsa_url: str = ""
    checkpoint_interval_seconds: int = 3600
    fixity_interval_seconds: int = 86400
    fixity_max_mb_per_second: int = 50
    processing_cpu_seconds: int = 60  # per document, in the parsing child (RLIMIT_CPU)
    processing_memory_mb: int = 2048  # per document, address space of the parsing child (RLIMIT_AS)
    processing_max_pages: int = 500  # per document; more pages: failed, with the reason
    processing_wall_seconds: int = 600  # per document, wall clock (OCR of long scans takes a while)
    processing_jobs_per_worker: int = 100  # files one parsing process reads before it is replaced; 1: one per file
    preview_max_pages: int = 50  # pages of a PDF rendered to images on the document page; more: download it
    preview_max_bytes: int = 50 * MIB  # larger PDFs get no page images and no thumbnail
    retention_schedule: str = "eu-default"  # config/retention/<name>.toml, or a path to a .toml file
    cookie_secure: str = "auto"  # on | off | auto: on, except `archive serve` bound to a loopback address

    def __post_init__(self) -> None:
        data_dir = Path(self.data_dir).absolute()
        object.__setattr__(self, "data_dir", data_dir)
        defaults = {
            "database_url": f"sqlite:///{data_dir / 'archive.db'}",
            "blob_url": f"file://{data_dir / 'blobs'}",
            "search_url": f"fts5://{data_dir / 'search.db'}",
            "master_key_file": str(data_dir / "master.key"),
            "key_dir": str(data_dir / "keys"),
            "signing_key_dir": str(data_dir / "signing"),
        }
        for name, value in defaults.items():
            if not getattr(self, name):
                object.__setattr__(self, name, value)
        if self.encryption not in ("on", "off"):
            raise SettingsError("ARCHIVE_ENCRYPTION must be `on` or `off`")
        if self.cookie_secure not in ("on", "off", "auto"):
            raise SettingsError("ARCHIVE_COOKIE_SECURE must be `on`, `off` or `auto`")
        if self.max_upload_bytes <= 0:
            raise SettingsError("ARCHIVE_MAX_UPLOAD_BYTES must be a positive number of bytes")
        for name in ("processing_cpu_seconds", "processing_memory_mb", "processing_max_pages",
                     "processing_wall_seconds", "processing_jobs_per_worker", "preview_max_pages",
                     "preview_max_bytes"):
            if getattr(self, name) <= 0:
                raise SettingsError(f"ARCHIVE_{name.upper()} must be a positive number")


_FIELDS = {f.name: f for f in dataclasses.fields(Settings)}


def load_settings(environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    config_file = environ.get("ARCHIVE_CONFIG")
    if config_file:
        values.update(_read_toml(Path(config_file)))
    for name in _FIELDS:
        env_value = environ.get(f"ARCHIVE_{name.upper()}")
        if env_value not in (None, ""):
            values[name] = env_value
    values.update({k: v for k, v in overrides.items() if v is not None})
    return Settings(**{name: _coerce(name, value) for name, value in values.items()})


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise SettingsError(f"cannot read ARCHIVE_CONFIG file {path}: {exc}") from exc
    unknown = sorted(set(data) - set(_FIELDS))
    if unknown:
        raise SettingsError(f"unknown settings in {path}: {', '.join(unknown)}")
    return data


def _coerce(name: str, value: Any) -> Any:
    if name not in _FIELDS:
        raise SettingsError(f"unknown setting {name!r}")
    kind = _FIELDS[name].type
    if kind == "int":
        try:
            return int(value)
        except (TypeError, ValueError):
            raise SettingsError(f"ARCHIVE_{name.upper()} must be an integer, got {value!r}") from None
    if kind == "Path":
        return Path(value)
    return str(value)

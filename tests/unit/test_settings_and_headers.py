import pytest

from config.settings import SettingsError, load_settings
from web.downloads import content_disposition


def test_defaults_live_in_the_data_dir(tmp_path):
    settings = load_settings(environ={"ARCHIVE_DATA_DIR": str(tmp_path)})
    assert settings.database_url == f"sqlite:///{tmp_path / 'archive.db'}"
    assert settings.blob_url == f"file://{tmp_path / 'blobs'}"
    assert settings.max_upload_bytes == 100 * 1024 * 1024


def test_environment_beats_toml_file(tmp_path):
    config = tmp_path / "archive.toml"
    config.write_text('max_upload_bytes = 1000\nweb_workers = 3\n')
    settings = load_settings(environ={"ARCHIVE_CONFIG": str(config), "ARCHIVE_MAX_UPLOAD_BYTES": "2000",
                                      "ARCHIVE_DATA_DIR": str(tmp_path)})
    assert settings.max_upload_bytes == 2000 and settings.web_workers == 3


@pytest.mark.parametrize("environ", [
    {"ARCHIVE_MAX_UPLOAD_BYTES": "lots"}, {"ARCHIVE_MAX_UPLOAD_BYTES": "-1"}, {"ARCHIVE_CONFIG": "/nonexistent"},
])
def test_bad_settings_are_reported(environ):
    with pytest.raises(SettingsError):
        load_settings(environ=environ)


def test_unknown_keys_in_the_toml_file_are_reported(tmp_path):
    config = tmp_path / "archive.toml"
    config.write_text('max_uplaod_bytes = 1\n')
    with pytest.raises(SettingsError, match="max_uplaod_bytes"):
        load_settings(environ={"ARCHIVE_CONFIG": str(config)})


@pytest.mark.parametrize("name, ascii_part", [
    ("../../etc/passwd", 'filename="passwd"'),
    ("Facture n°42 – été.pdf", 'filename="Facture n42  ete.pdf"'),
    ('a"b\r\nc.pdf', 'filename="a_bc.pdf"'),
    (None, 'filename="doc-1.pdf"'),
])
def test_content_disposition_is_safe(name, ascii_part):
    header = content_disposition(name, "doc-1", "application/pdf")
    assert header.startswith("attachment; ")
    assert ascii_part in header
    assert header.isascii() and "\r" not in header and "\n" not in header


@pytest.mark.parametrize("name", ["ARCHIVE_PROCESSING_CPU_SECONDS", "ARCHIVE_PROCESSING_JOBS_PER_WORKER"])
@pytest.mark.parametrize("value", ["0", "-3", "many"])
def test_processing_limits_must_be_positive_integers(tmp_path, name, value):
    with pytest.raises(SettingsError, match=name):
        load_settings(environ={name: value, "ARCHIVE_DATA_DIR": str(tmp_path)})

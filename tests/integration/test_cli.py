"""The `archive` command as named in the contract."""
import hashlib
import json

from sqlalchemy import text

from tests.fixtures.samples import ELF_HEADER, pdf_bytes


def test_users_tokens_file_show_get(cli, tmp_path):
    created = cli("users", "create", "--username", "alice", "--role", "staff", input="")
    assert created.exit_code == 0
    given = cli("users", "create", "--username", "carol", "--role", "auditor", input="a-long-enough-password\n")
    assert given.exit_code == 0 and "a-long-enough-password" not in given.stdout
    token = cli("tokens", "create", "--name", "erp", "--scopes", "file,read", "--user", "alice")
    assert token.exit_code == 0 and token.stdout.strip().startswith("arc_")
    assert len(token.stdout.strip().splitlines()) == 1

    source = tmp_path / "invoice.pdf"
    source.write_bytes(pdf_bytes("cli filing"))
    filed = cli("file", str(source), "--type", "invoice", "--customer", "C-7", "--order", "PO-7", "--date",
                "2024-08-01")
    assert filed.exit_code == 0, filed.output
    receipt = json.loads(filed.stdout)
    assert receipt["checksum"] == "sha256:" + hashlib.sha256(source.read_bytes()).hexdigest()

    shown = json.loads(cli("show", receipt["id"]).stdout)
    assert shown["document_date"] == "2024-08-01" and shown["source_channel"] == "cli"
    target = tmp_path / "out.pdf"
    assert cli("get", receipt["id"], "-o", str(target)).exit_code == 0
    assert target.read_bytes() == source.read_bytes()


def test_cli_errors_are_messages_with_nonzero_exit(cli, tmp_path):
    assert cli("tokens", "create", "--name", "x", "--scopes", "file,teleport").exit_code == 1
    assert cli("tokens", "create", "--name", "x", "--scopes", "admin", "--user", "ghost").exit_code == 1
    cli("users", "create", "--username", "aud", "--role", "auditor", input="")
    refused = cli("tokens", "create", "--name", "y", "--scopes", "file", "--user", "aud")
    assert refused.exit_code == 1 and "scope_not_allowed" in refused.output
    exe = tmp_path / "invoice.pdf"
    exe.write_bytes(ELF_HEADER)
    result = cli("file", str(exe), "--type", "invoice", "--customer", "C")
    assert result.exit_code == 1 and "unsupported_media_type" in result.output
    assert cli("show", "missing").exit_code == 1
    assert cli("file", str(exe), "--type", "nope", "--customer", "C").exit_code == 1


def test_password_too_short_is_refused(cli):
    result = cli("users", "create", "--username", "dave", "--role", "staff", input="short\n")
    assert result.exit_code == 1 and "weak_password" in result.output


def test_out_of_date_schema_is_refused_with_a_clear_message(cli, runtime):
    with runtime.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0000'"))
    result = cli("show", "anything")
    assert result.exit_code == 1
    assert "archive db upgrade" in result.output and "0000" in result.output

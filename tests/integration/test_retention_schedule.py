"""Retention schedules as reviewed configuration, and retention per document: computed at filing, recomputed on
trigger events and schedule changes, and only ever growing."""
from __future__ import annotations

import json
from datetime import date

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import DBAPIError

from archive.models import AuditEvent, Document
from retention.policies import record_schedule, recompute_all
from retention.schedule import SCHEDULE_DIR, ScheduleError, add_period, compute, load_schedule, parse_schedule
from audit.log import Actor
from tests.integration.retention_support import archive, archive_factory  # noqa: F401 - fixtures

SYSTEM = Actor.system("test")


@pytest.mark.parametrize("name", ["fr", "de", "eu-default"])
def test_the_shipped_schedules_load_and_cover_every_document_type(name):
    schedule = load_schedule(name)
    types = ["customer_order", "purchase_order", "order_confirmation", "contract", "delivery_note",
             "shipping_document", "invoice", "credit_note", "payment_advice", "closing_report", "customer_review",
             "correspondence", "other", "disposition_certificate"]
    assert [t for t in types if schedule.class_for(t, None) is None] == []
    assert schedule.class_for("disposition_certificate", None).action == "keep"
    assert schedule.content_hash.startswith("sha256:")


def test_german_periods_and_the_beg_iv_class():
    de = load_schedule("de")
    invoice, letter = de.class_for("invoice", None), de.class_for("order_confirmation", None)
    assert (invoice.period.years, letter.period.years) == (10, 6)
    # HGB §257 (5): from the end of the calendar year the document arose in
    assert compute(de, invoice, date(2024, 3, 15)) == date(2034, 12, 31)
    assert compute(de, letter, date(2024, 3, 15)) == date(2030, 12, 31)
    assert de.classes["booking_vouchers_beg4"].period.years == 8 and de.classes["booking_vouchers_beg4"].doc_types == ()


def test_period_arithmetic_and_rounding():
    fr = load_schedule("fr")
    assert compute(fr, fr.class_for("invoice", None), date(2024, 3, 1)) == date(2034, 12, 31)
    assert add_period(date(2024, 2, 29), parse_period(years=1)) == date(2025, 2, 28)
    assert add_period(date(2024, 1, 31), parse_period(months=1, days=1)) == date(2024, 3, 1)


def parse_period(**values):
    from retention.schedule import Period
    return Period(**values)


def schedule_data(**change):
    data = {"name": "t", "classes": {"a": {"doc_types": ["invoice"], "legal_basis": "law", "period": {"years": 1},
                                           "trigger": "document_date", "rounding": "none", "action": "destroy"}}}
    data["classes"]["a"].update(change)
    return data


@pytest.mark.parametrize("change,message", [
    ({"trigger": "when_i_feel_like_it"}, "unknown trigger"),
    ({"rounding": "to_the_nearest_decade"}, "rounding must be"),
    ({"action": "shred_now"}, "action must be"),
    ({"period": {"weeks": 2}}, "period must be"),
    ({"period": {"years": -1}}, "whole numbers"),
    ({"legal_basis": ""}, "legal_basis"),
    ({"colour": "red"}, "unknown keys"),
])
def test_bad_classes_are_refused_clearly(change, message):
    with pytest.raises(ScheduleError, match=message):
        parse_schedule(schedule_data(**change))


def test_bad_toml_and_missing_files_are_refused_clearly(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("name = 'x'\n[classes.a\n")
    with pytest.raises(ScheduleError, match="not valid TOML"):
        load_schedule(str(bad))
    with pytest.raises(ScheduleError, match="shipped schedules: de, eu-default, fr"):
        load_schedule("atlantis")
    assert parse_schedule(schedule_data(trigger="event:warranty_expired")).classes["a"].event_name == \
        "warranty_expired"


def test_a_doc_type_in_two_classes_is_ambiguous():
    data = schedule_data()
    data["classes"]["b"] = dict(data["classes"]["a"])
    with pytest.raises(ScheduleError, match="in both"):
        parse_schedule(data)


def test_a_customer_class_wins_over_the_general_one():
    data = schedule_data()
    data["classes"]["vip"] = {**data["classes"]["a"], "customers": ["C-1"], "period": {"years": 30}}
    schedule = parse_schedule(data)
    assert schedule.class_for("invoice", "C-1").key == "vip" and schedule.class_for("invoice", "C-2").key == "a"


def test_retention_is_computed_at_filing_and_shown(archive):
    filed = archive.file("inv", document_date="2024-03-01")
    view = archive.call("get", f"/documents/{filed['id']}").json
    assert view["retention"]["class"] == "accounting" and view["retention"]["retain_until"] == "2034-12-31"
    assert "L123-22" in view["retention"]["legal_basis"]
    assert "fiscal year end of the document_date (2024-12-31)" in view["retention"]["rule"]
    contract = archive.file("contract", doc_type="contract", document_date="2024-03-01")
    assert archive.call("get", f"/documents/{contract['id']}").json["retention"]["retain_until"] is None


def test_the_schedule_in_force_is_recorded_when_it_changes(archive_factory, tmp_path):
    archive = archive_factory("fr")
    rt = archive.runtime
    assert record_schedule(rt, SYSTEM) is True and record_schedule(rt, SYSTEM) is False
    custom = tmp_path / "custom.toml"
    custom.write_text((SCHEDULE_DIR / "fr.toml").read_text().replace("period = { years = 10 }",
                                                                    "period = { years = 11 }"))
    object.__setattr__(rt.settings, "retention_schedule", str(custom))
    assert record_schedule(rt, SYSTEM) is True
    with rt.reading() as session:
        events = [json.loads(e) for e in session.scalars(select(AuditEvent.details_json).where(
            AuditEvent.action == "retention.schedule_changed").order_by(AuditEvent.seq))]
    assert events[1]["old_hash"] == events[0]["new_hash"] != events[1]["new_hash"]
    assert events[1]["classes"]["accounting"]["period"] == {"years": 11, "months": 0, "days": 0}


def test_closing_an_order_starts_its_periods(archive_factory):
    archive = archive_factory("eu-default")
    confirmation = archive.file("oc", doc_type="order_confirmation", document_date="2024-03-01")
    assert archive.call("get", f"/documents/{confirmation['id']}").json["retention"]["retain_until"] is None
    closed = archive.call("post", "/customers/C-1042/orders/PO-4711/close", json={"closed_on": "2025-01-05"})
    assert closed.status_code == 200 and closed.json["recomputed"] == 1
    assert archive.call("get", f"/documents/{confirmation['id']}").json["retention"]["retain_until"] == "2035-12-31"
    again = archive.call("post", "/customers/C-1042/orders/PO-4711/close")
    assert (again.status_code, again.json["code"]) == (409, "order_closed")


def test_shortening_is_refused_and_audited(archive_factory, tmp_path):
    archive = archive_factory("fr")
    rt = archive.runtime
    filed = archive.file("inv", document_date="2024-03-01")
    custom = tmp_path / "short.toml"
    custom.write_text((SCHEDULE_DIR / "fr.toml").read_text().replace("period = { years = 10 }",
                                                                    "period = { years = 3 }"))
    object.__setattr__(rt.settings, "retention_schedule", str(custom))
    counts = recompute_all(rt, SYSTEM)
    assert counts["refused"] == 1 and counts["recomputed"] == 0
    assert archive.call("get", f"/documents/{filed['id']}").json["retention"]["retain_until"] == "2034-12-31"
    with rt.reading() as session:
        refused = session.scalar(select(AuditEvent).where(AuditEvent.action == "retention.shortening_refused"))
    assert refused.outcome == "denied" and refused.details["new_retain_until"] == "2027-12-31"
    longer = custom.read_text().replace("period = { years = 3 }", "period = { years = 12 }")
    custom.write_text(longer)
    assert recompute_all(rt, SYSTEM)["recomputed"] == 1
    assert archive.call("get", f"/documents/{filed['id']}").json["retention"]["retain_until"] == "2036-12-31"


def test_the_database_itself_refuses_to_shorten(archive):
    filed = archive.file("inv", document_date="2024-03-01")
    with pytest.raises(DBAPIError, match="only grows"):
        with archive.runtime.transaction() as session:
            session.execute(update(Document).where(Document.id == filed["id"]).values(retain_until=date(2026, 1, 1)))
    with pytest.raises(DBAPIError, match="only grows"):
        with archive.runtime.transaction() as session:
            session.execute(update(Document).where(Document.id == filed["id"]).values(retain_until=None))


def test_the_cli_records_events_recomputes_and_lists_what_is_due(cli, client, auth):
    from tests.fixtures.samples import metadata, pdf_bytes, upload
    filed = upload(client, auth, pdf_bytes("oc"), metadata(doc_type="order_confirmation")).json
    closed = cli("retention", "event", "closed", "--order", "C-1042/PO-4711", "--date", "2025-01-05")
    assert closed.exit_code == 0, closed.output
    assert json.loads(closed.stdout)["recomputed"] == 1
    again = cli("retention", "event", "closed", "--order", "C-1042/PO-4711")
    assert again.exit_code == 1 and "order_closed" in again.stderr
    shown = json.loads(cli("show", filed["id"]).stdout)
    assert shown["retention"]["retain_until"] == "2035-12-31"
    schedule = json.loads(cli("retention", "schedule").stdout)
    assert schedule["name"] == "eu-default" and schedule["recorded_now"] is True
    assert json.loads(cli("retention", "recompute").stdout)["refused"] == 0
    assert json.loads(cli("retention", "due").stdout)["items"] == []


def test_a_correction_that_would_shorten_retention_is_refused(archive):
    filed = archive.file("inv", document_date="2024-03-01")
    corrected = archive.call("patch", f"/documents/{filed['id']}", "sam", json={"document_date": "2020-01-01"})
    assert corrected.status_code == 200 and corrected.json["document_date"] == "2020-01-01"
    assert corrected.json["retention"]["retain_until"] == "2034-12-31"
    later = archive.call("patch", f"/documents/{filed['id']}", "sam", json={"document_date": "2026-01-01"})
    assert later.json["retention"]["retain_until"] == "2036-12-31"
    with archive.runtime.reading() as session:
        actions = session.scalars(select(AuditEvent.action).where(AuditEvent.subject == f"document:{filed['id']}")
                                  .where(AuditEvent.action.like("retention.%")).order_by(AuditEvent.seq)).all()
    assert actions == ["retention.shortening_refused", "retention.recomputed"]

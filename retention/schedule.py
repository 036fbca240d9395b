"""The retention schedule: reviewed configuration in config/retention/<name>.toml, loaded and validated here.

A schedule is a table of classes. A class is chosen by a document's type (and, more specifically, its customer);
it says on what legal basis, for how long after which trigger, rounded how, and what happens at expiry. Computing
the date is pure (`compute`); which trigger dates are known comes from retention.policies.
"""
from __future__ import annotations

import calendar
import hashlib
import tomllib
from dataclasses import asdict, dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any

from archive.errors import ArchiveError
from audit.log import canonical_json

SCHEDULE_DIR = Path(__file__).resolve().parent.parent / "config" / "retention"
BUILTIN_TRIGGERS = ("document_date", "fiscal_year_end", "order_closed", "contract_ended")
ROUNDINGS = ("none", "end_of_year", "end_of_month")
ACTIONS = ("destroy", "review", "keep")
CLASS_KEYS = {"doc_types", "customers", "legal_basis", "period", "trigger", "rounding", "action"}


class ScheduleError(ArchiveError):
    status = 500
    code = "invalid_retention_schedule"


@dataclass(frozen=True)
class Period:
    years: int = 0
    months: int = 0
    days: int = 0

    def text(self) -> str:
        parts = [f"{n} {unit}{'s' if n != 1 else ''}" for n, unit in
                 ((self.years, "year"), (self.months, "month"), (self.days, "day")) if n]
        return " ".join(parts) or "no period"


@dataclass(frozen=True)
class RetentionClass:
    key: str
    doc_types: tuple[str, ...]
    customers: tuple[str, ...]
    legal_basis: str
    period: Period
    trigger: str  # one of BUILTIN_TRIGGERS, or "event:<name>" for a custom event
    rounding: str
    action: str

    @property
    def event_name(self) -> str | None:
        """The recorded event this class waits for, or None when the document's own date starts it."""
        if self.trigger in ("order_closed", "contract_ended"):
            return self.trigger
        return self.trigger.removeprefix("event:") if self.trigger.startswith("event:") else None


@dataclass(frozen=True)
class Schedule:
    name: str
    title: str
    fiscal_year_end: tuple[int, int]
    classes: dict[str, RetentionClass]
    content_hash: str

    def class_for(self, doc_type: str, customer_number: str | None) -> RetentionClass | None:
        """A class naming the customer wins over one for every customer."""
        general = None
        for retention_class in self.classes.values():
            if doc_type not in retention_class.doc_types:
                continue
            if not retention_class.customers:
                general = general or retention_class
            elif customer_number in retention_class.customers:
                return retention_class
        return general

    def keys_with_action(self, action: str) -> list[str]:
        return [key for key, c in self.classes.items() if c.action == action]

    def table(self) -> dict[str, Any]:
        return {key: {**asdict(c), "doc_types": list(c.doc_types), "customers": list(c.customers)}
                for key, c in self.classes.items()}


def schedule_path(setting: str) -> Path:
    """`ARCHIVE_RETENTION_SCHEDULE` names a shipped schedule (`fr`, `de`, `eu-default`) or a .toml path."""
    if setting.endswith(".toml") or "/" in setting:
        return Path(setting)
    return SCHEDULE_DIR / f"{setting}.toml"


def load_schedule(setting: str) -> Schedule:
    path = schedule_path(setting)
    try:
        stat = path.stat()
    except OSError as exc:
        known = ", ".join(sorted(p.stem for p in SCHEDULE_DIR.glob("*.toml")))
        raise ScheduleError(f"retention schedule {setting!r}: cannot read {path} ({exc.strerror}); "
                            f"shipped schedules: {known}") from None
    return _load(path, stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=16)
def _load(path: Path, _mtime_ns: int, _size: int) -> Schedule:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ScheduleError(f"retention schedule {path}: not valid TOML: {exc}") from None
    return parse_schedule(data, str(path))


def parse_schedule(data: dict[str, Any], where: str = "schedule") -> Schedule:
    unknown = sorted(set(data) - {"name", "title", "fiscal_year_end", "classes"})
    if unknown:
        raise ScheduleError(f"{where}: unknown keys {', '.join(unknown)}")
    classes = data.get("classes")
    if not isinstance(classes, dict) or not classes:
        raise ScheduleError(f"{where}: at least one [classes.<key>] table is required")
    parsed = {key: _parse_class(key, value, where) for key, value in classes.items()}
    _refuse_ambiguity(parsed, where)
    name = _text(data, "name", where)
    return Schedule(name=name, title=str(data.get("title", name)),
                    fiscal_year_end=_month_day(data.get("fiscal_year_end", "12-31"), where),
                    classes=parsed, content_hash="sha256:" + hashlib.sha256(canonical_json(data)).hexdigest())


def _parse_class(key: str, value: Any, where: str) -> RetentionClass:
    at = f"{where}: classes.{key}"
    if not isinstance(value, dict):
        raise ScheduleError(f"{at}: must be a table")
    unknown = sorted(set(value) - CLASS_KEYS)
    if unknown:
        raise ScheduleError(f"{at}: unknown keys {', '.join(unknown)}")
    trigger = _text(value, "trigger", at)
    if trigger not in BUILTIN_TRIGGERS and not (trigger.startswith("event:") and len(trigger) > 6):
        raise ScheduleError(f"{at}: unknown trigger {trigger!r}; use one of {', '.join(BUILTIN_TRIGGERS)} "
                            "or event:<name>")
    rounding, action = value.get("rounding", "none"), _text(value, "action", at)
    if rounding not in ROUNDINGS:
        raise ScheduleError(f"{at}: rounding must be one of {', '.join(ROUNDINGS)}, not {rounding!r}")
    if action not in ACTIONS:
        raise ScheduleError(f"{at}: action must be one of {', '.join(ACTIONS)}, not {action!r}")
    return RetentionClass(key=key, doc_types=_strings(value, "doc_types", at),
                          customers=_strings(value, "customers", at, required=False),
                          legal_basis=_text(value, "legal_basis", at), period=_period(value.get("period"), at),
                          trigger=trigger, rounding=rounding, action=action)


def _refuse_ambiguity(classes: dict[str, RetentionClass], where: str) -> None:
    seen: dict[tuple[str, str | None], str] = {}
    for c in classes.values():
        for doc_type in c.doc_types:
            for customer in c.customers or (None,):
                other = seen.setdefault((doc_type, customer), c.key)
                if other != c.key:
                    raise ScheduleError(f"{where}: doc_type {doc_type!r}"
                                        f"{f' for customer {customer!r}' if customer else ''} is in both "
                                        f"classes.{other} and classes.{c.key}")


def _period(value: Any, at: str) -> Period:
    if not isinstance(value, dict) or set(value) - {"years", "months", "days"}:
        raise ScheduleError(f"{at}: period must be a table of years, months and days")
    if not all(isinstance(n, int) and not isinstance(n, bool) and 0 <= n <= 1000 for n in value.values()):
        raise ScheduleError(f"{at}: period values must be whole numbers from 0 to 1000")
    return Period(**value)


def _text(table: dict[str, Any], name: str, at: str) -> str:
    value = table.get(name)
    if not isinstance(value, str) or not value.strip():
        raise ScheduleError(f"{at}: `{name}` is required (text)")
    return value


def _strings(table: dict[str, Any], name: str, at: str, required: bool = True) -> tuple[str, ...]:
    value = table.get(name, [] if not required else None)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ScheduleError(f"{at}: `{name}` must be a list of strings")
    return tuple(value)


def _month_day(value: Any, where: str) -> tuple[int, int]:
    try:
        month, day = (int(part) for part in str(value).split("-"))
        date(2001, month, day)  # not a leap year: 02-29 is refused
        return month, day
    except ValueError:
        raise ScheduleError(f"{where}: fiscal_year_end must be MM-DD, not {value!r}") from None


# --- computing dates -----------------------------------------------------------------------------------------------

def fiscal_year_end(day: date, month_day: tuple[int, int]) -> date:
    """The end of the fiscal year that contains `day`."""
    end = date(day.year, *month_day)
    return end if day <= end else date(day.year + 1, *month_day)


def add_period(start: date, period: Period) -> date:
    months = start.month - 1 + period.months + 12 * period.years
    year, month = start.year + months // 12, months % 12 + 1
    day = min(start.day, calendar.monthrange(year, month)[1])
    return date.fromordinal(date(year, month, day).toordinal() + period.days)


def apply_rounding(day: date, rounding: str) -> date:
    if rounding == "end_of_year":
        return date(day.year, 12, 31)
    if rounding == "end_of_month":
        return date(day.year, day.month, calendar.monthrange(day.year, day.month)[1])
    return day


def compute(schedule: Schedule, retention_class: RetentionClass, start: date) -> date:
    """The last day to keep a document whose trigger happened on `start`."""
    if retention_class.trigger == "fiscal_year_end":
        start = fiscal_year_end(start, schedule.fiscal_year_end)
    return apply_rounding(add_period(start, retention_class.period), retention_class.rounding)

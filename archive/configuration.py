"""Configuration changes are audited: at start-up the settings in force are compared with the last recorded ones."""
from __future__ import annotations

import dataclasses
import json
from typing import Any

from sqlalchemy import select

from archive.models import AuditEvent
from archive.runtime import Runtime
from audit.log import Actor, append

SECRET_SETTINGS = {"master_key", "secret_key"}
ACTIONS = ("config.initialised", "config.changed")


def visible_settings(rt: Runtime) -> dict[str, Any]:
    values = dataclasses.asdict(rt.settings)
    return {k: str(v) for k, v in sorted(values.items()) if k not in SECRET_SETTINGS}


def record_configuration(rt: Runtime, actor: Actor) -> str | None:
    """Appends config.initialised or config.changed (with old and new values); None when nothing changed."""
    current = visible_settings(rt)
    with rt.transaction() as session:
        last = session.scalar(select(AuditEvent.details_json).where(AuditEvent.action.in_(ACTIONS))
                              .order_by(AuditEvent.seq.desc()).limit(1))
        previous = json.loads(last)["settings"] if last else None
        if previous == current:
            return None
        changes = {k: {"old": (previous or {}).get(k), "new": current.get(k)}
                   for k in sorted(set(current) | set(previous or {}))
                   if (previous or {}).get(k) != current.get(k)} if previous else None
        action = "config.changed" if previous else "config.initialised"
        append(session, rt.clock, actor, action, "configuration", {"settings": current, "changes": changes})
        return action

"""Access to the runtime wired into the app by create_app."""
from __future__ import annotations

from flask import current_app, g

from archive.runtime import Runtime
from audit.log import Actor


def runtime() -> Runtime:
    return current_app.extensions["archive"]


def actor() -> Actor:
    return g.actor

"""The web UI: server-rendered pages for staff, records managers, auditors and administrators.

Pages call the same service functions as the API; handlers stay thin. Sessions, CSRF, roles and headers are in
web/ui/guard.py; each page module adds its routes to the one `ui` blueprint.
"""
from __future__ import annotations

from pathlib import Path

from flask import Flask, g, request
from flask_babel import Babel

from archive.sessions import LANGUAGES
from config.settings import Settings

TRANSLATIONS = Path(__file__).parent / "translations"


def register_ui(app: Flask, settings: Settings) -> None:
    from web.ui import (pages_admin, pages_audit, pages_auth, pages_customers, pages_documents,  # noqa: F401
                        pages_home, pages_retention, pages_review, pages_search, pages_upload)
    from web.ui.guard import bp
    app.config.update(BABEL_TRANSLATION_DIRECTORIES=str(TRANSLATIONS), BABEL_DEFAULT_LOCALE="en",
                      UI_COOKIE_SECURE=settings.cookie_secure != "off")
    Babel(app, locale_selector=select_locale)
    app.register_blueprint(bp)


def select_locale() -> str:
    info = g.get("ui")
    if info is not None and info.language in LANGUAGES:
        return info.language
    return request.accept_languages.best_match(LANGUAGES) or "en"

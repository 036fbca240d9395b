"""The app factory: the web API and the CLI share it. Nothing is read or wired at import time."""
from __future__ import annotations

from flask import Flask

from archive.clock import Clock, system_clock
from archive.db import require_current_schema
from archive.runtime import Runtime
from config.backends import build_runtime, start_tasks
from config.settings import Settings, load_settings
from web.errors import register_error_handlers
from web.ui import register_ui
from web.uploads import ArchiveRequest, discard_spools

API_PREFIX = "/api/v1"
MULTIPART_OVERHEAD = 1024 * 1024


def create_app(settings: Settings | None = None, *, runtime: Runtime | None = None, clock: Clock = system_clock,
               check_schema: bool = True, start_worker: bool = False) -> Flask:
    settings = settings or (runtime.settings if runtime else load_settings())
    runtime = runtime or build_runtime(settings, clock)
    if check_schema:
        require_current_schema(runtime.engine)
    if start_worker:
        start_tasks(runtime)
    app = Flask(__name__)
    app.request_class = ArchiveRequest
    app.config.update(MAX_CONTENT_LENGTH=settings.max_upload_bytes + MULTIPART_OVERHEAD,
                      SECRET_KEY=settings.secret_key or None)
    app.json.sort_keys = False
    app.extensions["archive"] = runtime
    app.teardown_request(discard_spools)
    register_error_handlers(app)
    _register_api(app)
    register_ui(app, settings)
    app.after_request(_security_headers)
    return app


def _register_api(app: Flask) -> None:
    from web.api import audit, customers, documents, exports, openapi, retention, review, search
    for blueprint in (documents.bp, customers.bp, audit.bp, exports.bp, search.bp, retention.bp, review.bp,
                      openapi.bp):
        app.register_blueprint(blueprint, url_prefix=API_PREFIX)


def _security_headers(response):
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    return response

"""Evidence packages for auditors, built on request and streamed back as a signed zip."""
from __future__ import annotations

import tempfile
from pathlib import Path

from flask import Blueprint, Response, request

from archive.errors import InvalidInput
from audit.export import export_package
from web.auth import requires
from web.context import actor, runtime
from web.downloads import content_disposition

bp = Blueprint("exports", __name__)


@bp.post("/exports")
@requires("audit")
def create_export():
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InvalidInput("body: a JSON object is required", code="invalid_json", field="body")
    if not isinstance(body.get("customer"), str) or not body["customer"]:
        raise InvalidInput("customer: a customer number is required", code="missing_field", field="customer")
    order = body.get("order")
    if order is not None and (not isinstance(order, str) or not order):
        raise InvalidInput("order: must be an order number", code="invalid_metadata", field="order")
    unknown = sorted(set(body) - {"customer", "order"})
    if unknown:
        raise InvalidInput(f"{unknown[0]}: unknown field", code="unknown_field", field=unknown[0])
    rt = runtime()
    with tempfile.TemporaryDirectory(dir=rt.blobs.spool_dir()) as workdir:
        path = Path(workdir) / "package.zip"
        summary = export_package(rt, actor(), path, body["customer"], order)
        data = path.read_bytes()
    name = f"evidence-{body['customer']}{'-' + order if order else ''}.zip"
    response = Response(data, mimetype="application/zip")
    response.headers["Content-Disposition"] = content_disposition(name, "evidence", "application/zip")
    response.headers["X-Package-SHA256"] = summary["package_sha256"]
    return response

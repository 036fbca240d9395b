"""Evidence packages for auditors, built on request and streamed back as a signed zip."""
from __future__ import annotations

from flask import Blueprint, request

from archive.errors import InvalidInput
from web.auth import requires
from web.downloads import evidence_package_response

bp = Blueprint("exports", __name__)


@bp.post("/exports")
@requires("audit")
def create_export():
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InvalidInput("body: a JSON object is required", code="invalid_json", field="body")
    unknown = sorted(set(body) - {"customer", "order", "query"})
    if unknown:
        raise InvalidInput(f"{unknown[0]}: unknown field", code="unknown_field", field=unknown[0])
    if body.get("customer") is None and body.get("query") is None:
        raise InvalidInput("customer: a customer number (or a query) is required", code="missing_field",
                           field="customer")
    customer, order, query = (_text(body, name) for name in ("customer", "order", "query"))
    return evidence_package_response(customer, order, query)


def _text(body: dict, name: str) -> str | None:
    value = body.get(name)
    if value is not None and (not isinstance(value, str) or not value):
        raise InvalidInput(f"{name}: must be a non-empty string", code="invalid_metadata", field=name)
    return value

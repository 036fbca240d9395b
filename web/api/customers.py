"""Customers and order dossiers."""
from __future__ import annotations

from flask import Blueprint, request

from datetime import date

from archive import customers, dossiers
from archive.errors import InvalidInput
from retention.events import close_order
from web.auth import requires
from web.context import actor, runtime
from web.params import limit_param

bp = Blueprint("customers", __name__)


@bp.get("/customers")
@requires("read")
def list_customers():
    rt = runtime()
    with rt.transaction() as session:
        return customers.list_customers(session, rt.clock, actor(), request.args.get("cursor") or None,
                                        limit_param())


@bp.get("/customers/<number>")
@requires("read")
def show(number: str):
    rt = runtime()
    with rt.transaction() as session:
        return customers.view_customer(session, rt.clock, actor(), number)


@bp.get("/customers/<number>/orders/<order_number>")
@requires("read")
def dossier(number: str, order_number: str):
    rt = runtime()
    with rt.transaction() as session:
        return dossiers.view_dossier(session, rt.clock, actor(), number, order_number)


@bp.post("/customers/<number>/orders/<order_number>/close")
@requires("file")
def close(number: str, order_number: str):
    """Closing an order starts the retention periods that wait for it (trigger `order_closed`)."""
    body = request.get_json(silent=True) if request.get_data() else {}
    if not isinstance(body, dict) or not isinstance(body.get("closed_on", ""), str):
        raise InvalidInput("body: {\"closed_on\": \"YYYY-MM-DD\"} or nothing", code="invalid_json", field="body")
    try:
        closed_on = date.fromisoformat(body["closed_on"]) if body.get("closed_on") else None
    except ValueError:
        raise InvalidInput("closed_on: YYYY-MM-DD", code="invalid_parameter", field="closed_on") from None
    return close_order(runtime(), actor(), number, order_number, closed_on)

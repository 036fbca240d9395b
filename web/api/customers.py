"""Customers and order dossiers."""
from __future__ import annotations

from flask import Blueprint, request

from archive import customers, dossiers
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

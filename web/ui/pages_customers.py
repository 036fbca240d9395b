"""Customers, their orders, and the order dossier with its evidence package."""
from __future__ import annotations

from flask import render_template, request

from archive import customers, dossiers, overview
from web.context import actor, runtime
from web.downloads import evidence_package_response
from web.params import limit_param
from web.ui.guard import bp, page

DELIVERY_TYPES = ("delivery_note", "shipping_document")


@bp.get("/customers", endpoint="customers")
@page()
def customers_list():
    rt = runtime()
    with rt.transaction() as session:
        listing = customers.list_customers(session, rt.clock, actor(), request.args.get("cursor") or None,
                                           limit_param())
    return render_template("customers.html", listing=listing)


@bp.get("/customers/<number>")
@page()
def customer(number: str):
    rt = runtime()
    with rt.transaction() as session:
        view = customers.view_customer(session, rt.clock, actor(), number)
        completeness = overview.order_completeness(session, number)
    return render_template("customer.html", customer=view, completeness=completeness, stages=dossiers.STAGES)


@bp.get("/customers/<number>/orders/<order_number>")
@page()
def dossier(number: str, order_number: str):
    rt = runtime()
    with rt.transaction() as session:
        view = dossiers.view_dossier(session, rt.clock, actor(), number, order_number)
        ids = [card["id"] for stage in view["stages"] for card in stage["documents"]]
        details = overview.card_details(session, ids)
    delivered = sum(1 for stage in view["stages"] for card in stage["documents"]
                    if card["doc_type"] in DELIVERY_TYPES)
    return render_template("dossier.html", dossier=view, details=details, delivered=delivered)


@bp.get("/customers/<number>/orders/<order_number>/evidence.zip")
@page(scope="audit")
def dossier_export(number: str, order_number: str):
    return evidence_package_response(number, order_number, None)


@bp.get("/customers/<number>/evidence.zip")
@page(scope="audit")
def customer_export(number: str):
    return evidence_package_response(number, None, None)

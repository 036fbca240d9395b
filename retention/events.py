"""Trigger events from outside: an order closed, a contract ended, or a custom event named by the schedule."""
from __future__ import annotations

from datetime import date
from typing import Any

from archive.customers import find_customer, find_order
from archive.errors import Conflict, InvalidInput, NotFound
from archive.models import Document
from archive.runtime import Runtime
from audit.log import Actor
from retention.policies import record_event

ALIASES = {"closed": "order_closed", "order_closed": "order_closed", "contract_ended": "contract_ended",
           "ended": "contract_ended"}


def close_order(rt: Runtime, actor: Actor, customer_number: str, order_number: str,
                closed_on: date | None = None) -> dict[str, Any]:
    with rt.reading() as session:
        customer = find_customer(session, customer_number)
        order = find_order(session, customer, order_number)
    if order.status == "closed":
        raise Conflict(f"order {customer_number}/{order_number} is closed already", code="order_closed")
    return {"customer": customer.number, "order": order.number,
            **record_event(rt, actor, "order_closed", customer, order, occurred_on=_not_future(rt, closed_on))}


def record_named(rt: Runtime, actor: Actor, name: str, order_ref: str | None = None, customer_number: str | None = None,
                 document_id: str | None = None, occurred_on: date | None = None) -> dict[str, Any]:
    """`archive retention event closed --order C/O`, `... contract_ended --document ID`, `... my_event --customer C`."""
    event = ALIASES.get(name, name)
    if not event.replace("_", "").isalnum() or len(event) > 64:
        raise InvalidInput(f"event name {name!r}: letters, digits and underscores", code="invalid_event")
    if event == "order_closed":
        if not order_ref or "/" not in order_ref:
            raise InvalidInput("closing an order needs --order CUSTOMER/ORDER", code="missing_parameter")
        customer_number, _, order_number = order_ref.partition("/")
        return close_order(rt, actor, customer_number, order_number, occurred_on)
    with rt.reading() as session:
        document = session.get(Document, document_id) if document_id else None
        if document_id and document is None:
            raise NotFound(f"no document {document_id}", code="document_not_found")
        if document is not None:
            customer, order = document.customer, None
        else:
            number = order_ref.partition("/")[0] if order_ref else customer_number
            if not number:
                raise InvalidInput("name what the event is about: --document, --order or --customer",
                                   code="missing_parameter")
            customer = find_customer(session, number)
            order = find_order(session, customer, order_ref.partition("/")[2]) if order_ref else None
    return record_event(rt, actor, event, customer, order, document, _not_future(rt, occurred_on))


def _not_future(rt: Runtime, day: date | None) -> date:
    today = rt.clock().date()
    if day is not None and day > today:
        raise InvalidInput(f"an event date cannot be in the future ({day.isoformat()})", code="invalid_parameter")
    return day or today

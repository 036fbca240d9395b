"""Customers and their orders: found by number, created on first mention, listed for the API."""
from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from archive.clock import Clock, isoformat
from archive.errors import NotFound
from archive.models import Customer, Document, Order
from audit.log import Actor, append


def get_or_create_customer(session: Session, clock: Clock, actor: Actor, number: str,
                           name: str | None = None) -> Customer:
    customer = session.scalar(select(Customer).where(Customer.number == number))
    if customer is None:
        customer = Customer(number=number, name=name, created_at=clock())
        session.add(customer)
        session.flush()
        append(session, clock, actor, "customer.created", f"customer:{number}", {"name": name})
    return customer


def get_or_create_order(session: Session, clock: Clock, actor: Actor, customer: Customer, number: str) -> Order:
    order = session.scalar(select(Order).where(Order.customer_id == customer.id, Order.number == number))
    if order is None:
        order = Order(customer_id=customer.id, number=number, status="open", created_at=clock())
        session.add(order)
        session.flush()
        append(session, clock, actor, "order.created", order_subject(customer.number, number))
    return order


# Built once: every filing runs these, and a statement built anew is keyed for the compiled cache anew.
_CUSTOMER_ID = select(Customer.id).where(Customer.number == bindparam("number"))
_ORDER_ID = select(Order.id).where(Order.customer_id == bindparam("customer_id"), Order.number == bindparam("number"))


def customer_id_for(session: Session, clock: Clock, actor: Actor, number: str, name: str | None = None) -> str:
    """get_or_create_customer for the filing path: the id only, without loading the row into the session."""
    found = session.connection().execute(_CUSTOMER_ID, {"number": number}).scalar()
    return found if found is not None else get_or_create_customer(session, clock, actor, number, name).id


def order_id_for(session: Session, clock: Clock, actor: Actor, customer_id: str, number: str) -> str:
    """get_or_create_order for the filing path: the id only, without loading the row into the session."""
    found = session.connection().execute(_ORDER_ID, {"customer_id": customer_id, "number": number}).scalar()
    if found is not None:
        return found
    return get_or_create_order(session, clock, actor, session.get(Customer, customer_id), number).id


def order_subject(customer_number: str, order_number: str) -> str:
    return f"order:{customer_number}/{order_number}"


def find_customer(session: Session, number: str) -> Customer:
    customer = session.scalar(select(Customer).where(Customer.number == number))
    if customer is None:
        raise NotFound(f"no customer {number!r}", code="customer_not_found")
    return customer


def list_customers(session: Session, clock: Clock, actor: Actor, after: str | None,
                   limit: int) -> dict[str, Any]:
    query = select(Customer).order_by(Customer.number).limit(limit + 1)
    if after:
        query = query.where(Customer.number > after)
    rows = session.scalars(query).all()
    page, more = rows[:limit], len(rows) > limit
    append(session, clock, actor, "customer.listed", None, {"after": after, "count": len(page)})
    return {"items": [customer_summary(c) for c in page], "next_cursor": page[-1].number if more else None}


def view_customer(session: Session, clock: Clock, actor: Actor, number: str) -> dict[str, Any]:
    customer = find_customer(session, number)
    counts = dict(session.execute(select(Document.order_id, func.count()).where(Document.customer_id == customer.id)
                                  .group_by(Document.order_id)).all())
    append(session, clock, actor, "customer.viewed", f"customer:{number}")
    return {**customer_summary(customer),
            "orders": [{"number": o.number, "status": o.status, "order_date": _date(o.order_date),
                        "created_at": isoformat(o.created_at), "documents": counts.get(o.id, 0)}
                       for o in customer.orders],
            "documents_without_order": counts.get(None, 0)}


def customer_summary(customer: Customer) -> dict[str, Any]:
    return {"number": customer.number, "name": customer.name, "vat_id": customer.vat_id,
            "created_at": isoformat(customer.created_at)}


def _date(value: Any) -> str | None:
    return value.isoformat() if value else None


def find_order(session: Session, customer: Customer, number: str) -> Order:
    order = session.scalar(select(Order).where(Order.customer_id == customer.id, Order.number == number))
    if order is None:
        raise NotFound(f"customer {customer.number} has no order {number!r}", code="order_not_found")
    return order

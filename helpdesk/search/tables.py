"""The searched tables, by document type: each has a weighted `search_vector` kept by triggers
(migrations search and store_order_search) and a GIN index on it."""

from __future__ import annotations

from sqlalchemy import Table

from helpdesk.customers.models import Customer
from helpdesk.tickets.models import Message, Ticket
from storefront.models import Order, OrderLine

tickets: Table = Ticket.__table__  # type: ignore[assignment]
messages: Table = Message.__table__  # type: ignore[assignment]
customers: Table = Customer.__table__  # type: ignore[assignment]
orders: Table = Order.__table__  # type: ignore[assignment]
order_lines: Table = OrderLine.__table__  # type: ignore[assignment]
TABLES = {"tickets": tickets, "messages": messages, "customers": customers, "orders": orders}

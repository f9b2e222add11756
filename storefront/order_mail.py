"""Order mail to the customer through the Outbox (queued in the order's transaction, sent by
the `mail` job). The subject carries the order number ("Order #1042 confirmed") and the Outbox
row keeps the mail's Message-ID, so a reply (In-Reply-To, or the number in its subject) can be
tied back to the order."""

from __future__ import annotations

from helpdesk.customers.models import Customer
from helpdesk.extensions import db
from helpdesk.mail import outbound, tokens
from helpdesk.mail.models import Outbox, OutboxKind
from helpdesk.orgs.models import Organization
from storefront import order_events, orders
from storefront.models import Order, PaymentMethod
from storefront.money import format_money
from storefront.ticket_links import help_url

DELIVERY_LABELS = {"standard": "Standard delivery", "pickup": "Local pickup"}


def confirmation_subject(order: Order) -> str:
    return f"Order #{order.number} confirmed"


def confirmation_text(order: Order, org: Organization, customer_name: str) -> str:
    money = lambda amount: format_money(amount, order.currency)  # noqa: E731
    lines = []
    for line in orders.lines_of(order):
        options = ", ".join(f"{k}: {v}" for k, v in (line.options or {}).items())
        extra = ", ".join(f"{k}: {v}" for k, v in (line.personalization or {}).items())
        detail = "; ".join(part for part in (options, extra) if part)
        detail = f" ({detail})" if detail else ""
        amount = money(line.unit_price * line.quantity)
        lines.append(f"  {line.quantity} x {line.product_name}{detail}  {amount}")
    address = order.shipping_address or {}
    where = ", ".join(address[k] for k in ("name", "line1", "line2", "postal_code", "city",
                                           "country") if address.get(k))
    if order.payment_method is PaymentMethod.CASH_ON_DELIVERY:
        payment = f"Cash on delivery: please have {money(order.total)} ready."
    else:
        payment = "Paid by card."
    return "\n".join([
        f"Hello {customer_name or order.email},",
        "",
        f"thank you for your order #{order.number} at {org.name}.",
        "",
        *lines,
        "",
        f"  Subtotal  {money(order.subtotal)}",
        f"  Delivery  {money(order.shipping)}"
        f" ({DELIVERY_LABELS.get(order.delivery_option, order.delivery_option)})",
        f"  Total     {money(order.total)}",
        "",
        payment,
        f"Delivery to: {where}" if where else "",
        "",
        "Questions? Reply to this mail and keep the order number in the subject,",
        f"or get help here: {help_url(order, external=True)}",
        "",
        org.name,
    ])


def queue_confirmation(order: Order) -> Outbox | None:
    """Queue "Order #n confirmed" to the buyer (not to a blocked or bounced address)."""
    customer = db.session.get(Customer, order.customer_id)
    if customer is None or customer.is_blocked or customer.undeliverable_at is not None:
        return None
    org = db.session.get(Organization, order.org_id)
    mailbox = outbound.mailbox_for(None)
    sender, sender_address = outbound._sender(org, mailbox)  # noqa: SLF001 - the one way to it
    mail = outbound.build(sender=sender, sender_address=sender_address,
                          to=outbound.address(customer.name, order.email),
                          subject=confirmation_subject(order),
                          text=confirmation_text(order, org, customer.name),
                          loop=tokens.loop_value(org.id))
    mail["Auto-Submitted"] = "auto-generated"  # no vacation replies to it
    row = outbound._queue(mail, kind=OutboxKind.ORDER, org_id=order.org_id,  # noqa: SLF001
                          recipient=order.email, ticket=None, message_row=None, mailbox=mailbox,
                          automatic=False)
    order_events.confirmation_queued(order, row.id)
    return row

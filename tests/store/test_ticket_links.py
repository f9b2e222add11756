"""Tickets and orders: order numbers found in text, linking (only the ticket customer's own
orders, both timelines), the ticket page's orders sidebar, "Get help with this order" from
the shop, the order number in mail through the real pipeline, POST /api/v1/tickets with
order_id, the API's customer resource and the desk's customer timeline."""

from __future__ import annotations

import email
import re

import pytest
from sqlalchemy import select

from helpdesk.core.exceptions import NotFound, ValidationFailed
from helpdesk.mail.models import Outbox
from helpdesk.tickets.models import Channel, Ticket, TicketEvent
from storefront import orders, ticket_links
from storefront.models import Order, OrderEvent
from tests.mail.conftest import make_mail


@pytest.fixture
def shop(staff_shop):
    return staff_shop()


def ticket_state(in_org, org_id: int, number: int):
    with in_org(org_id) as session:
        ticket = session.scalar(select(Ticket).where(Ticket.number == number))
        events = session.scalars(select(TicketEvent).where(
            TicketEvent.ticket_id == ticket.id, TicketEvent.kind == "order_linked")).all()
        return ticket.order_id, [e.data for e in events], ticket.channel


# Finding order numbers -----------------------------------------------------------------------

@pytest.mark.parametrize(("text", "number"), [
    ("Where is order #1042?", 1042),
    ("Re: Order #1042 confirmed", 1042),
    ("Order 1042 arrived broken", 1042),
    ("my order no. 1043 and order 1042", 1043),
    ("Order number: 1044", 1044),
    ("ORDER#1045", 1045),
    ("I ordered 3 mugs", None),
    ("ticket #1042", None),
    ("", None),
    (None, None),
])
def test_find_order_reference(text, number):
    assert ticket_links.find_order_reference(text) == number


# Linking -------------------------------------------------------------------------------------

def test_linking_writes_both_timelines_and_refuses_another_customers_order(
        shop, cash_order, make_ticket, in_org):
    mine = cash_order(shop, email="bea@example.com")
    theirs = cash_order(shop, email="zed@example.com")
    ticket = make_ticket(shop.org, customer_email="bea@example.com")
    with in_org(shop.id, shop.agent.id):
        t = orders.db.session.get(Ticket, ticket.id)
        assert ticket_links.link_ticket_to_order(t, orders.get_order(mine.id), shop.agent.id)
        assert not ticket_links.link_ticket_to_order(t, orders.get_order(mine.id), None)
        with pytest.raises(ValidationFailed) as refused:
            ticket_links.link_ticket_to_order(t, orders.get_order(theirs.id), None)
        assert refused.value.fields == {"order_id": "not an order of this ticket's customer"}
    order_id, events, _ = ticket_state(in_org, shop.id, ticket.number)
    assert order_id == mine.id
    assert events == [{"order_id": mine.id, "number": mine.number, "previous_order_id": None}]
    with in_org(shop.id) as session:
        linked = session.scalars(select(OrderEvent).where(
            OrderEvent.order_id == mine.id, OrderEvent.kind == "ticket_linked")).all()
        assert [(e.data, e.actor_user_id) for e in linked] == [
            ({"ticket_id": ticket.id, "number": ticket.number}, shop.agent.id)]


def test_agents_link_from_the_order_page_and_the_thread_says_so(client, shop, cash_order,
                                                                make_ticket, login, in_org):
    order = cash_order(shop)
    other = cash_order(shop, email="zed@example.com")
    ticket = make_ticket(shop.org, customer_email=order.email)
    login(shop.agent.email)
    url = f"/{shop.slug}/desk/store/orders"
    response = client.post(f"{url}/{order.id}/link", data={"ticket": ticket.number})
    assert response.status_code == 303
    assert ticket_state(in_org, shop.id, ticket.number)[0] == order.id
    page = client.get(f"/{shop.slug}/desk/tickets/{ticket.number}").text
    assert f"linked this ticket to order #{order.number}" in page
    # Another customer's order is refused, saying so; a missing ticket is named.
    response = client.post(f"{url}/{other.id}/link", data={"ticket": ticket.number},
                           follow_redirects=True)
    assert "belongs to another customer" in response.text
    assert ticket_state(in_org, shop.id, ticket.number)[0] == order.id
    response = client.post(f"{url}/{order.id}/link", data={"ticket": "777"},
                           follow_redirects=True)
    assert "There is no ticket #777" in response.text


# The ticket page's sidebar --------------------------------------------------------------------

def test_the_ticket_sidebar_shows_the_linked_order_and_recent_ones(client, shop, cash_order,
                                                                   make_ticket, login, in_org,
                                                                   order_snapshot):
    older = cash_order(shop, mugs=1, caps=0)
    linked = cash_order(shop, mugs=2, caps=1, engraving="Happy birthday")
    cash_order(shop, email="zed@example.com")  # someone else's: never shown
    ticket = make_ticket(shop.org, customer_email="bea@example.com")
    with in_org(shop.id):
        ticket_links.link_ticket_to_order(orders.db.session.get(Ticket, ticket.id),
                                          orders.get_order(linked.id), None)
    login(shop.agent.email)
    page = client.get(f"/{shop.slug}/desk/tickets/{ticket.number}").text
    sidebar = page[page.index('data-testid="ticket-orders"'):]
    assert f"Order #{linked.number}" in sidebar and "Happy birthday" in sidebar
    assert f"#{older.number}" in sidebar and "Link to this ticket" in sidebar
    assert sidebar.count('data-testid="recent-orders"') == 1
    assert "zed@example.com" not in sidebar
    assert 'data-testid="resend-form"' not in sidebar  # agents do not act
    client.post("/logout")
    login(shop.manager.email)
    page = client.get(f"/{shop.slug}/desk/tickets/{ticket.number}").text
    assert 'data-testid="resend-form"' in page and 'data-testid="cancel-form"' in page
    # Cancel from the sidebar: back on the ticket, order cancelled, stock back.
    response = client.post(f"/{shop.slug}/desk/store/orders/{linked.id}/cancel",
                           data={"ticket": ticket.number, "reason": "asked by mail"})
    assert response.headers["Location"].endswith(
        f"/desk/tickets/{ticket.number}#store-orders")
    assert order_snapshot(shop, linked.id).status == "cancelled"


def test_a_customer_without_orders_has_no_orders_box(client, shop, make_ticket, login):
    ticket = make_ticket(shop.org, customer_email="new@example.com")
    login(shop.agent.email)
    page = client.get(f"/{shop.slug}/desk/tickets/{ticket.number}")
    assert page.status_code == 200 and 'data-testid="ticket-orders"' not in page.text


# "Get help with this order" from the shop ------------------------------------------------------

def _help_url(in_org, shop, order_id: int) -> str:
    with in_org(shop.id):
        return ticket_links.help_url(orders.get_order(order_id))


def test_get_help_opens_a_ticket_linked_to_the_order(client, shop, staff_shop, cash_order,
                                                     in_org):
    order = cash_order(shop)
    url = _help_url(in_org, shop, order.id)
    assert url.startswith(f"/{shop.slug}/shop/orders/{order.number}/help?t=")
    page = client.get(url)
    assert page.status_code == 200 and f"Get help with order #{order.number}" in page.text
    # Empty fields come back named, nothing is created.
    response = client.post(url, data={"subject": "", "body": " "})
    assert response.status_code == 422 and "Tell us what happened." in response.text
    response = client.post(url, data={"subject": "Mug arrived cracked",
                                      "body": "The handle is off."})
    assert response.status_code == 200
    number = int(re.search(r"ticket <strong>#(\d+)</strong>", response.text).group(1))
    order_id, events, channel = ticket_state(in_org, shop.id, number)
    assert order_id == order.id and channel is Channel.STORE and len(events) == 1
    with in_org(shop.id) as session:
        ticket = session.scalar(select(Ticket).where(Ticket.number == number))
        assert ticket.customer_id == order.customer_id
        assert ticket.subject == f"Mug arrived cracked (order #{order.number})"


def test_help_links_cannot_be_forged_or_moved(client, shop, staff_shop, cash_order, in_org):
    order = cash_order(shop)
    other = staff_shop()
    theirs = cash_order(other)
    url = _help_url(in_org, shop, order.id)
    token = url.split("t=", 1)[1]
    base = f"/{shop.slug}/shop/orders"
    assert client.get(f"{base}/{order.number}/help").status_code == 404
    assert client.get(f"{base}/{order.number}/help?t={token}x").status_code == 404
    assert client.get(f"{base}/{order.number + 1}/help?t={token}").status_code == 404
    # Another shop's valid link does not open in this shop (nor this one's in theirs).
    their_token = _help_url(in_org, other, theirs.id).split("t=", 1)[1]
    assert client.get(f"{base}/{theirs.number}/help?t={their_token}").status_code == 404
    assert client.get(f"/{other.slug}/shop/orders/{order.number}/help?t={token}"
                      ).status_code == 404
    with pytest.raises(NotFound), in_org(shop.id):
        ticket_links.order_from_help_token("garbage", shop.id)


def test_help_is_limited_per_order(client, shop, cash_order, in_org):
    from storefront.views_order_help import TICKETS_PER_HOUR

    order = cash_order(shop)
    url = _help_url(in_org, shop, order.id)
    form = {"subject": "Again", "body": "Hello?"}
    for _ in range(TICKETS_PER_HOUR):
        assert client.post(url, data=form).status_code == 200
    response = client.post(url, data=form)
    assert response.status_code == 429 and "Please wait" in response.text
    with in_org(shop.id) as session:
        assert len(session.scalars(select(Ticket).where(Ticket.order_id == order.id)).all()) \
            == TICKETS_PER_HOUR


def test_the_confirmation_and_the_order_placed_page_carry_the_help_link(
        client, shop, in_org, make_product):
    response = client.post(f"/{shop.slug}/shop/cart/add",
                           data={"variant_id": shop.cap.variant_id, "quantity": "1"})
    assert response.status_code == 303
    form = {"email": "cy@example.com", "name": "Cy", "line1": "1 Main St",
            "postal_code": "1000", "city": "Ghent", "country": "BE",
            "delivery_option": "standard", "payment": "cash_on_delivery"}
    page = client.get(f"/{shop.slug}/shop/checkout").text
    for name in ("idempotency_key", "expected_subtotal"):
        form[name] = re.search(rf'name="{name}"[^>]*value="([^"]*)"', page).group(1)
    response = client.post(f"/{shop.slug}/shop/checkout", data=form)
    assert response.status_code == 303, response.text
    placed = client.get(response.headers["Location"]).text
    link = re.search(r'href="([^"]+)" data-testid="order-help-link"', placed).group(1)
    assert client.get(link.replace("&amp;", "&")).status_code == 200
    with in_org(shop.id) as session:
        order = session.scalar(select(Order).where(Order.email == "cy@example.com"))
        raw = session.scalar(select(Outbox.raw).where(Outbox.recipient == "cy@example.com"))
        text = email.message_from_bytes(raw).get_payload(decode=True).decode()
        assert f"get help here: {ticket_links.help_url(order, external=True)}" in text


# The order number in mail (the real pipeline) -------------------------------------------------

def test_mail_naming_the_senders_order_links_the_new_ticket(mail_org, deliver, cash_order,
                                                            make_product, make_member, in_org):
    org = mail_org()
    from types import SimpleNamespace

    shop = SimpleNamespace(org=org, id=org.id, slug=org.slug,
                           mug=make_product(org, price=1250, stock=10),
                           cap=make_product(org, price=800, stock=10))
    mine = cash_order(shop, email="casey@example.com", engraving="")
    theirs = cash_order(shop, email="zed@example.com", engraving="")
    rows = deliver(org,
                   make_mail(subject=f"Re: Order #{mine.number} confirmed", body="Thanks!"),
                   make_mail(subject="Broken handle", body=f"About order {theirs.number}: "
                                                           "it broke."),
                   make_mail(sender="Zed <zed@example.com>", subject="Question",
                             body=f"Where is my order #{theirs.number}?"),
                   make_mail(subject="Hello", body="No order mentioned."))
    assert [r["outcome"] for r in rows] == ["new_ticket"] * 4
    with in_org(org.id) as session:
        linked = {t.id: t.order_id for t in session.scalars(
            select(Ticket).where(Ticket.id.in_([r["ticket_id"] for r in rows])))}
    assert [linked[r["ticket_id"]] for r in rows] == [mine.id, None, theirs.id, None]


def test_mail_on_the_one_mail_path_links_too(mail_org, deliver, cash_order, make_product,
                                            in_org, monkeypatch):
    from types import SimpleNamespace

    from helpdesk.mail import ingest

    def bulk_fails(*args, **kwargs):
        raise RuntimeError("bulk path down")

    monkeypatch.setattr(ingest, "run", bulk_fails)  # every mail goes the one-mail way
    org = mail_org()
    shop = SimpleNamespace(org=org, id=org.id, slug=org.slug,
                           mug=make_product(org, price=1250, stock=10),
                           cap=make_product(org, price=800, stock=10))
    mine = cash_order(shop, email="casey@example.com", engraving="")
    rows = deliver(org, make_mail(subject=f"order #{mine.number}", body="Late."),
                   make_mail(sender="Zed <zed@example.com>", subject=f"order #{mine.number}"))
    assert [r["outcome"] for r in rows] == ["new_ticket", "new_ticket"]
    with in_org(org.id) as session:
        assert [session.get(Ticket, r["ticket_id"]).order_id for r in rows] == [mine.id, None]


# The API ---------------------------------------------------------------------------------------

def test_api_create_with_order_id(client, shop, staff_shop, cash_order, make_token, in_org):
    headers = {"Authorization": f"Bearer {make_token(shop.org, shop.org.owner_id)}"}
    mine = cash_order(shop, email="bea@example.com")
    zeds = cash_order(shop, email="zed@example.com")
    foreign = cash_order(staff_shop(), email="bea@example.com")
    body = {"subject": "Late", "body": "Where is it?", "customer_email": "Bea@example.com"}
    response = client.post("/api/v1/tickets", headers=headers, json=body | {
        "order_id": mine.id})
    assert response.status_code == 201, response.json
    assert response.json["order_id"] == mine.id
    number = response.json["number"]
    assert client.get(f"/api/v1/tickets/{number}", headers=headers).json["order_id"] == mine.id
    assert ticket_state(in_org, shop.id, number)[1] == [
        {"order_id": mine.id, "number": mine.number, "previous_order_id": None}]
    for bad in (zeds.id, foreign.id, 999_999, "abc"):
        response = client.post("/api/v1/tickets", headers=headers, json=body | {
            "order_id": bad})
        assert response.status_code == 422, bad
        assert "order_id" in response.json["error"]["fields"]
    # Nothing was created by the refused requests.
    listing = client.get("/api/v1/tickets", headers=headers).json["data"]
    assert [t["number"] for t in listing] == [number]


def test_api_customer_has_orders_with_their_tickets(client, shop, staff_shop, cash_order,
                                                    make_token, make_ticket, in_org):
    headers = {"Authorization": f"Bearer {make_token(shop.org, shop.org.owner_id)}"}
    first = cash_order(shop, mugs=1, caps=0)
    second = cash_order(shop)
    cash_order(shop, email="zed@example.com")
    cash_order(staff_shop(), email="bea@example.com")  # another org's: never listed
    ticket = make_ticket(shop.org, customer_email="bea@example.com")
    with in_org(shop.id):
        ticket_links.link_ticket_to_order(orders.db.session.get(Ticket, ticket.id),
                                          orders.get_order(second.id), None)
    by_email = client.get("/api/v1/customers", query_string={"email": "bea@example.com"},
                          headers=headers)
    assert by_email.status_code == 200
    found = by_email.json
    assert [o["number"] for o in found["orders"]] == [second.number, first.number]
    assert found["orders"][0] | {"created_at": None} == {
        "id": second.id, "number": second.number, "status": "confirmed",
        "payment_status": "pending", "fulfillment_status": "unfulfilled",
        "payment_method": "cash_on_delivery", "currency": "EUR", "total": second.total,
        "refunded": 0, "created_at": None, "ticket_numbers": [ticket.number]}
    assert [t["number"] for t in found["tickets"]] == [ticket.number]
    by_id = client.get(f"/api/v1/customers/{found['id']}", headers=headers).json
    assert by_id == found


# The desk's customer page ---------------------------------------------------------------------

def test_the_customer_page_shows_tickets_and_orders_in_one_timeline(
        client, shop, cash_order, make_ticket, login, as_system):
    from datetime import UTC, datetime

    from sqlalchemy import update

    order = cash_order(shop)
    ticket = make_ticket(shop.org, customer_email="bea@example.com", subject="Cracked mug")
    later = cash_order(shop, mugs=1, caps=0)
    with as_system() as session:
        for model, row_id, day in ((Order, order.id, 1), (Ticket, ticket.id, 2),
                                   (Order, later.id, 3)):
            session.execute(update(model).where(model.id == row_id).values(
                created_at=datetime(2026, 3, day, tzinfo=UTC)))
    login(shop.agent.email)
    page = client.get(f"/{shop.slug}/desk/customers/{order.customer_id}").text
    timeline = page[page.index('data-testid="customer-timeline"'):]
    found = re.findall(r"(Order|Ticket) #(\d+)", timeline)
    assert found[:3] == [("Order", str(later.number)), ("Ticket", str(ticket.number)),
                         ("Order", str(order.number))]

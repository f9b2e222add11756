"""The desk's order pages: the list with its filters and pages, the order page (lines with
personalization, totals, states, timeline), each staff action with its OrderEvent, agents
reading but never acting (403), and another org's order a 404 on every route."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select, update

from helpdesk.mail.models import Outbox, OutboxKind
from storefront import order_admin
from storefront.models import Order, OrderLine, OrderStatus, Payment
from storefront.money import format_money


def base(shop) -> str:
    return f"/{shop.slug}/desk/store/orders"


@pytest.fixture
def shop(staff_shop):
    return staff_shop()


def test_agents_read_the_list_and_the_order_page(client, shop, cash_order, login):
    order = cash_order(shop)
    login(shop.agent.email)
    listing = client.get(base(shop))
    assert listing.status_code == 200
    assert f"#{order.number}" in listing.text and "bea@example.com" in listing.text
    page = client.get(f"{base(shop)}/{order.id}")
    assert page.status_code == 200
    text = page.text
    assert "Engraved mug" in text and "For Bea" in text  # personalization, for packing
    assert format_money(order.total) in text and "€33.00" in text  # 2 x 12.50 + 8.00
    assert "confirmed" in text and "unfulfilled" in text
    assert "Order placed via shop" in text and "changed status from placed to confirmed" in text
    assert 'data-testid="refund-form"' not in text and 'data-testid="cancel-form"' not in text


def test_agents_get_403_on_every_action(client, shop, cash_order, login, order_snapshot):
    order = cash_order(shop)
    before = order_snapshot(shop, order.id)
    login(shop.agent.email)
    for action, form in (("confirm", {}), ("fulfil", {"status": "packed"}),
                         ("cancel", {}), ("refund", {}), ("resend", {})):
        response = client.post(f"{base(shop)}/{order.id}/{action}", data=form)
        assert response.status_code == 403, action
    assert order_snapshot(shop, order.id) == before


def test_another_orgs_order_is_404_on_every_route(client, shop, staff_shop, cash_order, login):
    other = staff_shop()
    theirs = cash_order(other)
    mine = cash_order(shop)
    login(shop.manager.email)
    assert client.get(f"{base(shop)}/{mine.id}").status_code == 200
    assert client.get(f"{base(shop)}/{theirs.id}").status_code == 404
    line = theirs.line_ids[0]
    assert client.get(f"{base(shop)}/{theirs.id}/lines/{line}/engraving").status_code == 404
    for action in ("confirm", "fulfil", "cancel", "refund", "resend", "link"):
        response = client.post(f"{base(shop)}/{theirs.id}/{action}",
                               data={"status": "packed", "ticket": "1"})
        assert response.status_code == 404, action
    assert f"#{theirs.number}" not in client.get(base(shop)).text or theirs.number == mine.number
    # Their orders never show in our list, even under their customer's email.
    listing = client.get(base(shop), query_string={"email": theirs.email, "number":
                                                   theirs.number})
    assert 'data-testid="order-row"' in listing.text  # ours has the same email and number
    assert listing.text.count('data-testid="order-row"') == 1
    # And their org's desk is not ours to see.
    assert client.get(f"/{other.slug}/desk/store/orders").status_code == 404


def test_fulfilment_packed_shipped_delivered(client, shop, cash_order, login, order_snapshot):
    order = cash_order(shop)
    login(shop.manager.email)
    url = f"{base(shop)}/{order.id}/fulfil"
    assert client.post(url, data={"status": "packed"}).status_code == 303
    assert order_snapshot(shop, order.id).fulfillment == "packed"
    # Shipping without a tracking number is refused, saying why; nothing changes.
    response = client.post(url, data={"status": "shipped", "carrier": "DHL"},
                           follow_redirects=True)
    assert "needs the carrier and the tracking number" in response.text
    assert order_snapshot(shop, order.id).fulfillment == "packed"
    client.post(url, data={"status": "shipped", "carrier": "DHL",
                           "tracking_number": "JD0001"})
    page = client.get(f"{base(shop)}/{order.id}").text
    assert "DHL JD0001" in page
    client.post(url, data={"status": "delivered"})
    state = order_snapshot(shop, order.id)
    assert (state.status, state.payment, state.fulfillment) == ("completed", "paid",
                                                                 "delivered")
    manager_events = [kind for kind, actor in state.events if actor == shop.manager.id]
    assert manager_events == ["fulfillment", "fulfillment", "fulfillment", "payment", "status"]


def test_cancel_puts_the_stock_back(client, shop, cash_order, login, order_snapshot):
    order = cash_order(shop, mugs=3, caps=2)
    assert order_snapshot(shop, order.id).stock == {shop.mug.variant_id: 7,
                                                    shop.cap.variant_id: 8}
    login(shop.manager.email)
    response = client.post(f"{base(shop)}/{order.id}/cancel",
                           data={"reason": "customer asked", "restock": ["0", "1"]})
    assert response.status_code == 303
    state = order_snapshot(shop, order.id)
    assert state.status == "cancelled"
    assert state.stock == {shop.mug.variant_id: 10, shop.cap.variant_id: 10}
    assert ("restocked", shop.manager.id) in state.events
    # Cancelling again changes nothing; shipping a cancelled order is refused.
    client.post(f"{base(shop)}/{order.id}/cancel")
    response = client.post(f"{base(shop)}/{order.id}/fulfil", data={"status": "packed"},
                           follow_redirects=True)
    assert "cancelled" in response.text
    assert order_snapshot(shop, order.id).fulfillment == "unfulfilled"


def test_cancel_without_restock_keeps_the_stock_out(client, shop, cash_order, login,
                                                    order_snapshot):
    order = cash_order(shop, mugs=1, caps=0)
    login(shop.manager.email)
    client.post(f"{base(shop)}/{order.id}/cancel", data={"restock": "0"})
    state = order_snapshot(shop, order.id)
    assert state.status == "cancelled" and state.stock[shop.mug.variant_id] == 9


def _deliver(client, shop, order):
    url = f"{base(shop)}/{order.id}/fulfil"
    client.post(url, data={"status": "shipped", "carrier": "DHL", "tracking_number": "T1"})
    client.post(url, data={"status": "delivered"})


def test_cash_refund_per_line_then_in_full(client, shop, cash_order, login, order_snapshot):
    order = cash_order(shop, mugs=2, caps=1)
    login(shop.manager.email)
    # Nothing paid yet (cash on delivery): refused, saying so.
    response = client.post(f"{base(shop)}/{order.id}/refund", data={"mode": "full"},
                           follow_redirects=True)
    assert "Nothing was paid" in response.text
    _deliver(client, shop, order)
    mug_line, cap_line = order.line_ids
    response = client.post(f"{base(shop)}/{order.id}/refund",
                           data={"mode": "lines", f"qty_{mug_line}": "1", f"qty_{cap_line}": ""})
    assert response.status_code == 303
    state = order_snapshot(shop, order.id)
    assert (state.refunded, state.payment, state.refunded_lines) == (
        1250, "partially_refunded", [1, 0])
    assert state.stock[shop.mug.variant_id] == 9  # the refunded mug is back on the shelf
    # A bad quantity or amount is refused by name; nothing changes.
    for data in ({"mode": "lines", f"qty_{mug_line}": "x"},
                 {"mode": "lines", f"qty_{mug_line}": "5"},
                 {"mode": "lines"},
                 {"mode": "full", "amount": "12,345.678"},
                 {"mode": "full", "amount": "999"}):
        response = client.post(f"{base(shop)}/{order.id}/refund", data=data,
                               follow_redirects=True)
        assert 'class="flash flash-error"' in response.text or "flash-error" in response.text, \
            data
    assert order_snapshot(shop, order.id).refunded == 1250
    client.post(f"{base(shop)}/{order.id}/refund", data={"mode": "full"})
    state = order_snapshot(shop, order.id)
    assert (state.refunded, state.payment) == (order.total, "refunded")
    assert [kind for kind, _ in state.events].count("refund") == 2


def test_refund_a_card_order_through_stripe(client, card_shop, place_card_order, stripe_event,
                                            send_event, make_member, login, in_org):
    shop = card_shop()
    order = place_card_order(shop, (2, 1))
    shop.server.pay(order.intent_id, "4242424242424242")
    assert send_event(stripe_event("payment_intent.succeeded", order.intent_id,
                                   shop.account)).status_code == 200
    manager = make_member(shop.org, "manager")
    login(manager.email)
    with in_org(shop.org.id) as session:
        line_id = session.scalar(select(OrderLine.id).where(OrderLine.order_id == order.id)
                                 .order_by(OrderLine.id))
    url = f"/{shop.org.slug}/desk/store/orders/{order.id}/refund"
    assert client.post(url, data={"mode": "lines", f"qty_{line_id}": "1"}).status_code == 303
    with in_org(shop.org.id) as session:
        found = session.get(Order, order.id)
        assert (found.refunded, found.payment_status.value) == (shop.price,
                                                                 "partially_refunded")
        refund = session.scalar(select(Payment).where(Payment.order_id == order.id,
                                                      Payment.kind == "refund"))
        assert (refund.provider, refund.amount) == ("stripe", shop.price)
        assert refund.provider_id.startswith("re_")


def test_confirm_and_resend_confirmation(client, shop, cash_order, login, in_org, as_system,
                                         order_snapshot):
    order = cash_order(shop)
    with as_system() as session:  # as a paid card order waiting for staff would be
        session.execute(update(Order).where(Order.id == order.id)
                        .values(status=OrderStatus.PLACED))
    login(shop.manager.email)
    assert client.post(f"{base(shop)}/{order.id}/confirm").status_code == 303
    state = order_snapshot(shop, order.id)
    assert state.status == "confirmed" and ("status", shop.manager.id) in state.events
    with in_org(shop.id) as session:
        mails = session.scalar(select(func.count()).select_from(Outbox)
                               .where(Outbox.kind == OutboxKind.ORDER))
    response = client.post(f"{base(shop)}/{order.id}/resend", follow_redirects=True)
    assert "is on its way to bea@example.com" in response.text
    with in_org(shop.id) as session:
        assert session.scalar(select(func.count()).select_from(Outbox)
                              .where(Outbox.kind == OutboxKind.ORDER)) == mails + 1
    assert [kind for kind, _ in order_snapshot(shop, order.id).events].count("mail") == 2


def test_a_cancelled_order_has_no_confirmation_to_resend(client, shop, cash_order, login):
    order = cash_order(shop)
    login(shop.manager.email)
    client.post(f"{base(shop)}/{order.id}/cancel")
    response = client.post(f"{base(shop)}/{order.id}/resend", follow_redirects=True)
    assert "there is no confirmation to send" in response.text


def test_filters(client, shop, cash_order, login, as_system):
    first = cash_order(shop, email="ann@example.com")
    second = cash_order(shop, email="bob@example.com")
    third = cash_order(shop, email="bob@example.com")
    with as_system() as session:
        session.execute(update(Order).where(Order.id == first.id).values(
            created_at=datetime(2026, 1, 10, 12, tzinfo=UTC)))
    login(shop.manager.email)
    client.post(f"{base(shop)}/{second.id}/cancel")
    client.post(f"{base(shop)}/{third.id}/fulfil", data={"status": "packed"})

    def numbers(**query) -> set[int]:
        response = client.get(base(shop), query_string=query)
        assert response.status_code == 200
        return {n for n in (first.number, second.number, third.number)
                if f">#{n}</a>" in response.text}

    everyone = {first.number, second.number, third.number}
    assert numbers() == everyone
    assert numbers(status="cancelled") == {second.number}
    assert numbers(status="confirmed") == {first.number, third.number}
    assert numbers(fulfillment="packed") == {third.number}
    assert numbers(payment="pending") == everyone  # cash: nothing paid, also when cancelled
    assert numbers(email="bob@example.com") == {second.number, third.number}
    assert numbers(email="ann") == {first.number}
    assert numbers(number=f"#{third.number}") == {third.number}
    assert numbers(**{"from": "2026-01-10", "to": "2026-01-10"}) == {first.number}
    today = datetime.now(UTC).date().isoformat()
    assert numbers(**{"from": today}) == {second.number, third.number}
    # Bad values are named and left out, never a 500.
    response = client.get(base(shop), query_string={"status": "lost", "from": "yesterday",
                                                    "number": "abc", "email": "\x00x"})
    assert response.status_code == 200
    assert "Unknown value" in response.text and "A date like" in response.text
    assert numbers(status="lost") == everyone


def test_keyset_pages(shop, cash_order, in_org):
    placed = [cash_order(shop, mugs=1, caps=0).number for _ in range(5)]
    with in_org(shop.id):
        filters = order_admin.read_filters({})
        page = order_admin.list_orders(filters, None, limit=2)
        seen = [o.number for o in page.rows]
        while page.next_cursor:
            page = order_admin.list_orders(filters, page.next_cursor, limit=2)
            seen += [o.number for o in page.rows]
        assert seen == sorted(placed, reverse=True)
        back = order_admin.list_orders(filters, page.prev_cursor, limit=2)
        assert [o.number for o in back.rows] == seen[2:4]
        # A forged cursor is the first page.
        assert [o.number for o in order_admin.list_orders(filters, "garbage", 2).rows] == \
            seen[:2]


def test_the_list_pages_through_http(client, shop, cash_order, login, monkeypatch):
    monkeypatch.setattr(order_admin, "PAGE_SIZE", 2)
    for _ in range(3):
        cash_order(shop, mugs=1, caps=0)
    login(shop.agent.email)
    first = client.get(base(shop))
    assert first.text.count('data-testid="order-row"') == 2 and 'rel="next"' in first.text


def test_actions_from_the_ticket_page_go_back_to_it(client, shop, cash_order, login,
                                                    make_ticket):
    order = cash_order(shop)
    ticket = make_ticket(shop.org, customer_email=order.email)
    login(shop.manager.email)
    response = client.post(f"{base(shop)}/{order.id}/resend", data={"ticket": ticket.number})
    assert response.status_code == 303
    assert response.headers["Location"].endswith(
        f"/{shop.slug}/desk/tickets/{ticket.number}#store-orders")
    # A ticket number that is not ours goes back to the order instead.
    response = client.post(f"{base(shop)}/{order.id}/resend", data={"ticket": "999999"})
    assert response.headers["Location"].endswith(f"/desk/store/orders/{order.id}")


def test_buyers_pictures_are_served_to_staff_only(client, shop, cash_order, login, in_org,
                                                 as_system, app, tmp_path):
    import io

    from storefront.product_images import save_personalization_image

    app.config["ATTACHMENTS_DIR"] = str(tmp_path)
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
    order = cash_order(shop)
    with in_org(shop.id):
        key = save_personalization_image(shop.id, "me.png", io.BytesIO(png))
    with as_system() as session:
        session.execute(update(OrderLine).where(OrderLine.id == order.line_ids[0])
                        .values(personalization={"engraving": "x", "photo": key}))
    picture = f"{base(shop)}/{order.id}/lines/{order.line_ids[0]}/photo"
    assert client.get(picture).status_code == 302  # sign in first
    login(shop.agent.email)
    response = client.get(picture)
    assert response.status_code == 200 and response.data == png
    assert response.headers["Content-Type"] == "image/png"
    response.close()
    assert f'href="{picture}"' in client.get(f"{base(shop)}/{order.id}").text
    # A text value is not a picture: 404.
    url = f"{base(shop)}/{order.id}/lines/{order.line_ids[0]}/engraving"
    assert client.get(url).status_code == 404
    assert client.get(f"{base(shop)}/{order.id}/lines/{order.line_ids[1]}/x").status_code == 404


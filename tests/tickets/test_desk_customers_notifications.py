"""Customers (search, keyset pages, their tickets) and the notifications page with its badge."""

import html
import re

from sqlalchemy import select

from helpdesk.customers.models import Customer
from helpdesk.tickets import services
from helpdesk.tickets.models import Notification


def names_on(page: str) -> list[str]:
    return re.findall(r'data-testid="customer-row">\s*<td><a href="[^"]+">([^<]+)</a>', page)


def next_link(page: str, rel: str = "next") -> str | None:
    found = re.search(rf'href="([^"]+)" rel="{rel}"', page)
    return html.unescape(found.group(1)) if found else None


def test_customer_list_searches_and_pages(client, make_org, in_org, login):
    org, other = make_org(), make_org()
    with in_org(org.id) as session:
        session.add_all(Customer(email=f"c{i:02}@example.com", name=f"Customer {i:02}",
                                 company="Acme" if i % 10 == 0 else "") for i in range(45))
    with in_org(other.id) as session:
        session.add(Customer(email="hidden@example.com", name="Hidden Elsewhere"))
    login(org.owner_email)
    page = client.get(f"/{org.slug}/desk/customers/").get_data(as_text=True)
    first = names_on(page)
    assert len(first) == 30 and first[0] == "Customer 44"
    second_page = client.get(next_link(page)).get_data(as_text=True)
    second = names_on(second_page)
    assert len(second) == 15 and second[-1] == "Customer 00" and next_link(second_page) is None
    back = client.get(next_link(second_page, "prev")).get_data(as_text=True)
    assert names_on(back) == first
    page = client.get(f"/{org.slug}/desk/customers/?q=acme").get_data(as_text=True)
    assert names_on(page) == ["Customer 40", "Customer 30", "Customer 20", "Customer 10",
                              "Customer 00"]
    page = client.get(f"/{org.slug}/desk/customers/?q=c07%40").get_data(as_text=True)
    assert names_on(page) == ["Customer 07"]
    page = client.get(f"/{org.slug}/desk/customers/?q=hidden").get_data(as_text=True)
    assert names_on(page) == [] and "No customer matches" in page
    assert client.get(f"/{org.slug}/desk/customers/?q=%25_%25").status_code == 200


def test_customer_page_lists_their_tickets(client, make_org, make_ticket, login):
    org = make_org()
    a = make_ticket(org, subject="First order", customer_email="ada@example.com")
    b = make_ticket(org, subject="Second order", customer_email="ada@example.com")
    make_ticket(org, subject="Someone else", customer_email="bob@example.com")
    login(org.owner_email)
    page = client.get(f"/{org.slug}/desk/customers/{a.customer_id}").get_data(as_text=True)
    assert f"#{b.number} Second order" in page and f"#{a.number} First order" in page
    assert page.index("Second order") < page.index("First order")
    assert "Someone else" not in page and "Tickets <span class=\"muted\">(2)" in page


def test_notifications_page_badge_and_mark_read(client, make_org, make_member, make_ticket,
                                                in_org, login):
    org = make_org()
    sam = make_member(org, email="sam.carter@example.com")
    nia = make_member(org, email="nia@example.com")
    t = make_ticket(org, subject="Lost parcel")
    with in_org(org.id):
        ticket = services.get_ticket(t.number)
        services.add_note(org.owner_id, ticket, body_text="@sam.carter have a look")
        services.add_note(org.owner_id, ticket, body_text="@sam.carter and @nia this too")
    login(sam.email)
    page = client.get(f"/{org.slug}/desk/notifications").get_data(as_text=True)
    assert re.search(r'class="count-badge">2<span class="visually-hidden"> unread', page)
    assert page.count('data-testid="notification"') == 2 and "have a look" in page
    with in_org(org.id) as session:
        mine = session.scalars(select(Notification.id).where(Notification.user_id == sam.id)
                               .order_by(Notification.id)).all()
        theirs = session.scalar(select(Notification.id).where(Notification.user_id == nia.id))
    response = client.post(f"/{org.slug}/desk/notifications/{mine[0]}/read", data={"open": "1"})
    assert response.status_code == 303
    assert response.headers["Location"] == f"/{org.slug}/desk/tickets/{t.number}"
    page = client.get(f"/{org.slug}/desk/tickets/{t.number}").get_data(as_text=True)
    assert re.search(r'class="count-badge">1<', page)
    # A colleague's notification is not yours to mark.
    assert client.post(f"/{org.slug}/desk/notifications/{theirs}/read").status_code == 404
    response = client.post(f"/{org.slug}/desk/notifications/read")
    assert response.status_code == 303
    page = client.get(f"/{org.slug}/desk/notifications").get_data(as_text=True)
    assert "count-badge" not in page and "Mark all read" not in page
    with in_org(org.id) as session:
        assert session.get(Notification, theirs).read_at is None


def test_another_orgs_notification_and_customer_ids_are_404(client, make_org, make_member,
                                                            make_ticket, in_org, login):
    org, other = make_org(), make_org()
    make_ticket(org)
    t = make_ticket(other)
    with in_org(other.id) as session:
        services.add_note(other.owner_id, services.get_ticket(t.number),
                          body_text="@nobody hello")
        session.add(Notification(user_id=org.owner_id, ticket_id=t.id, kind="mention",
                                 text="planted"))
        session.flush()
        planted = session.scalar(select(Notification.id))
    login(org.owner_email)
    assert "planted" not in client.get(f"/{org.slug}/desk/notifications").get_data(as_text=True)
    assert client.post(f"/{org.slug}/desk/notifications/{planted}/read").status_code == 404
    assert client.get(f"/{org.slug}/desk/customers/{t.customer_id}").status_code == 404

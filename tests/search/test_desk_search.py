"""The desk's search: the results page (marks, tabs, filters, pages, notes), the header's instant
results, any text typed into the box, and another org's documents never showing."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest

from helpdesk.search import views
from helpdesk.tickets.models import Priority

# What people paste into a search box, as query strings (NUL and a lone surrogate cannot go
# through the test client's encoder, so they are written percent-encoded).
HOSTILE = [
    "q=%22unbalanced", "q=OR", "q=-", "q=!", "q=%26", "q=%7C", "q=:*", "q=a+%26+%7C+!+b",
    "q=%22%22+OR+-%22%22", "q=" + "x" * 10_000, "q=" + "word+" * 2_000,
    "q=%27%3B+DROP+TABLE+tickets%3B+--", "q=title:foo+AND+bar~2+%5Ba+TO+b%5D",
    "q=%F0%9F%8E%89+%E2%98%83+%E6%97%A5%E6%9C%AC", "q=nul%00byte", "q=%00", "q=%ED%A0%80",
    "q=%ED%A0%80kettle", "q=(((", "q=%3Cscript%3Ealert(1)%3C/script%3E", "q=%5C", "q=%25",
    "q=kettle&tag=%00", "q=kettle&cursor=%00", "q=kettle&status=%ED%A0%80",
]


@pytest.fixture
def desk(make_org, make_member, make_ticket, login):
    org = make_org()
    agent = make_member(org, "agent")
    broken = make_ticket(org, subject="Blue kettle arrived broken",
                         body="The kettle spout snapped in transit.",
                         customer_email="ada@example.com")
    refund = make_ticket(org, subject="Refund for the kettle",
                         body="Please refund order 88812 for the broken kettle.",
                         customer_email="bob@example.com", priority=Priority.HIGH,
                         tags=["refunds"], assignee_id=agent.id)
    login(agent.email)
    return SimpleNamespace(org=org, agent=agent, broken=broken, refund=refund,
                           url=lambda path="search": f"/{org.slug}/desk/{path}")


def page_of(client, desk, query_string, status=200):
    response = client.get(desk.url(), query_string=query_string)
    assert response.status_code == status
    return response.get_data(as_text=True)


def ticket_links(html: str, desk) -> list[int]:
    pattern = rf'href="/{desk.org.slug}/desk/tickets/(\d+)"'
    return [int(number) for number in re.findall(pattern, html)]


def test_results_mark_the_match_and_link_the_ticket(client, desk):
    html = page_of(client, desk, {"q": "kettle"})
    assert "<mark>kettle</mark>" in html.lower()
    assert ticket_links(html, desk) == [desk.refund.number, desk.broken.number]  # newest first
    assert f'/{desk.org.slug}/desk/tickets/{desk.broken.number}#message-' in html
    for group in ("tickets", "messages"):
        assert f'data-testid="group-{group}"' in html
    assert 'data-testid="group-customers"' not in html  # no customer is called kettle
    assert 'data-testid="tab-all" aria-current="page"' not in html  # attribute order
    assert re.search(r'aria-current="page" data-testid="tab-all"', html)


def test_customer_hits_and_exact_matches(client, desk):
    html = page_of(client, desk, {"q": "ada@example.com", "type": "customers"})
    assert 'data-testid="exact-match"' in html
    assert re.search(rf'href="/{desk.org.slug}/desk/customers/\d+"', html)
    html = page_of(client, desk, {"q": f"#{desk.broken.number}", "type": "tickets"})
    assert 'data-testid="exact-match"' in html
    assert ticket_links(html, desk)[0] == desk.broken.number


def test_type_tabs_show_one_type(client, desk):
    html = page_of(client, desk, {"q": "kettle", "type": "messages"})
    assert re.search(r'aria-current="page" data-testid="tab-messages"', html)
    assert 'data-testid="hit-message"' in html and 'data-testid="hit-ticket"' not in html
    assert 'name="type" value="messages"' in html  # the filter form keeps the tab


def test_filters_narrow_the_hits(client, desk):
    def numbers(**filters):
        return ticket_links(page_of(client, desk, {"q": "kettle", "type": "tickets", **filters}),
                            desk)

    refund, broken = desk.refund.number, desk.broken.number
    assert numbers(priority="high") == [refund]
    assert numbers(status="new,open", priority="normal") == [broken]
    assert numbers(assignee="me") == [refund]
    assert numbers(assignee="none") == [broken]
    assert numbers(tag="Refunds") == [refund]
    assert numbers(customer=str(desk.broken.customer_id)) == [broken]
    assert numbers(**{"from": "2000-01-01", "to": "2999-12-31"}) == [refund, broken]
    assert numbers(to="2000-01-01") == []
    assert sorted(numbers(sort="relevance")) == sorted([refund, broken])
    # Several values of a list filter in the query string are one filter.
    response = client.get(desk.url() + "?q=kettle&type=tickets&priority=high&priority=low")
    assert ticket_links(response.get_data(as_text=True), desk) == [refund]


def test_bad_filter_values_are_dropped_with_a_note(client, desk):
    html = page_of(client, desk, {"q": "kettle", "type": "tickets", "status": "lost",
                                  "from": "yesterday", "customer": "-1", "sort": "oldest",
                                  "assignee": "someone", "priority": "high"})
    notes = re.findall(r'data-testid="search-note">([^<]*)<', html)
    assert len(notes) == 5 and any("status filter" in note for note in notes)
    assert ticket_links(html, desk) == [desk.refund.number]  # the good filter still applies
    html = page_of(client, desk, {"q": "kettle", "type": "orders!"})
    assert "type filter was left out" in html and ticket_links(html, desk)


def test_a_bad_cursor_shows_the_first_page(client, desk):
    for cursor, doc_type in (("not-a-cursor", "tickets"), ("x" * 400, "tickets"),
                             ("eyJhIjoxfQ", "messages"), ("WyJ0aWNrZXRzIiwibmV3ZXN0IiwxXQ", "all")):
        html = page_of(client, desk, {"q": "kettle", "type": doc_type, "cursor": cursor})
        assert "here is its first page" in html
        assert 'data-testid="hit-' in html
        assert "cursor=" not in html.split('data-testid="search-form"')[1].split("</form>")[0]


def test_cursor_pages_go_on_to_the_end(client, desk, make_ticket, monkeypatch):
    monkeypatch.setattr(views, "PAGE_SIZE", 3)
    numbers = [make_ticket(desk.org, subject=f"Parcel {n} missing").number for n in range(7)]
    seen, url = [], None
    html = page_of(client, desk, {"q": "parcel", "type": "tickets"})
    while True:
        seen += ticket_links(html, desk)
        match = re.search(r'href="([^"]+)" rel="next" data-testid="next-page"', html)
        if not match:
            break
        url = match.group(1).replace("&amp;", "&")
        assert "type=tickets" in url and "cursor=" in url
        html = client.get(url).get_data(as_text=True)
    assert seen == sorted(numbers, reverse=True)
    assert "First page" in html  # the last page links back


def test_all_types_link_to_more_of_one_type(client, desk, make_ticket, monkeypatch):
    monkeypatch.setattr(views, "GROUP_SIZE", 1)
    html = page_of(client, desk, {"q": "kettle"})
    assert len(ticket_links(html, desk)) == 1
    more = re.search(r'href="([^"]+)" data-testid="more-tickets"', html).group(1)
    assert "type=tickets" in more and "cursor" not in more
    assert 'data-testid="next-page"' not in html  # "all" pages by type, not as a whole


def test_an_empty_search_explains_the_syntax(client, desk):
    for query in ({}, {"q": "   "}, {"q": "", "type": "tickets"}):
        html = page_of(client, desk, query)
        assert 'data-testid="search-empty"' in html
        for tip in ("&#34;wrong size&#34;", "OR", "-broken", "#4711", "@example.com"):
            assert tip in html or tip.replace("&#34;", '"') in html


def test_filters_alone_list_tickets(client, desk, make_ticket):
    html = page_of(client, desk, {"status": "new"})
    assert 'data-testid="search-empty"' not in html
    assert ticket_links(html, desk)  # the org's new tickets, newest first


@pytest.mark.parametrize("query_string", HOSTILE, ids=range(len(HOSTILE)))
def test_any_text_typed_is_a_page(client, desk, query_string):
    for extra in ("", "&type=tickets", "&type=messages&sort=relevance", "&type=customers",
                  "&type=orders&sort=relevance"):
        response = client.get(desk.url() + "?" + query_string + extra)
        assert response.status_code == 200, response.get_data(as_text=True)[:500]
    response = client.get(desk.url("search/suggest") + "?" + query_string)
    assert response.status_code == 200 and isinstance(response.json["groups"], list)


def test_the_header_box_is_on_desk_pages(client, desk):
    html = client.get(desk.url("tickets/")).get_data(as_text=True)
    assert f'action="/{desk.org.slug}/desk/search"' in html
    assert 'role="combobox"' in html and 'aria-controls="header-search-results"' in html
    assert f'data-suggest-url="/{desk.org.slug}/desk/search/suggest"' in html
    assert "js/search.js" in html


def test_suggest_groups_hits_by_type(client, desk, make_ticket):
    for n in range(6):
        make_ticket(desk.org, subject=f"Kettle lid {n}", customer_email="kettle.fan@example.com")
    body = client.get(desk.url("search/suggest"), query_string={"q": "kettle"}).json
    assert body["query"] == "kettle"
    assert [group["type"] for group in body["groups"]] == ["tickets", "messages", "customers",
                                                           "orders"]
    tickets, messages, customers, orders = body["groups"]
    assert orders["label"] == "Orders" and orders["hits"] == []
    assert len(tickets["hits"]) == 5 and tickets["more_url"].endswith("q=kettle&type=tickets")
    assert len(messages["hits"]) == 5
    assert [hit["title"] for hit in customers["hits"]] == ["Buyer"]
    hit = tickets["hits"][0]
    assert set(hit) >= {"type", "title", "snippet", "url", "ticket_number", "status", "exact"}
    assert "<mark>" in hit["snippet"].lower() and hit["url"].startswith(f"/{desk.org.slug}/desk/")
    assert body["all_url"] == f"/{desk.org.slug}/desk/search?q=kettle"
    empty = client.get(desk.url("search/suggest"), query_string={"q": " "}).json
    assert all(not group["hits"] for group in empty["groups"])


def test_snippets_escape_what_was_written(client, desk, make_ticket):
    make_ticket(desk.org, subject="<img src=x onerror=alert(1)> kettle",
                body="<script>alert(2)</script> kettle")
    html = page_of(client, desk, {"q": "kettle"})
    assert "<img src=x" not in html and "<script>alert(2)" not in html
    body = client.get(desk.url("search/suggest"), query_string={"q": "kettle"}).json
    assert all("<img" not in hit["snippet"] for group in body["groups"] for hit in group["hits"])


def test_search_needs_a_member(app, desk, make_org, login):
    other = make_org()
    stranger = app.test_client()
    stranger.post("/login", data={"email": other.owner_email, "password": other.password})
    assert stranger.get(desk.url(), query_string={"q": "kettle"}).status_code == 404
    assert stranger.get(desk.url("search/suggest"), query_string={"q": "k"}).status_code == 404
    response = app.test_client().get(desk.url("search/suggest"), query_string={"q": "kettle"})
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_another_orgs_documents_never_show(client, make_org, make_member, make_ticket,
                                           make_customer, login):
    """Two orgs with the same words, ticket numbers and addresses: B's agent sees only B's."""
    first, second = make_org(), make_org()
    for org, secret in ((first, "zebra"), (second, "plain")):
        make_customer(org, email="ada@example.com", name=f"Ada {secret}")
        make_ticket(org, subject=f"Kettle broken {secret}", body=f"The kettle {secret} leaks.",
                    customer_email="ada@example.com")
    agent = make_member(second, "agent")
    login(agent.email)
    base = f"/{second.slug}/desk/search"
    for text in ("kettle", "#1", "1", "ada@example.com", "leaks", '"kettle broken"', "ada"):
        for doc_type in ("all", "tickets", "messages", "customers"):
            html = client.get(base, query_string={"q": text, "type": doc_type}).get_data(
                as_text=True)
            assert "zebra" not in html.lower() and first.slug not in html
        suggest = client.get(base + "/suggest", query_string={"q": text}).get_data(as_text=True)
        assert "zebra" not in suggest.lower() and first.slug not in suggest
    html = client.get(base, query_string={"q": "kettle"}).get_data(as_text=True)
    assert "plain" in html  # B's own ticket is found
    html = client.get(base, query_string={"q": "zebra"}).get_data(as_text=True)
    assert 'data-testid="hit-' not in html and 'data-testid="no-hits"' in html
    suggest = client.get(base + "/suggest", query_string={"q": "zebra"}).json
    assert all(not group["hits"] for group in suggest["groups"])
    assert client.get(f"/{first.slug}/desk/search", query_string={"q": "kettle"}).status_code \
        == 404


# --- orders ----------------------------------------------------------------------------------

def order_url(app, org, order) -> str:
    """The desk's order page once the store registers it, else the customer's page."""
    if views.STAFF_ORDER_ENDPOINT in app.view_functions:
        return f"/{org.slug}/desk/store/orders/{order.id}"
    return f"/{org.slug}/desk/customers/{order.customer_id}"


def test_order_hits_show_number_status_total_and_address(app, client, desk, make_shop_order):
    from storefront.money import format_money

    order = make_shop_order(desk.org, "ada@example.com", "Ada King", [("Blue kettle", 2)])
    html = page_of(client, desk, {"q": "kettle"})
    assert 'data-testid="group-orders"' in html and 'data-testid="tab-orders"' in html
    html = page_of(client, desk, {"q": "kettle", "type": "orders"})
    assert re.search(r'aria-current="page" data-testid="tab-orders"', html)
    assert html.count('data-testid="hit-order"') == 1 and 'data-testid="hit-ticket"' not in html
    assert f'href="{order_url(app, desk.org, order)}"' in html
    assert f"Order #{order.number}" in html and "ada@example.com" in html
    assert re.search(r'data-testid="order-status">confirmed<', html)
    total = format_money(order.total, "EUR")
    assert total.startswith("€") and f'data-testid="order-total">{total}<' in html
    assert "<mark>kettle</mark>" in html.lower()
    html = page_of(client, desk, {"q": f"#{order.number}", "type": "orders"})
    assert 'data-testid="exact-match"' in html
    # A customer filter that is not theirs leaves the order out.
    html = page_of(client, desk, {"q": "kettle", "type": "orders", "customer": "999999"})
    assert 'data-testid="hit-order"' not in html and 'data-testid="no-hits"' in html


def test_suggest_has_an_orders_group(app, client, desk, make_shop_order):
    from storefront.money import format_money

    order = make_shop_order(desk.org, "ada@example.com", "Ada King", [("Blue kettle", 1)])
    body = client.get(desk.url("search/suggest"), query_string={"q": "kettle"}).json
    (orders,) = [group for group in body["groups"] if group["type"] == "orders"]
    assert orders["label"] == "Orders" and orders["more_url"] is None
    (hit,) = orders["hits"]
    assert (hit["type"], hit["title"], hit["order_number"], hit["status"], hit["total"]) == (
        "order", f"Order #{order.number}", order.number, "confirmed",
        format_money(order.total, "EUR"))
    assert hit["url"] == order_url(app, desk.org, order) and hit["ticket_number"] is None


def test_another_orgs_orders_never_show(client, make_org, make_member, make_shop_order, login):
    """Same order numbers, address and products in two orgs: B's agent sees only B's."""
    first, second = make_org(), make_org()
    for org, secret in ((first, "Zebra"), (second, "Plain")):
        make_shop_order(org, "ada@example.com", f"Ada {secret}", [("Blue kettle", 1)])
    agent = make_member(second, "agent")
    login(agent.email)
    base = f"/{second.slug}/desk/search"
    for text in ("kettle", "#1001", "1001", "ada@example.com", "ada"):
        for doc_type in ("all", "orders"):
            html = client.get(base, query_string={"q": text, "type": doc_type}).get_data(
                as_text=True)
            assert "zebra" not in html.lower() and first.slug not in html
            assert html.count('data-testid="hit-order"') == 1 and "Plain" in html
        suggest = client.get(base + "/suggest", query_string={"q": text}).get_data(as_text=True)
        assert "zebra" not in suggest.lower() and first.slug not in suggest
    html = client.get(base, query_string={"q": "zebra", "type": "orders"}).get_data(as_text=True)
    assert 'data-testid="hit-' not in html and 'data-testid="no-hits"' in html
    html = client.get(base, query_string={"q": "#1001", "type": "orders"}).get_data(
        as_text=True)
    assert 'data-testid="exact-match"' in html

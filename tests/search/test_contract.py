"""One contract, every backend: the same searches give the same hits with PostgreSQL and with
Elasticsearch (ELASTICSEARCH_URL names a server to run against; skipped without one).

The data is made through the services, as the app makes it; for Elasticsearch the fixture then
indexes each org (backend.reindex) and refreshes, since no job runs inside a test.
"""

from __future__ import annotations

import os
import re
import secrets
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select, update

from helpdesk.customers import services as customer_services
from helpdesk.customers.models import Customer
from helpdesk.orgs.models import Organization
from helpdesk.search import services
from helpdesk.search.backend import InvalidCursor, SearchPage
from helpdesk.search.postgres import PostgresBackend
from helpdesk.search.query import DOC_TYPES, SearchQuery
from helpdesk.tickets.models import Message, Priority, Status, Ticket
from storefront.models import Order, OrderLine

ELASTICSEARCH_URL = os.environ.get("ELASTICSEARCH_URL", "")
NO_SERVER = "ELASTICSEARCH_URL is not set: no Elasticsearch server on this machine"
SORTS = ("newest", "relevance")
HOSTILE = ['"unbalanced', "-", "OR", "OR OR", '-"', '""', "|", ")(", "\\", "foo*", "~2",
           "title:foo AND bar~2 [a TO b]", "a" * 10_000, "printer " * 1500, "😀 printer 🔥",
           "prin\x00ter", "\x00", "'; DROP TABLE tickets; --", "<script>", "#", "#0",
           "#99999999999999999999", "a@b", "@@@.com", "a -(b | c)"]
THEN = datetime(2020, 1, 15, 9, 0, tzinfo=UTC)
CUTOFF = datetime(2021, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="session")
def contract_elastic():
    """An ElasticBackend on the server, with indices of its own, deleted after the run."""
    from helpdesk.search.elastic import ElasticBackend

    backend = ElasticBackend(ELASTICSEARCH_URL,
                             prefix=f"helpdesk-test-{secrets.token_hex(4)}")
    backend.ensure_indices()
    yield backend
    for doc_type in DOC_TYPES:
        indices = list(backend.client.indices.get_alias(name=backend.alias(doc_type)).body)
        backend.client.indices.delete(index=indices)
    backend.client.close()


class Searcher:
    """A backend as the contract sees it: sync the orgs' rows, then search as one org."""

    def __init__(self, backend, in_org):
        self.backend, self.in_org = backend, in_org

    def sync(self, *orgs) -> None:
        """Elasticsearch: index the orgs (PostgreSQL's triggers have done it already)."""
        if self.backend.name != "elasticsearch":
            return
        for org in orgs:
            with self.in_org(org.id):
                self.backend.reindex(org.id, language_of(org))
        self.backend.client.indices.refresh(index=[self.backend.alias(t) for t in DOC_TYPES])

    def page(self, org, text: str, **kwargs) -> SearchPage:
        kwargs.setdefault("type", "tickets")
        with self.in_org(org.id):
            return self.backend.search(org.id, language_of(org), SearchQuery(text=text, **kwargs))

    def ids(self, org, text: str, **kwargs) -> list[int]:
        return [hit.id for hit in self.page(org, text, **kwargs).hits]

    def every_page(self, org, text: str, **kwargs) -> list[int]:
        """Follow the cursors to the end; the ids in the order the pages gave them."""
        ids, cursor = [], None
        for _ in range(50):
            page = self.page(org, text, cursor=cursor, **kwargs)
            ids += [hit.id for hit in page.hits]
            cursor = page.next_cursor
            if cursor is None:
                return ids
        raise AssertionError("the cursors never ended")


def language_of(org) -> str:
    return getattr(org, "search_language", None) or "simple"


@pytest.fixture(params=["postgres", pytest.param(
    "elasticsearch", marks=pytest.mark.skipif(not ELASTICSEARCH_URL, reason=NO_SERVER))])
def searcher(request, app, in_org, monkeypatch):
    backend = (PostgresBackend() if request.param == "postgres"
               else request.getfixturevalue("contract_elastic"))
    # services.search (type "all") asks get_backend() for it.
    monkeypatch.setitem(app.extensions, "search_backend", backend)
    return Searcher(backend, in_org)


@pytest.fixture
def contract_desk(searcher, make_org, make_member, make_ticket, make_shop_order, in_org,
                  as_system):
    """Two orgs sharing words, ticket and order numbers, an address and product names; B's rows
    are the older ones."""

    def customer(org, email, name, company=""):
        with in_org(org.id):
            return customer_services.create_customer(email=email, name=name,
                                                     company=company).id

    def ticket(org, subject, body, email, **kwargs):
        return make_ticket(org, subject=subject, body=body, customer_email=email, **kwargs)

    b = make_org()
    b_alice = customer(b, "alice.smith@example.com", "Alice Smith", "Acme")
    b_tickets = [ticket(b, "Printer on fire", "The printer is on fire", "alice.smith@example.com"),
                 ticket(b, "Invoice missing", "Send the invoice", "alice.smith@example.com"),
                 ticket(b, "Fire alarm test", "Drill", "alice.smith@example.com")]
    b_orders = [make_shop_order(b, "alice.smith@example.com", "Alice Smith",
                                [("Printer toner", 1), ("Blue kettle", 2)]),
                make_shop_order(b, "bob@example.net", "Robert Stone", [("Blue kettle", 1)])]

    a = make_org()
    agent = make_member(a)
    alice = customer(a, "alice.smith@example.com", "Alice Smith", "Acme")
    bob = customer(a, "bob@example.net", "Bob Stone")
    customer(a, "carol@example.org", "Carol Diaz")
    t1 = ticket(a, "Printer on fire", "The printer in room four is on fire",
                "alice.smith@example.com", priority=Priority.HIGH, tags=["hardware"],
                assignee_id=agent.id)
    t2 = ticket(a, "Refund for broken printer", "The printer arrived broken, I want a refund",
                "bob@example.net", tags=["billing"])
    t3 = ticket(a, "Invoice missing", "Please send the invoice again", "bob@example.net",
                priority=Priority.LOW)
    t4 = ticket(a, "Fire alarm test", "Drill on Monday", "alice.smith@example.com")
    t5 = ticket(a, f"Question about ticket {t3.number}", "See the other one", "bob@example.net")
    t6 = ticket(a, "<b>Printer</b> & toner", "Toner <script>alert(1)</script> printer",
                "carol@example.org")
    o1 = make_shop_order(a, "alice.smith@example.com", "Alice Smith",
                         [("Printer toner", 1), ("Blue kettle", 2)])
    o2 = make_shop_order(a, "bob@example.net", "Robert Stone", [("Blue kettle", 1)])
    o3 = make_shop_order(a, "carol@example.org", "Carol Diaz",
                         [("Red kettle", 1), ("<b>Paper</b> tray & co", 3)])
    with in_org(a.id) as session:
        session.get(Ticket, t3.id).status = Status.PENDING
        session.get(Ticket, t4.id).created_at = THEN
        session.execute(update(Message).where(Message.ticket_id == t4.id)
                        .values(created_at=THEN))
        session.get(Order, o1.id).created_at = THEN
    with as_system() as session:
        first_message = dict(session.execute(
            select(Message.ticket_id, func.min(Message.id)).group_by(Message.ticket_id)).all())
        owned = {org.id: {doc_type: set(session.scalars(select(table.id).where(
            table.org_id == org.id))) for doc_type, table in
            (("tickets", Ticket), ("messages", Message), ("customers", Customer),
             ("orders", Order))}
            for org in (a, b)}
    searcher.sync(a, b)
    return SimpleNamespace(a=a, b=b, agent=agent, alice=alice, bob=bob, b_alice=b_alice,
                           t1=t1, t2=t2, t3=t3, t4=t4, t5=t5, t6=t6, b_tickets=b_tickets,
                           o1=o1, o2=o2, o3=o3, b_orders=b_orders,
                           message=lambda t: first_message[t.id], owned=owned)


# --- the syntax ------------------------------------------------------------------------------

def test_every_word_must_match(searcher, contract_desk):
    desk = contract_desk
    assert searcher.ids(desk.a, "printer fire") == [desk.t1.id]
    assert searcher.ids(desk.a, "fire printer") == [desk.t1.id]


def test_a_quoted_phrase_matches_in_order(searcher, contract_desk):
    desk = contract_desk
    assert searcher.ids(desk.a, '"on fire"') == [desk.t1.id]
    assert searcher.ids(desk.a, '"fire on"') == []
    assert searcher.ids(desk.a, '"on fire"', type="messages") == [desk.message(desk.t1)]


def test_or_and_exclusion(searcher, contract_desk):
    desk = contract_desk
    for text in ("invoice OR alarm", "invoice or alarm"):
        assert set(searcher.ids(desk.a, text)) == {desk.t3.id, desk.t4.id}
    assert set(searcher.ids(desk.a, "printer -fire")) == {desk.t2.id, desk.t6.id}
    assert searcher.ids(desk.a, "printer -fire -toner") == [desk.t2.id]


def test_newest_first_by_default(searcher, contract_desk):
    desk = contract_desk
    assert searcher.ids(desk.a, "printer") == [desk.t6.id, desk.t2.id, desk.t1.id]


def test_plain_words_are_not_stemmed_and_a_language_stems(searcher, contract_desk, make_org,
                                                          make_ticket, as_system):
    desk = contract_desk
    assert searcher.ids(desk.a, "refunds") == []
    org = make_org()
    with as_system() as session:
        session.get(Organization, org.id).search_language = "english"
    org.search_language = "english"
    ticket = make_ticket(org, subject="Refunds requested", body="Two orders were cancelled")
    searcher.sync(org)
    for text in ("refund", "requesting", "refunds request"):
        assert searcher.ids(org, text) == [ticket.id]
    assert len(searcher.ids(org, "order cancel", type="messages")) == 1


# --- exact matches ---------------------------------------------------------------------------

def test_a_ticket_number_leads_page_one_and_is_not_repeated(searcher, contract_desk):
    desk = contract_desk
    for text in (str(desk.t3.number), f"#{desk.t3.number}"):
        page = searcher.page(desk.a, text, limit=1)
        assert [(hit.id, hit.exact) for hit in page.hits] == [(desk.t3.id, True),
                                                              (desk.t5.id, False)]
        assert page.next_cursor is None
    # The number's ticket must pass the filters to lead.
    page = searcher.page(desk.a, f"#{desk.t3.number}", statuses=(Status.NEW,))
    assert [(hit.id, hit.exact) for hit in page.hits] == [(desk.t5.id, False)]


def test_an_address_leads_the_customers_and_finds_their_messages(searcher, contract_desk):
    desk = contract_desk
    page = searcher.page(desk.a, "Alice.Smith@example.com", type="customers")
    assert [(hit.id, hit.exact) for hit in page.hits] == [(desk.alice, True)]
    assert set(searcher.ids(desk.a, "alice.smith@example.com", type="messages")) == {
        desk.message(desk.t1), desk.message(desk.t4)}
    assert searcher.ids(desk.a, "alice", type="customers") == [desk.alice]
    assert searcher.ids(desk.a, "acme", type="customers") == [desk.alice]


# --- filters ---------------------------------------------------------------------------------

def test_ticket_filters_on_tickets_and_their_messages(searcher, contract_desk):
    desk = contract_desk
    cases = [
        ("printer OR invoice", {"statuses": (Status.PENDING,)}, [desk.t3]),
        ("printer", {"priorities": (Priority.HIGH,)}, [desk.t1]),
        ("printer", {"assignee": desk.agent.id}, [desk.t1]),
        ("printer", {"assignee": "none"}, [desk.t6, desk.t2]),
        ("printer", {"tag": "HARDWARE"}, [desk.t1]),
        ("printer", {"customer_id": desk.bob}, [desk.t2]),
        ("printer", {"statuses": (Status.CLOSED,)}, []),
    ]
    for text, filters, expected in cases:
        assert searcher.ids(desk.a, text, **filters) == [t.id for t in expected], filters
        assert searcher.ids(desk.a, text, type="messages", **filters) == [
            desk.message(t) for t in expected], filters


def test_date_range(searcher, contract_desk):
    desk = contract_desk
    assert searcher.ids(desk.a, "fire", since=CUTOFF) == [desk.t1.id]
    assert searcher.ids(desk.a, "fire", until=CUTOFF) == [desk.t4.id]
    assert searcher.ids(desk.a, "drill", type="messages", until=CUTOFF) == [
        desk.message(desk.t4)]
    assert searcher.ids(desk.a, "drill", type="messages", since=CUTOFF) == []


def test_searching_all_types_leaves_customers_out_under_ticket_filters(
        searcher, contract_desk, in_org):
    desk = contract_desk
    org = SimpleNamespace(id=desk.a.id, search_language="simple")

    def types(**filters):
        with in_org(desk.a.id):
            page = services.search(org, desk.agent.id, SearchQuery(text="alice", **filters))
        return {hit.type for hit in page.hits}

    assert types() == {"message", "customer", "order"}
    assert types(statuses=(Status.NEW,)) == {"message"}
    # Orders have a customer: that filter keeps them (and leaves customers out).
    assert types(customer_id=desk.alice) == {"message", "order"}
    assert types(customer_id=desk.bob) == set()


# --- orders ----------------------------------------------------------------------------------

def test_orders_are_found_by_address_shipping_name_products_and_skus(searcher, contract_desk):
    desk = contract_desk
    o1, o2, o3 = desk.o1, desk.o2, desk.o3
    cases = [
        ("kettle", [o3, o2, o1]),
        ("blue kettle", [o2, o1]),
        ('"red kettle"', [o3]),
        ('"kettle red"', []),
        ("kettle -blue", [o3]),
        ("toner OR tray", [o3, o1]),
        ("alice.smith@example.com", [o1]),
        ("alice", [o1]),
        ("robert", [o2]),  # the shipping name, not the customer's
        ("carol", [o3]),
        (o3.skus[1], [o3]),
        (o3.skus[1].lower(), [o3]),
    ]
    for text, expected in cases:
        for sort in SORTS:
            ids = searcher.ids(desk.a, text, type="orders", sort=sort)
            if sort == "newest":
                assert ids == [o.id for o in expected], text
            else:
                assert set(ids) == {o.id for o in expected}, text


def test_an_order_number_leads_page_one_and_is_not_repeated(searcher, contract_desk):
    desk = contract_desk
    for text in (str(desk.o2.number), f"#{desk.o2.number}"):
        page = searcher.page(desk.a, text, type="orders")
        assert [(hit.id, hit.exact) for hit in page.hits] == [(desk.o2.id, True)]
    # The number's order must pass the filters to lead.
    assert searcher.ids(desk.a, f"#{desk.o2.number}", type="orders",
                        customer_id=desk.alice) == []
    assert searcher.ids(desk.a, f"#{desk.o2.number}", type="orders", until=CUTOFF) == []
    assert searcher.ids(desk.a, "#999999", type="orders") == []


def test_an_order_hit_carries_number_status_total_and_customer(searcher, contract_desk):
    desk = contract_desk
    (hit,) = searcher.page(desk.a, "robert", type="orders").hits
    assert (hit.type, hit.id, hit.title, hit.order_number, hit.order_status) == (
        "order", desk.o2.id, f"Order #{desk.o2.number}", desk.o2.number, "confirmed")
    assert (hit.order_total, hit.currency) == (desk.o2.total, "EUR")
    assert (hit.customer_id, hit.customer_email) == (desk.bob, "bob@example.net")
    assert hit.ticket_number is None and hit.ticket_status is None
    assert marks(hit.snippet) == ["robert"]
    (tray,) = searcher.page(desk.a, "tray", type="orders").hits
    assert marks(tray.snippet) == ["tray"]
    assert "<b>" not in tray.snippet and "&lt;b&gt;" in tray.snippet and "&amp;" in tray.snippet


def test_orders_filter_by_customer_and_dates_only(searcher, contract_desk):
    desk = contract_desk
    assert searcher.ids(desk.a, "kettle", type="orders", customer_id=desk.bob) == [desk.o2.id]
    assert searcher.ids(desk.a, "kettle", type="orders", since=CUTOFF) == [desk.o3.id,
                                                                           desk.o2.id]
    assert searcher.ids(desk.a, "kettle", type="orders", until=CUTOFF) == [desk.o1.id]
    # Ticket filters have no order field: asked for orders alone, they are not applied.
    assert searcher.ids(desk.a, "robert", type="orders", statuses=(Status.CLOSED,),
                        tag="vip") == [desk.o2.id]


def test_a_number_pins_both_the_ticket_and_the_order_in_all_types(
        searcher, contract_desk, in_org):
    desk = contract_desk
    with in_org(desk.a.id) as session:
        session.get(Order, desk.o3.id).number = desk.t3.number  # the trigger follows it
    searcher.sync(desk.a)
    org = SimpleNamespace(id=desk.a.id, search_language="simple")
    with in_org(desk.a.id):
        page = services.search(org, desk.agent.id, SearchQuery(text=f"#{desk.t3.number}"))
    pinned = [(hit.type, hit.id) for hit in page.hits if hit.exact]
    assert pinned == [("ticket", desk.t3.id), ("order", desk.o3.id)]


def test_an_orders_words_follow_its_lines(searcher, contract_desk, in_org):
    desk = contract_desk
    with in_org(desk.a.id) as session:
        line = session.scalar(select(OrderLine).where(OrderLine.order_id == desk.o2.id))
        line.product_name = "Green teapot"
    searcher.sync(desk.a)
    assert searcher.ids(desk.a, "teapot", type="orders") == [desk.o2.id]
    assert searcher.ids(desk.a, "blue kettle", type="orders") == [desk.o1.id]
    with in_org(desk.a.id) as session:
        line = session.scalar(select(OrderLine).where(OrderLine.order_id == desk.o3.id,
                                                      OrderLine.product_name == "Red kettle"))
        session.delete(line)
    searcher.sync(desk.a)
    assert searcher.ids(desk.a, "kettle", type="orders") == [desk.o1.id]
    assert searcher.ids(desk.a, "tray", type="orders") == [desk.o3.id]


# --- pages -----------------------------------------------------------------------------------

@pytest.fixture
def contract_widgets(searcher, make_org, make_ticket):
    """An org with seven tickets on widgets, some saying it more often than others."""
    org = make_org()
    subjects = ["widget", "widget widget", "blue widget", "widget widget widget", "red widget",
                "widget manual widget", "widget"]
    tickets = [make_ticket(org, subject=s, body=f"About the {s}") for s in subjects]
    searcher.sync(org)
    return org, [t.id for t in tickets]


@pytest.mark.parametrize("sort", SORTS)
@pytest.mark.parametrize("doc_type", ["tickets", "messages"])
def test_cursors_walk_every_match_once(searcher, contract_widgets, sort, doc_type):
    org, ticket_ids = contract_widgets
    ids = searcher.every_page(org, "widget", type=doc_type, sort=sort, limit=3)
    assert len(ids) == len(set(ids)) == 7
    if doc_type == "tickets":
        assert set(ids) == set(ticket_ids)
    if sort == "newest":
        assert ids == sorted(ids, reverse=True)


def test_a_cursor_of_another_type_or_ordering_is_refused(searcher, contract_widgets):
    org, _ = contract_widgets
    cursor = searcher.page(org, "widget", limit=2).next_cursor
    assert cursor
    for kwargs in ({"type": "messages"}, {"sort": "relevance"}):
        with pytest.raises(InvalidCursor):
            searcher.page(org, "widget", cursor=cursor, **kwargs)
    with pytest.raises(InvalidCursor):
        searcher.page(org, "widget", cursor="not-a-cursor")


# --- snippets and hostile input --------------------------------------------------------------

def marks(snippet: str) -> list[str]:
    return [word.lower() for word in re.findall(r"<mark>(.*?)</mark>", snippet)]


def test_snippets_mark_the_words_and_escape_the_text(searcher, contract_desk):
    desk = contract_desk
    hits = searcher.page(desk.a, "printer").hits
    assert hits and all(marks(hit.snippet) and set(marks(hit.snippet)) == {"printer"}
                        for hit in hits)
    tagged = next(hit for hit in hits if hit.id == desk.t6.id)
    assert "<b>" not in tagged.snippet and "&lt;b&gt;" in tagged.snippet
    (message,) = searcher.page(desk.a, "toner", type="messages").hits
    assert "toner" in marks(message.snippet) and "<script>" not in message.snippet
    (customer,) = searcher.page(desk.a, "acme", type="customers").hits
    assert marks(customer.snippet) == ["acme"]


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_input_returns_a_page(searcher, contract_desk, text):
    desk = contract_desk
    for doc_type in DOC_TYPES:
        for sort in SORTS:
            page = searcher.page(desk.a, text, type=doc_type, sort=sort)
            assert isinstance(page.hits, list)
            assert {hit.id for hit in page.hits} <= desk.owned[desk.a.id][doc_type]


# --- tenants ---------------------------------------------------------------------------------

ISOLATION_TEXTS = ["printer", "fire", "invoice OR alarm", "alice", "acme",
                   "alice.smith@example.com", "1", "#1", "#3", '"on fire"', "kettle",
                   '"blue kettle"', "toner", "robert", "1001", "#1002"]


def test_an_org_never_sees_another_orgs_documents(searcher, contract_desk):
    desk = contract_desk
    for org in (desk.a, desk.b):
        for text in ISOLATION_TEXTS:
            for doc_type in DOC_TYPES:
                for sort in SORTS:
                    ids = set(searcher.ids(org, text, type=doc_type, sort=sort))
                    assert ids <= desk.owned[org.id][doc_type], (org.id, text, doc_type)
    b_number_three = desk.b_tickets[2]
    page = searcher.page(desk.b, f"#{desk.t3.number}")
    assert [(hit.id, hit.exact) for hit in page.hits] == [(b_number_three.id, True)]
    page = searcher.page(desk.b, "alice.smith@example.com", type="customers")
    assert [(hit.id, hit.exact) for hit in page.hits] == [(desk.b_alice, True)]
    # The same order numbers, addresses and product names: each org its own orders only.
    b_first, b_second = desk.b_orders
    assert b_second.number == desk.o2.number
    page = searcher.page(desk.b, f"#{desk.o2.number}", type="orders")
    assert [(hit.id, hit.exact) for hit in page.hits] == [(b_second.id, True)]
    assert searcher.ids(desk.b, "alice.smith@example.com", type="orders") == [b_first.id]
    assert searcher.ids(desk.b, "blue kettle", type="orders") == [b_second.id, b_first.id]
    assert searcher.ids(desk.a, "blue kettle", type="orders") == [desk.o2.id, desk.o1.id]
    assert searcher.ids(desk.b, "blue kettle", type="orders",
                        customer_id=desk.bob) == []  # A's customer id filters B to nothing


@pytest.mark.parametrize("sort", SORTS)
@pytest.mark.parametrize("doc_type", ["tickets", "messages"])
def test_another_orgs_cursor_pages_only_through_ones_own(searcher, contract_desk, sort,
                                                         doc_type):
    desk = contract_desk
    cursor = searcher.page(desk.a, "printer OR fire", type=doc_type, sort=sort,
                           limit=1).next_cursor
    assert cursor
    page = searcher.page(desk.b, "printer OR fire", type=doc_type, sort=sort, cursor=cursor)
    assert {hit.id for hit in page.hits} <= desk.owned[desk.b.id][doc_type]
    if sort == "newest":  # B's rows are older than A's: the cursor passes over none of them
        assert page.hits

"""The Elasticsearch backend without a server: its mappings, and the exact requests it sends.

The official client runs unchanged down to the transport; a recording node class takes the
place of the HTTP connection and answers with fixed, minimal replies (acknowledgements, an empty
or canned hit list). Nothing here checks what Elasticsearch would find: that is the contract
suite's job (tests/search/test_contract.py), against a real server.
"""

from __future__ import annotations

import html
import json
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pytest
from elastic_transport import ApiResponseMeta, BaseNode, ConnectionError, HttpHeaders
from elastic_transport._node import NodeApiResponse
from elasticsearch import ApiError, Elasticsearch
from sqlalchemy import select

from helpdesk.core.jobs import get_queue
from helpdesk.extensions import db
from helpdesk.search import cursors, indexing
from helpdesk.search.backend import InvalidCursor
from helpdesk.search.elastic import NOT_BUILT, UNAVAILABLE, ElasticBackend
from helpdesk.search.elastic_bodies import (
    FLAGS,
    LANGUAGES,
    MAPPINGS,
    exact_body,
    hits_from,
    query_body,
    web_query,
)
from helpdesk.search.postgres import TOO_LONG
from helpdesk.search.query import DOC_TYPES, SearchQuery
from helpdesk.tickets.models import Message, Priority, Status, Ticket

ORG = 7
HOSTILE = ['"unbalanced', 'a "b', "-", "OR", "OR OR", '-"', '""', "|", "()", ")(", "((a", "\\",
           "*", "foo*", "+", "~2", "title:foo AND bar~2 [a TO b]", "a" * 10_000,
           "printer " * 1500, "😀 printer 🔥", "prin\x00ter", "\x00", "\ud800 lone surrogate",
           "'; DROP TABLE tickets; --", "<script>alert(1)</script>", "#", "#0",
           "#99999999999999999999", "a@b", "@@@.com", "{\"query\": 1}", "a -(b | c)"]


class Wire:
    """What the client sent, and the fixed replies it gets."""

    def __init__(self):
        self.sent: list[dict] = []
        self.aliases: set[str] = set()  # aliases that exist (HEAD /_alias/<name>)
        self.concrete: dict[str, list[str]] = {}  # alias -> its indices (GET /_alias/<name>)
        self.search_replies: list[dict] = []
        self.status: dict[str, int] = {}  # path suffix -> error status
        self.refuse = False  # the node is unreachable

    def requests(self, method: str | None = None, suffix: str = "") -> list[dict]:
        return [r for r in self.sent
                if (method is None or r["method"] == method) and r["path"].endswith(suffix)]

    def answer(self, node_config, method: str, target: str, body: bytes | None):
        if self.refuse:
            raise ConnectionError("connection refused")
        url = urlsplit(target)
        text = (body or b"").decode()
        lines = [json.loads(line) for line in text.splitlines() if line.strip()]
        record = {"method": method, "path": url.path, "params": parse_qs(url.query),
                  "body": lines[0] if len(lines) == 1 and "_bulk" not in url.path else lines}
        self.sent.append(record)
        status, payload = 200, {"acknowledged": True}
        name = url.path.rsplit("/", 1)[-1]
        if method == "HEAD":
            status, payload = (200 if name in self.aliases else 404), None
        elif url.path.endswith("/_search"):
            payload = (self.search_replies.pop(0) if self.search_replies
                       else {"timed_out": False, "hits": {"hits": []}})
        elif url.path.endswith("/_bulk"):
            operations = [line for line in lines if set(line) & {"index", "delete"}]
            payload = {"errors": False, "items": [
                {next(iter(op)): {"status": 200}} for op in operations]}
        elif method == "GET" and url.path.startswith("/_alias/"):
            found = self.concrete.get(name)
            status, payload = (200, {i: {"aliases": {name: {}}} for i in found}) if found else (
                404, {"error": f"alias [{name}] missing", "status": 404})
        for suffix, error in self.status.items():
            if url.path.endswith(suffix):
                status, payload = error, {"error": {"type": "x", "reason": "x"}, "status": error}
        headers = HttpHeaders({"x-elastic-product": "Elasticsearch",
                               "content-type": "application/json"})
        meta = ApiResponseMeta(status=status, http_version="1.1", headers=headers,
                               duration=0.0, node=node_config)
        return NodeApiResponse(meta, b"" if payload is None else json.dumps(payload).encode())


@pytest.fixture
def es_wire():
    """(backend, wire): an ElasticBackend (prefix "t") whose client talks to a Wire."""
    wire = Wire()

    class RecordingNode(BaseNode):
        def perform_request(self, method, target, body=None, headers=None, request_timeout=None):
            return wire.answer(self.config, method, target, body)

    client = Elasticsearch("http://es.test:9200", node_class=RecordingNode, max_retries=0)
    wire.aliases = {"t-tickets", "t-messages", "t-customers", "t-orders"}
    return ElasticBackend("http://es.test:9200", prefix="t", client=client), wire


def q(text="printer", **kwargs) -> SearchQuery:
    return SearchQuery(text=text, **{"type": "tickets", **kwargs})


def org_filter_first(body: dict, org_id: int = ORG) -> None:
    assert body["query"]["bool"]["filter"][0] == {"term": {"org_id": str(org_id)}}


# --- mappings --------------------------------------------------------------------------------

def test_every_index_is_strict_and_keyed_by_org(es_wire):
    backend, wire = es_wire
    wire.aliases = set()
    backend.ensure_indices()
    created = wire.requests("PUT")
    assert [r["path"].split("-v")[0] for r in created] == [f"/t-{t}" for t in DOC_TYPES]
    for request, doc_type in zip(created, DOC_TYPES, strict=True):
        body = request["body"]
        assert body["mappings"]["dynamic"] == "strict"
        properties = body["mappings"]["properties"]
        assert properties["org_id"] == {"type": "keyword"}
        assert properties["id"] == {"type": "long"}
        assert properties["created_at"] == {"type": "date"}
        assert body["aliases"] == {f"t-{doc_type}": {}}
        assert request["path"][len(f"/t-{doc_type}-v"):].isdigit()
        assert "words" in body["settings"]["analysis"]["analyzer"]


def test_text_fields_have_one_subfield_per_language():
    texts = {(t, name): spec for t, props in MAPPINGS.items() for name, spec in props.items()
             if spec.get("type") == "text" and "fields" in spec}
    assert set(texts) == {("tickets", "subject"), ("messages", "sender_name"),
                          ("messages", "body"), ("customers", "name"),
                          ("customers", "company"), ("orders", "name"), ("orders", "products")}
    for spec in texts.values():
        assert spec["analyzer"] == "words"
        assert spec["fields"] == {lang: {"type": "text", "analyzer": lang} for lang in LANGUAGES}


def test_messages_carry_their_tickets_fields_and_addresses_are_keywords():
    messages = MAPPINGS["messages"]
    for name in ("ticket_number", "ticket_status", "priority", "assignee_id", "tags",
                 "customer_id", "subject"):
        assert name in messages
    assert messages["ticket_status"] == messages["priority"] == {"type": "keyword"}
    for address in (messages["sender_email"], MAPPINGS["customers"]["email"]):
        assert address["type"] == "keyword" and address["normalizer"] == "lower"
        assert address["fields"]["parts"]["search_analyzer"] == "words"


# --- the query text --------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ("printer fire", "printer fire"),
    ('"on fire"', '"on fire"'),
    ("invoice OR alarm", "(invoice) | (alarm)"),
    ("a b or c", "(a b) | (c)"),  # AND binds tighter than OR, as in a tsquery
    ("printer -fire", "printer -fire"),
    ('-"on fire" printer', '-"on fire" printer'),
    ('"unbalanced quote', '"unbalanced quote"'),
    ("a|b (c)", '"a b" c'),  # operator characters are not operators
    ("-", ""), ("OR", ""), ('""', ""),
    ("title:foo AND bar~2 [a TO b]", "title:foo AND bar~2 [a TO b]"),
])
def test_web_search_syntax_becomes_simple_query_string(text, expected):
    assert web_query(SearchQuery(text=text).text) == expected


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_text_gives_balanced_operators_only(text):
    query = web_query(SearchQuery(text=text).text)
    assert query.count('"') % 2 == 0
    assert "\x00" not in query
    groups = query.split(" | ")
    if len(groups) > 1:
        assert all(g.startswith("(") and g.endswith(")") for g in groups)
        groups = [g[1:-1] for g in groups]
    assert not any(set(g) & set("|()") for g in groups)


def test_the_simple_query_string_is_safe_and_and_ed():
    clause = query_body(ORG, "simple", q())["query"]["bool"]["must"][0]["simple_query_string"]
    assert clause["flags"] == FLAGS == "OR|NOT|PHRASE|PRECEDENCE|WHITESPACE"
    assert clause["default_operator"] == "and"
    assert clause["lenient"] is True


@pytest.mark.parametrize(("language", "subject", "body"), [
    ("german", "subject.german", "body.german"),
    ("english", "subject.english", "body.english"),
    ("simple", "subject", "body"),
    ("finnish", "subject", "body"),  # no subfield for it: the plain words
])
def test_the_orgs_language_picks_the_subfields(language, subject, body):
    tickets = query_body(ORG, language, q())
    fields = tickets["query"]["bool"]["must"][0]["simple_query_string"]["fields"]
    assert fields == [f"{subject}^1", "number^1"]
    assert list(tickets["highlight"]["fields"]) == [subject]
    messages = query_body(ORG, language, q(type="messages"))
    fields = messages["query"]["bool"]["must"][0]["simple_query_string"]["fields"]
    assert f"{body}^1" in fields and "sender_email^2" in fields
    assert list(messages["highlight"]["fields"]) == [body]


# --- filters, sort, cursor, highlight --------------------------------------------------------

SINCE, UNTIL = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC)
FILTERS = [
    ({"statuses": (Status.OPEN, Status.PENDING)},
     {"tickets": {"terms": {"status": ["open", "pending"]}},
      "messages": {"terms": {"ticket_status": ["open", "pending"]}}}),
    ({"priorities": (Priority.HIGH,)}, {"terms": {"priority": ["high"]}}),
    ({"assignee": 12}, {"term": {"assignee_id": 12}}),
    ({"assignee": "none"}, {"bool": {"must_not": [{"exists": {"field": "assignee_id"}}]}}),
    ({"tag": "VIP"}, {"term": {"tags": "vip"}}),
    ({"customer_id": 5}, {"term": {"customer_id": 5}}),
]


@pytest.mark.parametrize("doc_type", ["tickets", "messages"])
@pytest.mark.parametrize(("kwargs", "expected"), FILTERS)
def test_ticket_filters_follow_the_org_filter(doc_type, kwargs, expected):
    body = query_body(ORG, "simple", q(type=doc_type, **kwargs))
    org_filter_first(body)
    expected = expected.get(doc_type, expected) if "tickets" in expected else expected
    assert body["query"]["bool"]["filter"][1:] == [expected]


@pytest.mark.parametrize("doc_type", DOC_TYPES)
def test_dates_apply_to_every_type_and_customers_ignore_ticket_filters(doc_type):
    kwargs = {key: value for filters, _ in FILTERS for key, value in filters.items()}
    body = query_body(ORG, "simple", q(type=doc_type, since=SINCE, until=UNTIL, **kwargs))
    clauses = body["query"]["bool"]["filter"]
    org_filter_first(body)
    assert clauses[-1] == {"range": {"created_at": {"gte": SINCE.isoformat(),
                                                    "lt": UNTIL.isoformat()}}}
    # org, then status, priority, assignee, tag and customer for tickets and messages; the
    # customer alone for orders
    assert len(clauses) == {"customers": 2, "orders": 3}.get(doc_type, 7)
    if doc_type == "orders":
        assert clauses[1] == {"term": {"customer_id": 5}}


@pytest.mark.parametrize("doc_type", DOC_TYPES)
@pytest.mark.parametrize("sort", ["newest", "relevance"])
def test_sort_and_search_after_never_from(doc_type, sort):
    after = [3.25, 41] if sort == "relevance" else [41]
    first = query_body(ORG, "simple", q(type=doc_type, sort=sort, limit=10))
    later = query_body(ORG, "simple", q(type=doc_type, sort=sort, limit=10), after)
    expected = ([{"_score": "desc"}, {"id": "desc"}] if sort == "relevance"
                else [{"id": "desc"}])
    for body in (first, later):
        assert body["sort"] == expected
        assert body["size"] == 11 and "from" not in body
        assert body["track_total_hits"] is False
        org_filter_first(body)
    assert "search_after" not in first and later["search_after"] == after


@pytest.mark.parametrize("doc_type", DOC_TYPES)
def test_highlights_are_marked_and_html_encoded(doc_type):
    highlight = query_body(ORG, "simple", q(type=doc_type))["highlight"]
    assert highlight["pre_tags"] == ["<mark>"] and highlight["post_tags"] == ["</mark>"]
    assert highlight["encoder"] == "html"
    if doc_type == "messages":
        assert highlight["fields"]["body"]["number_of_fragments"] == 2
        assert highlight["fields"]["body"]["no_match_size"] > 0
    else:
        assert all(o == {"number_of_fragments": 0} for o in highlight["fields"].values())


def test_an_exact_number_is_its_own_query_and_left_out_of_the_rest():
    query = q("#42", statuses=(Status.OPEN,))
    main, exact = query_body(ORG, "simple", query), exact_body(ORG, "simple", query)
    assert main["query"]["bool"]["must_not"] == [{"term": {"number": 42}}]
    assert exact["query"]["bool"]["filter"] == [
        {"term": {"org_id": str(ORG)}}, {"terms": {"status": ["open"]}}, {"term": {"number": 42}}]
    assert exact["size"] == 1
    assert exact["highlight"]["highlight_query"] == main["query"]["bool"]["must"][0]


def test_an_exact_address_is_its_own_query_for_customers_only():
    customers = q("Jane.Doe@Example.com", type="customers")
    assert exact_body(ORG, "simple", customers)["query"]["bool"]["filter"] == [
        {"term": {"org_id": str(ORG)}}, {"term": {"email": "jane.doe@example.com"}}]
    assert exact_body(ORG, "simple", q("Jane.Doe@Example.com", type="messages")) is None
    assert exact_body(ORG, "simple", q("42", type="messages")) is None
    assert "must_not" not in query_body(ORG, "simple", q("42", type="customers"))["query"]["bool"]


@pytest.mark.parametrize("text", HOSTILE)
@pytest.mark.parametrize("doc_type", DOC_TYPES)
def test_hostile_text_builds_a_valid_body(text, doc_type):
    for query in (q(text, type=doc_type), q(text, type=doc_type, sort="relevance")):
        for body in (query_body(ORG, "english", query), exact_body(ORG, "english", query)):
            if body is None:
                continue
            org_filter_first(json.loads(json.dumps(body)))
            assert "\x00" not in json.dumps(body)


# --- what search() sends ---------------------------------------------------------------------

def hit(doc_id: int, sort: list, **source) -> dict:
    base = {"id": doc_id, "created_at": "2026-03-01T10:00:00+00:00", "subject": "Printer",
            "number": doc_id, "status": "open", "customer_id": 1, "customer_email": "a@b.test"}
    return {"_id": f"{ORG}-{doc_id}", "_score": 1.5, "sort": sort,
            "_source": {**base, **source}}


def test_search_is_routed_to_the_alias_with_the_built_body(es_wire):
    backend, wire = es_wire
    query = q(statuses=(Status.OPEN,), sort="relevance")
    backend.search(ORG, "german", query)
    (request,) = wire.sent
    assert (request["method"], request["path"]) == ("POST", "/t-tickets/_search")
    assert request["params"] == {"routing": [str(ORG)]}
    assert request["body"] == json.loads(json.dumps(query_body(ORG, "german", query)))


def test_page_one_asks_for_the_exact_match_first_later_pages_do_not(es_wire):
    backend, wire = es_wire
    wire.search_replies = [{"hits": {"hits": [hit(42, [42])]}},
                           {"hits": {"hits": [hit(9, [9]), hit(8, [8])]}}]
    page = backend.search(ORG, "simple", q("#42", limit=1))
    exact_request, main_request = wire.sent
    assert exact_request["body"]["query"]["bool"]["filter"][-1] == {"term": {"number": 42}}
    assert main_request["body"]["query"]["bool"]["must_not"] == [{"term": {"number": 42}}]
    assert [(h.id, h.exact) for h in page.hits] == [(42, True), (9, False)]
    assert cursors.decode_after(page.next_cursor, "tickets", "newest") == [9]

    wire.sent.clear()
    backend.search(ORG, "simple", q("#42", limit=1, cursor=page.next_cursor))
    (request,) = wire.sent
    assert request["body"]["search_after"] == [9]
    assert request["body"]["query"]["bool"]["must_not"] == [{"term": {"number": 42}}]
    assert request["params"] == {"routing": [str(ORG)]}


def test_relevance_cursor_carries_score_and_id(es_wire):
    backend, wire = es_wire
    wire.search_replies = [{"hits": {"hits": [hit(5, [2.5, 5]), hit(4, [1.25, 4])]}}]
    page = backend.search(ORG, "simple", q(sort="relevance", limit=1))
    assert page.hits[0].score == 1.5
    backend.search(ORG, "simple", q(sort="relevance", limit=1, cursor=page.next_cursor))
    assert wire.sent[-1]["body"]["search_after"] == [2.5, 5]


@pytest.mark.parametrize("cursor", [
    cursors.encode("messages", "newest", [5]),  # another type
    cursors.encode("tickets", "newest", [5]),  # another ordering
    cursors.encode("tickets", "relevance", [9, 0.5, 5]),  # PostgreSQL's chunked shape
    cursors.encode("tickets", "relevance", [True, 5]),
    cursors.encode("tickets", "relevance", ["1.5", 5]),
    "bm90IGpzb24", "!!!", "x" * 400,
])
def test_a_foreign_cursor_is_refused_before_anything_is_sent(es_wire, cursor):
    backend, wire = es_wire
    with pytest.raises(InvalidCursor):
        backend.search(ORG, "simple", q(sort="relevance", cursor=cursor))
    assert wire.sent == []


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_text_reaches_the_wire_as_valid_json(es_wire, text):
    backend, wire = es_wire
    for doc_type in DOC_TYPES:
        page = backend.search(ORG, "english", q(text, type=doc_type))
        assert isinstance(page.hits, list)
    for request in wire.sent:
        org_filter_first(request["body"])
        assert request["params"]["routing"] == [str(ORG)]


def test_a_timeout_or_an_outage_is_a_notice(es_wire):
    backend, wire = es_wire
    wire.search_replies = [{"timed_out": True, "hits": {"hits": [hit(1, [1])]}}]
    assert backend.search(ORG, "simple", q()).notice == TOO_LONG
    wire.status = {"/_search": 404}
    assert backend.search(ORG, "simple", q()).notice == NOT_BUILT
    wire.status = {"/_search": 503}
    assert backend.search(ORG, "simple", q()).notice == UNAVAILABLE
    wire.status, wire.refuse = {}, True
    assert backend.search(ORG, "simple", q()).notice == UNAVAILABLE


# --- hits from a response --------------------------------------------------------------------

def test_highlights_become_snippets_and_plain_text_is_escaped():
    marked = hit(1, [1], subject="<b>Printer</b>")
    marked["highlight"] = {"subject.english": ["&lt;b&gt;<mark>Printer</mark>&lt;&#x2F;b&gt;"]}
    plain = hit(2, [2], subject="<b>Printer</b> & co")
    first, second = hits_from("tickets", [marked, plain])
    assert first.snippet == "&lt;b&gt;<mark>Printer</mark>&lt;&#x2F;b&gt;"
    assert second.snippet == html.escape("<b>Printer</b> & co", quote=False)
    assert (first.type, first.title, first.ticket_number, first.score) == (
        "ticket", "<b>Printer</b>", 1, None)

    message = {"_score": 2.0, "_source": {
        "id": 3, "created_at": "2026-03-01T10:00:00+00:00", "subject": "S", "ticket_number": 7,
        "ticket_status": "new", "customer_id": 1, "kind": "customer"},
        "highlight": {"body": ["the <mark>printer</mark>", "a <mark>printer</mark> again"]}}
    (found,) = hits_from("messages", [message], scored=True)
    assert found.snippet == "the <mark>printer</mark> … a <mark>printer</mark> again"
    assert (found.type, found.ticket_number, found.message_kind, found.score) == (
        "message", 7, "customer", 2.0)

    customer = {"_source": {"id": 4, "created_at": "2026-03-01T10:00:00+00:00", "name": "Jo",
                            "email": "jo@x.test", "company": "A & B"},
                "highlight": {"email.parts": ["<mark>jo</mark>@x.test"]}}
    (person,) = hits_from("customers", [customer], exact=True)
    assert person.snippet == "Jo · <mark>jo</mark>@x.test · A &amp; B"
    assert (person.type, person.title, person.customer_id, person.exact) == (
        "customer", "Jo", 4, True)


# --- indexing: documents from PostgreSQL -----------------------------------------------------

def bulk_operations(wire) -> list[tuple[dict, dict | None]]:
    """(action, document) pairs of every bulk request sent."""
    pairs = []
    for request in wire.requests("PUT", "/_bulk"):
        assert request["params"]["require_alias"] == ["true"]
        lines = iter(request["body"])
        for action in lines:
            pairs.append((action, next(lines) if "index" in action else None))
    return pairs


def test_index_sends_the_ticket_its_messages_and_customer_routed_by_org(
        es_wire, make_org, make_ticket, in_org):
    backend, wire = es_wire
    org, other = make_org(), make_org()
    ticket = make_ticket(org, subject="Printer on fire", tags=["hardware"])
    foreign = make_ticket(other, subject="Secret of another org")
    with in_org(org.id):
        backend.index(org.id, "tickets", [ticket.id, foreign.id])
        message_id = db.session.scalar(select(Message.id).where(Message.ticket_id == ticket.id))
    operations = bulk_operations(wire)
    for action, _ in operations:
        (meta,) = action.values()
        assert meta["routing"] == str(org.id) and meta["_id"].startswith(f"{org.id}-")
    documents = {(a["index"]["_index"], d["id"]): d for a, d in operations if d}
    for (index, _), document in documents.items():  # the mappings are strict
        assert set(document) <= set(MAPPINGS[index.removeprefix("t-")])
    assert set(documents) == {("t-tickets", ticket.id), ("t-messages", message_id),
                              ("t-customers", ticket.customer_id)}
    assert all(d["org_id"] == str(org.id) for d in documents.values())
    sent = documents["t-tickets", ticket.id]
    assert (sent["number"], sent["subject"], sent["status"], sent["tags"]) == (
        ticket.number, "Printer on fire", "new", ["hardware"])
    copied = documents["t-messages", message_id]
    assert (copied["ticket_number"], copied["ticket_status"], copied["subject"]) == (
        ticket.number, "new", "Printer on fire")
    assert copied["body"] == "It has not arrived yet."
    assert copied["sender_email"] == "buyer@example.com"
    # Another org's id is only ever deleted under this org's key (which it never had).
    assert {"delete": {"_index": "t-tickets", "_id": f"{org.id}-{foreign.id}",
                       "routing": str(org.id)}} in [a for a, _ in operations]
    assert "Secret" not in json.dumps(wire.sent)


def test_index_writes_to_the_index_being_built_too(es_wire, make_org, make_customer, in_org):
    backend, wire = es_wire
    wire.aliases.add("t-customers-building")
    org = make_org()
    customer = make_customer(org, email="jo@example.com", name="Jo")
    with in_org(org.id):
        backend.index(org.id, "customers", [customer.id])
    targets = [a["index"]["_index"] for a, _ in bulk_operations(wire)]
    assert targets == ["t-customers", "t-customers-building"]


def test_a_deleted_ticket_takes_its_messages_along(es_wire, make_org, in_org):
    backend, wire = es_wire
    org = make_org()
    with in_org(org.id):
        backend.index(org.id, "tickets", [123456789])
    (request,) = wire.requests("POST", "/_delete_by_query")
    assert request["path"] == "/t-messages/_delete_by_query"
    assert request["params"]["routing"] == [str(org.id)]
    assert request["body"]["query"]["bool"]["filter"] == [
        {"term": {"org_id": str(org.id)}}, {"terms": {"ticket_id": [123456789]}}]


def test_reindex_sends_the_org_and_drops_what_it_did_not_send(
        es_wire, make_org, make_ticket, in_org):
    backend, wire = es_wire
    org = make_org()
    make_ticket(org)
    with in_org(org.id):
        count = backend.reindex(org.id, "english")
    assert count == 3  # a ticket, its message, its customer
    assert all(r["path"] == "/_bulk" for r in wire.requests("PUT"))  # no index created
    deletes = wire.requests("POST", "/_delete_by_query")
    assert [d["path"] for d in deletes] == [f"/t-{t}/_delete_by_query" for t in DOC_TYPES]
    for request in deletes:
        org_filter, stale = request["body"]["query"]["bool"]["filter"]
        assert org_filter == {"term": {"org_id": str(org.id)}}
        assert set(stale["range"]["indexed_at"]) == {"lt"}
        assert request["params"]["routing"] == [str(org.id)]


def test_rebuild_fills_new_indices_then_swaps_the_aliases_at_once(
        es_wire, make_org, make_ticket, make_shop_order, as_system):
    backend, wire = es_wire
    org = make_org()
    make_ticket(org)
    make_shop_order(org, "jo@example.com", "Jo", [("Brass compass", 1)])
    wire.concrete = {f"t-{t}": [f"t-{t}-v1"] for t in DOC_TYPES}
    with as_system():
        assert backend.rebuild_all() >= 3
    created = [r for r in wire.requests("PUT") if r["path"] != "/_bulk"]
    new = {r["path"][1:] for r in created}
    assert all(r["body"]["aliases"] == {r["path"][1:].split("-v")[0] + "-building": {}}
               for r in created)
    targets = {a["index"]["_index"] for a, _ in bulk_operations(wire)}
    assert targets == {f"t-{t}-building" for t in DOC_TYPES}
    (swap,) = wire.requests("POST", "/_aliases")
    actions = swap["body"]["actions"]
    for doc_type in DOC_TYPES:
        index = next(name for name in new if name.startswith(f"t-{doc_type}-v"))
        assert {"remove": {"index": f"t-{doc_type}-v1", "alias": f"t-{doc_type}"}} in actions
        assert {"add": {"index": index, "alias": f"t-{doc_type}"}} in actions
        assert {"remove": {"index": index, "alias": f"t-{doc_type}-building"}} in actions
    (dropped,) = wire.requests("DELETE")
    assert dropped["path"] == "/" + ",".join(f"t-{t}-v1" for t in DOC_TYPES)
    assert wire.sent.index(swap) < wire.sent.index(dropped)


def test_a_failed_rebuild_deletes_its_new_indices_and_keeps_the_old(
        es_wire, make_org, make_ticket, as_system):
    backend, wire = es_wire
    make_ticket(make_org())
    wire.status = {"/_bulk": 500}
    with as_system(), pytest.raises(ApiError):
        backend.rebuild_all()
    assert wire.requests("POST", "/_aliases") == []
    (dropped,) = wire.requests("DELETE")
    assert all("-v" in name and not name.endswith("-v1")
               for name in dropped["path"][1:].split(","))


# --- indexing: the session hooks -------------------------------------------------------------

@pytest.fixture
def search_hooks(app):
    """The Elasticsearch session hooks, installed for one test; yields the queued jobs."""
    session_class = db.session.session_factory.class_
    indexing.install(session_class)

    def queued():
        with app.app_context():
            return [(job.func_name.rsplit(".", 1)[-1], *job.args)
                    for job in get_queue("search").jobs]

    yield queued
    indexing.uninstall(session_class)


def test_committed_changes_queue_one_job_per_org_and_type(
        search_hooks, make_org, make_ticket, make_customer, in_org):
    org = make_org()
    customer = make_customer(org, email="jo@example.com")
    ticket = make_ticket(org, customer_email="jo@example.com")
    with in_org(org.id) as session:
        message_id = session.scalar(select(Message.id).where(Message.ticket_id == ticket.id))
    assert search_hooks() == [("index_documents", org.id, "customers", [customer.id]),
                              ("index_documents", org.id, "tickets", [ticket.id]),
                              ("index_documents", org.id, "messages", [message_id])]


def test_only_indexed_fields_queue_a_ticket_and_rollbacks_queue_nothing(
        search_hooks, make_org, make_ticket, in_org, redis_client):
    org = make_org()
    ticket = make_ticket(org)
    redis_client.flushdb()
    with in_org(org.id) as session:
        session.get(Ticket, ticket.id).last_activity_at = datetime.now(UTC)
    assert search_hooks() == []
    with in_org(org.id) as session:
        session.get(Ticket, ticket.id).status = Status.OPEN
        session.flush()
        session.get(Ticket, ticket.id).priority = Priority.HIGH
    assert search_hooks() == [("index_documents", org.id, "tickets", [ticket.id])]
    redis_client.flushdb()
    with in_org(org.id) as session:
        session.get(Ticket, ticket.id).subject = "Never committed"
        session.flush()
        session.rollback()
    assert search_hooks() == []


def test_bulk_writes_are_queued_only_with_elasticsearch(app, make_org, in_org, monkeypatch):
    from helpdesk.tickets import bulk
    from helpdesk.tickets.services import find_or_create_customer

    def write_batch():
        with in_org(org.id):
            customer_id = find_or_create_customer("jo@example.com").id
            drafts = [bulk.TicketDraft(customer_id=customer_id, subject=f"Jam {n}")
                      for n in range(2)]
            mails = [bulk.MessageDraft(ticket=draft, customer_id=customer_id,
                                       body_text="Paper jam", body_html="<p>Paper jam</p>")
                     for draft in drafts]
            bulk.write(org.id, drafts, mails)
            indexing.queue_documents(org.id, "messages", [mails[0].id])  # again: no repeat
            return [d.id for d in drafts], [m.id for m in mails]

    org = make_org()
    write_batch()
    with app.app_context():
        assert get_queue("search").count == 0
    monkeypatch.setitem(app.config, "ELASTICSEARCH_URL", "http://es.test:9200")
    ticket_ids, message_ids = write_batch()
    with app.app_context():
        assert [job.args for job in get_queue("search").jobs] == [
            (org.id, "tickets", ticket_ids), (org.id, "messages", message_ids)]


def test_filters_alone_match_every_ticket_they_keep():
    body = query_body(7, "simple", SearchQuery(type="tickets", priorities=(Priority.URGENT,),
                                               sort="relevance"))
    assert body["query"]["bool"]["must"] == [{"match_all": {}}]
    assert body["query"]["bool"]["filter"][0] == {"term": {"org_id": "7"}}
    assert body["sort"] == query_body(7, "simple", SearchQuery(text="x", type="tickets"))["sort"]


# --- orders ----------------------------------------------------------------------------------

def test_orders_search_number_address_name_products_and_skus_by_language():
    orders = MAPPINGS["orders"]
    assert orders["email"]["type"] == "keyword" and orders["email"]["normalizer"] == "lower"
    assert orders["number"] == {"type": "long"} and orders["status"] == {"type": "keyword"}
    assert orders["total"]["index"] is False and orders["currency"]["index"] is False
    body = query_body(ORG, "german", q("kettle", type="orders"))
    fields = body["query"]["bool"]["must"][0]["simple_query_string"]["fields"]
    assert fields == ["number^2", "name.german^2", "email^2", "email.parts^2",
                      "products.german^1", "skus^1"]
    assert list(body["highlight"]["fields"]) == ["name.german", "email.parts", "products.german"]


def test_an_order_number_is_its_own_query_with_the_order_filters():
    query = q("#1042", type="orders", customer_id=5, statuses=(Status.OPEN,))
    main, exact = query_body(ORG, "simple", query), exact_body(ORG, "simple", query)
    assert main["query"]["bool"]["must_not"] == [{"term": {"number": 1042}}]
    # The ticket status has no order field: only the customer filter applies.
    assert exact["query"]["bool"]["filter"] == [
        {"term": {"org_id": str(ORG)}}, {"term": {"customer_id": 5}},
        {"term": {"number": 1042}}]
    assert exact_body(ORG, "simple", q("ada@example.com", type="orders")) is None


def test_an_order_hit_from_a_response():
    raw = {"_score": 3.0, "_source": {
        "id": 9, "created_at": "2026-03-01T10:00:00+00:00", "number": 1042, "status": "confirmed",
        "email": "ada@example.com", "name": "Ada <King>", "products": "Blue kettle, Mug & co",
        "skus": "KET-1 MUG-2", "customer_id": 4, "total": 2490, "currency": "EUR"},
        "highlight": {"products.english": ["Blue <mark>kettle</mark>, Mug &amp; co"]}}
    (order,) = hits_from("orders", [raw], scored=True)
    assert (order.type, order.id, order.title, order.order_number, order.order_status) == (
        "order", 9, "Order #1042", 1042, "confirmed")
    assert (order.order_total, order.currency, order.customer_id, order.customer_email) == (
        2490, "EUR", 4, "ada@example.com")
    assert order.snippet == ("Ada &lt;King&gt; · ada@example.com · "
                             "Blue <mark>kettle</mark>, Mug &amp; co")
    assert order.score == 3.0 and order.ticket_number is None


def test_index_sends_the_order_with_its_lines_and_its_customer(
        es_wire, make_org, make_shop_order, in_org):
    backend, wire = es_wire
    org, other = make_org(), make_org()
    order = make_shop_order(org, "ada@example.com", "Ada King",
                            [("Blue kettle", 1), ("Mug", 2)])
    foreign = make_shop_order(other, "ada@example.com", "Secret Person", [("Blue kettle", 1)])
    with in_org(org.id):
        backend.index(org.id, "orders", [order.id, foreign.id])
    operations = bulk_operations(wire)
    for action, _ in operations:
        (meta,) = action.values()
        assert meta["routing"] == str(org.id) and meta["_id"].startswith(f"{org.id}-")
    documents = {(a["index"]["_index"], d["id"]): d for a, d in operations if d}
    assert set(documents) == {("t-orders", order.id), ("t-customers", order.customer_id)}
    sent = documents["t-orders", order.id]
    assert set(sent) <= set(MAPPINGS["orders"])  # the mapping is strict
    assert sent | {"created_at": None, "indexed_at": None} == {
        "org_id": str(org.id), "id": order.id, "number": order.number, "status": "confirmed",
        "email": "ada@example.com", "name": "Ada King", "products": "Blue kettle, Mug",
        "skus": " ".join(order.skus), "customer_id": order.customer_id, "total": order.total,
        "currency": "EUR", "created_at": None, "indexed_at": None}
    assert {"delete": {"_index": "t-orders", "_id": f"{org.id}-{foreign.id}",
                       "routing": str(org.id)}} in [a for a, _ in operations]
    assert "Secret" not in json.dumps(wire.sent)


def test_orders_and_their_lines_queue_the_order(search_hooks, make_org, make_shop_order,
                                                in_org, redis_client):
    from storefront.models import Order, OrderLine

    org = make_org()
    order = make_shop_order(org, "ada@example.com", "Ada King", [("Blue kettle", 1)])
    assert ("index_documents", org.id, "orders", [order.id]) in search_hooks()
    redis_client.flushdb()
    with in_org(org.id) as session:
        session.scalar(select(OrderLine).where(OrderLine.order_id == order.id)
                       ).refunded_quantity = 1  # not in the document
    assert search_hooks() == []
    with in_org(org.id) as session:
        session.scalar(select(OrderLine).where(OrderLine.order_id == order.id)
                       ).product_name = "Green teapot"
    assert search_hooks() == [("index_documents", org.id, "orders", [order.id])]
    redis_client.flushdb()
    with in_org(org.id) as session:
        session.delete(session.scalar(select(OrderLine).where(OrderLine.order_id == order.id)))
        session.get(Order, order.id).shipping_address = {"name": "Ada Byron"}
    assert search_hooks() == [("index_documents", org.id, "orders", [order.id])]

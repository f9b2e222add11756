"""Elasticsearch, without a server: the mappings, and the request bodies and hit mapping as
pure functions (unit tested in tests/search/test_elastic_bodies.py).

Tenancy: every body is built around `filters()`, whose first clause is the org's term filter;
the backend adds routing by org_id to every request (helpdesk/search/elastic.py).

Languages: analyzers are per field, not per document, so each text field is analyzed more than
once: the field itself with a plain word analyzer (lower case, addresses and URLs kept whole,
like PostgreSQL's `simple`), and one subfield per language in LANGUAGES with Elasticsearch's
analyzer of that name. A search reads `subject.german` when the org's search language is
german, and `subject` for any language without a subfield. Adding a language means a new
subfield in the mappings and `flask search reindex`.

The text keeps PostgreSQL's web-search syntax (words all required, "phrases", OR, -exclusion):
`web_query` rewrites it for simple_query_string with only those operators enabled, so every
other character is plain text and no input can fail to parse.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from datetime import datetime

from helpdesk.search.backend import Hit
from helpdesk.search.query import SearchQuery

LANGUAGES = ("english", "german", "french", "spanish", "italian", "dutch", "portuguese")
FLAGS = "OR|NOT|PHRASE|PRECEDENCE|WHITESPACE"  # no prefix*, fuzzy~, +, \ or field: syntax
SEARCH_TIMEOUT = "4s"  # as PostgreSQL's statement timeout: a notice instead of a wait

# --- mappings ------------------------------------------------------------------------------

SETTINGS = {"analysis": {
    "analyzer": {
        "words": {"type": "custom", "tokenizer": "uax_url_email", "filter": ["lowercase"]},
        "address_parts": {"type": "custom", "tokenizer": "address_parts", "filter": ["lowercase"]},
    },
    "tokenizer": {"address_parts": {"type": "pattern", "pattern": "[^\\p{L}\\p{N}]+"}},
    "normalizer": {"lower": {"type": "custom", "filter": ["lowercase"]}},
}}
KEYWORD, LONG, DATE = {"type": "keyword"}, {"type": "long"}, {"type": "date"}
STORED = {"type": "keyword", "index": False, "doc_values": False}  # shown, never searched
TEXT = {"type": "text", "analyzer": "words",
        "fields": {language: {"type": "text", "analyzer": language} for language in LANGUAGES}}
# Found whole (a term) and by its parts: the query side keeps a typed address whole, so
# `jane@example.com` matches the address and `jane` a part, as in PostgreSQL.
ADDRESS = {"type": "keyword", "normalizer": "lower", "fields": {
    "parts": {"type": "text", "analyzer": "address_parts", "search_analyzer": "words"}}}
COMMON = {"org_id": KEYWORD, "id": LONG, "created_at": DATE, "indexed_at": DATE}
TICKET = {"priority": KEYWORD, "assignee_id": LONG, "tags": KEYWORD, "customer_id": LONG}
MAPPINGS = {
    "tickets": {**COMMON, **TICKET, "number": LONG, "status": KEYWORD, "subject": TEXT,
                "customer_email": STORED},
    # The ticket's fields are copied onto its messages: filters need no join.
    "messages": {**COMMON, **TICKET, "ticket_id": LONG, "ticket_number": LONG,
                 "ticket_status": KEYWORD, "subject": STORED, "kind": KEYWORD,
                 "sender_name": TEXT, "sender_email": ADDRESS, "body": TEXT},
    "customers": {**COMMON, "name": TEXT, "email": ADDRESS, "company": TEXT,
                  "phone": {"type": "text", "analyzer": "words"}},
    # The lines' product names and SKUs are folded into the order (one line each, comma- and
    # space-separated): the snippet shows them whole, as PostgreSQL's does.
    "orders": {**COMMON, "number": LONG, "status": KEYWORD, "customer_id": LONG,
               "email": ADDRESS, "name": TEXT, "products": TEXT,
               "skus": {"type": "text", "analyzer": "words"},
               "total": {"type": "long", "index": False}, "currency": STORED},
}
# (field, boost, has language subfields); PostgreSQL weighs the same fields A over B.
SEARCHED = {
    "tickets": (("subject", 1, True), ("number", 1, False)),
    "messages": (("sender_name", 2, True), ("sender_email", 2, False),
                 ("sender_email.parts", 2, False), ("body", 1, True)),
    "customers": (("name", 2, True), ("email", 2, False), ("email.parts", 2, False),
                  ("company", 1, True), ("phone", 1, False)),
    "orders": (("number", 2, False), ("name", 2, True), ("email", 2, False),
               ("email.parts", 2, False), ("products", 1, True), ("skus", 1, False)),
}
WHOLE = {"number_of_fragments": 0}
HIGHLIGHTED = {  # field -> options; the snippet is built from these (see _snippet)
    "tickets": {"subject": WHOLE},
    "messages": {"body": {"fragment_size": 150, "number_of_fragments": 2, "no_match_size": 150}},
    "customers": {"name": WHOLE, "email.parts": WHOLE, "company": WHOLE},
    "orders": {"name": WHOLE, "email.parts": WHOLE, "products": WHOLE},
}
SORT = {"newest": [{"id": "desc"}], "relevance": [{"_score": "desc"}, {"id": "desc"}]}


def field_name(name: str, language: str) -> str:
    return f"{name}.{language}" if language in LANGUAGES else name


# --- request bodies (pure) -----------------------------------------------------------------

_TOKEN = re.compile(r'(?P<not>-*)"(?P<phrase>[^"]*)"?|(?P<word>[^\s"]+)')
_OPERATORS = re.compile(r'[|()"]+')


def web_query(text: str) -> str:
    """PostgreSQL's websearch syntax as simple_query_string text (FLAGS): words AND-ed, OR
    binding looser than AND (as in a tsquery), `-` excluding; the operator characters of
    simple_query_string in the user's words become spaces."""
    groups: list[list[str]] = [[]]
    for match in _TOKEN.finditer(text):
        word = match.group("word")
        if word is not None and word.lower() == "or":
            groups.append([])
            continue
        if word is not None:
            negated, word = word.startswith("-"), word.lstrip("-")
            parts = [part.lstrip("-") for part in _OPERATORS.sub(" ", word).split()]
            term = " ".join(part for part in parts if part)
            if term and len(parts) > 1:
                term = f'"{term}"'  # one typed word split by symbols stays together
        else:
            negated = bool(match.group("not"))
            term = " ".join(_OPERATORS.sub(" ", match.group("phrase")).split())
            term = term and f'"{term}"'
        if term:
            groups[-1].append(f"-{term}" if negated else term)
    groups = [group for group in groups if group]
    if len(groups) == 1:
        return " ".join(groups[0])
    return " | ".join(f"({' '.join(group)})" for group in groups)


def text_query(doc_type: str, language: str, text: str) -> dict:
    fields = [f"{field_name(name, language) if localized else name}^{boost}"
              for name, boost, localized in SEARCHED[doc_type]]
    return {"simple_query_string": {"query": web_query(text), "fields": fields,
                                    "default_operator": "and", "flags": FLAGS, "lenient": True}}


def filters(org_id: int, query: SearchQuery) -> list[dict]:
    """The tenant filter first, always; then the query's filters for its type."""
    clauses: list[dict] = [{"term": {"org_id": str(org_id)}}]
    if query.type in ("tickets", "messages"):
        status = "status" if query.type == "tickets" else "ticket_status"
        if query.statuses:
            clauses.append({"terms": {status: [s.value for s in query.statuses]}})
        if query.priorities:
            clauses.append({"terms": {"priority": [p.value for p in query.priorities]}})
        if query.assignee == "none":
            clauses.append({"bool": {"must_not": [{"exists": {"field": "assignee_id"}}]}})
        elif isinstance(query.assignee, int):
            clauses.append({"term": {"assignee_id": query.assignee}})
        if query.tag:
            clauses.append({"term": {"tags": query.tag.lower()}})
        if query.customer_id:
            clauses.append({"term": {"customer_id": query.customer_id}})
    elif query.type == "orders" and query.customer_id:
        clauses.append({"term": {"customer_id": query.customer_id}})
    dates = {}
    if query.since:
        dates["gte"] = query.since.isoformat()
    if query.until:
        dates["lt"] = query.until.isoformat()
    if dates:
        clauses.append({"range": {"created_at": dates}})
    return clauses


def exact_clause(query: SearchQuery) -> dict | None:
    """The ticket or order with the typed number, or the customer with the typed address."""
    if query.type in ("tickets", "orders") and query.ticket_number:
        return {"term": {"number": query.ticket_number}}
    if query.type == "customers" and query.email:
        return {"term": {"email": query.email}}
    return None


def highlight(doc_type: str, language: str) -> dict:
    localized = {name for name, _, has_languages in SEARCHED[doc_type] if has_languages}
    fields = {field_name(name, language) if name in localized else name: options
              for name, options in HIGHLIGHTED[doc_type].items()}
    # encoder html: the text around the tags is escaped, so the snippet is safe HTML.
    return {"pre_tags": ["<mark>"], "post_tags": ["</mark>"], "encoder": "html",
            "fields": fields}


def query_body(org_id: int, language: str, query: SearchQuery,
               after: list[int | float] | None = None) -> dict:
    """One page: the matches below `after`, the exact match left out (it leads page one)."""
    # Without words (a saved view of filters only) every ticket the filters keep matches.
    words = text_query(query.type, language, query.text) if query.text else {"match_all": {}}
    boolean: dict = {"must": [words], "filter": filters(org_id, query)}
    exact = exact_clause(query)
    if exact:
        boolean["must_not"] = [exact]
    body = {"query": {"bool": boolean}, "sort": SORT[query.effective_sort], "size": query.limit + 1,
            "track_total_hits": False, "timeout": SEARCH_TIMEOUT,
            "_source": {"excludes": ["body"]}, "highlight": highlight(query.type, language)}
    if after:
        body["search_after"] = after
    return body


def exact_body(org_id: int, language: str, query: SearchQuery) -> dict | None:
    exact = exact_clause(query)
    if exact is None:
        return None
    return {"query": {"bool": {"filter": [*filters(org_id, query), exact]}}, "size": 1,
            "_source": {"excludes": ["body"]},
            "highlight": {**highlight(query.type, language),
                          "highlight_query": text_query(query.type, language, query.text)}}


# --- responses (pure) ----------------------------------------------------------------------

def hits_from(doc_type: str, raw_hits: Iterable[dict], exact: bool = False,
              scored: bool = False) -> list[Hit]:
    return [_hit(doc_type, raw, exact, scored) for raw in raw_hits]


def _hit(doc_type: str, raw: dict, exact: bool, scored: bool) -> Hit:
    source, marks = raw["_source"], raw.get("highlight", {})
    common = {"id": source["id"], "created_at": datetime.fromisoformat(source["created_at"]),
              "snippet": _snippet(doc_type, source, marks), "exact": exact,
              "score": raw.get("_score") if scored else None}
    if doc_type == "tickets":
        return Hit(type="ticket", title=source["subject"], ticket_number=source["number"],
                   ticket_status=source["status"], customer_id=source["customer_id"],
                   customer_email=source["customer_email"], **common)
    if doc_type == "messages":
        return Hit(type="message", title=source["subject"], ticket_number=source["ticket_number"],
                   ticket_status=source["ticket_status"], customer_id=source["customer_id"],
                   message_kind=source["kind"], **common)
    if doc_type == "orders":
        return Hit(type="order", title=f"Order #{source['number']}",
                   order_number=source["number"], order_status=source["status"],
                   order_total=source["total"], currency=source["currency"],
                   customer_id=source["customer_id"], customer_email=source["email"], **common)
    return Hit(type="customer", title=source["name"] or source["email"], customer_id=source["id"],
               customer_email=source["email"], **common)


def _marked(marks: dict, name: str, text: str) -> str:
    """The highlighted field (any language subfield), else the text escaped."""
    for key, fragments in marks.items():
        if key == name or key.startswith(f"{name}."):
            return " … ".join(fragments)
    return html.escape(text, quote=False)


def _snippet(doc_type: str, source: dict, marks: dict) -> str:
    if doc_type == "tickets":
        return _marked(marks, "subject", source["subject"])
    if doc_type == "messages":
        return _marked(marks, "body", "")
    last = "products" if doc_type == "orders" else "company"
    parts = [_marked(marks, "name", source["name"]) if source["name"] else "",
             _marked(marks, "email", source["email"]),
             _marked(marks, last, source[last]) if source[last] else ""]
    return " · ".join(part for part in parts if part)

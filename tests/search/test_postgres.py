"""What only the PostgreSQL backend has: vectors kept by triggers, the org's language, the
reindex command, and the time limit that turns a runaway search into a notice."""

from __future__ import annotations

from sqlalchemy import select, text

from helpdesk.extensions import db
from helpdesk.orgs.models import Organization
from helpdesk.search import postgres, services
from helpdesk.search.query import SearchQuery
from helpdesk.tickets.models import Message, Ticket


def found(in_org, org, words, doc_type="tickets", **filters) -> list[int]:
    with in_org(org.id) as session:
        organization = session.get(Organization, org.id)
        page = services.search(organization, org.owner_id,
                               SearchQuery(text=words, type=doc_type, **filters))
        return [hit.id for hit in page.hits]


def test_vectors_follow_edits(in_org, make_org, make_ticket):
    org = make_org()
    ticket = make_ticket(org, subject="Kettle whistles", body="It whistles all night.")
    assert found(in_org, org, "kettle") == [ticket.id]
    with in_org(org.id) as session:
        session.get(Ticket, ticket.id).subject = "Toaster burns bread"
    assert found(in_org, org, "kettle") == []
    assert found(in_org, org, "toaster") == [ticket.id]


def test_messages_index_sender_and_new_text_only(in_org, make_org, make_ticket):
    org = make_org()
    ticket = make_ticket(org, subject="Question", body="irrelevant",
                         customer_email="zelda.hyrule@example.org")
    with in_org(org.id) as session:
        message = session.scalar(select(Message).where(Message.ticket_id == ticket.id))
        message.body_text = "My new words.\n\n> quoted history about pineapples"
        message.body_visible = "My new words."
        message_id = message.id
    assert found(in_org, org, "zelda", "messages") == [message_id]
    assert found(in_org, org, "zelda.hyrule@example.org", "messages") == [message_id]
    assert found(in_org, org, "hyrule", "messages") == [message_id]
    assert found(in_org, org, "pineapples", "messages") == []  # quoted text is not the message's


def test_org_language_stems_and_is_rebuilt_by_a_job(in_org, make_org, make_ticket, run_jobs):
    english, simple = make_org(), make_org()
    for org in (english, simple):
        make_ticket(org, subject="Refunds requested", body="Several refunds")
    with in_org(english.id) as session:
        assert services.set_search_language(session.get(Organization, english.id), "english")
    assert found(in_org, english, "refund") == []  # not rebuilt yet
    run_jobs()
    assert len(found(in_org, english, "refund")) == 1
    assert len(found(in_org, english, "refunding")) == 1
    assert found(in_org, simple, "refund") == []  # the other org keeps its language


def test_unknown_language_is_refused(in_org, make_org):
    org = make_org()
    with in_org(org.id) as session:
        try:
            services.set_search_language(session.get(Organization, org.id), "klingon")
        except services.ValidationFailed as error:
            assert "search_language" in error.fields
        else:
            raise AssertionError("klingon accepted")


def test_reindex_command(app, in_org, make_org, make_ticket):
    org = make_org(slug="reindexed")
    ticket = make_ticket(org, subject="Lamp flickers")
    with in_org(org.id) as session:
        session.execute(text("UPDATE organizations SET search_language = 'english' "
                             "WHERE id = :id"), {"id": org.id})
        session.execute(text("UPDATE tickets SET search_vector = NULL WHERE id = :id"),
                        {"id": ticket.id})
    assert found(in_org, org, "lamp") == []
    result = app.test_cli_runner().invoke(args=["search", "reindex", "--org", "reindexed"])
    assert result.exit_code == 0, result.output
    assert "Reindexed" in result.output and "postgres" in result.output
    assert found(in_org, org, "flicker") == [ticket.id]  # english stems now
    result = app.test_cli_runner().invoke(args=["search", "reindex", "--org", "nope"])
    assert result.exit_code != 0 and "No organization" in result.output


def test_huge_message_is_indexed_up_to_its_cap(in_org, make_org, make_ticket):
    org = make_org()
    words = " ".join(f"word{n}" for n in range(40_000)) + " needle"
    ticket = make_ticket(org, subject="Long mail", body="short")
    with in_org(org.id) as session:
        # Mail may be longer than the desk's form allows: the pipeline stores it whole.
        message = session.scalar(select(Message).where(Message.ticket_id == ticket.id))
        message.body_text = words
        message_id = message.id
    assert found(in_org, org, "word5", "messages") == [message_id]
    assert found(in_org, org, "needle", "messages") == []  # past the 100,000 characters


def test_a_runaway_search_becomes_a_notice(in_org, make_org, make_ticket, monkeypatch):
    """A real statement timeout, cancelled by PostgreSQL, inside the search's savepoint."""
    org = make_org()
    make_ticket(org, subject="Slow one")
    monkeypatch.setattr(postgres, "STATEMENT_TIMEOUT", "50ms")
    original = postgres._search

    def slow(*args, **kwargs):
        db.session.execute(text("SELECT pg_sleep(1)"))
        return original(*args, **kwargs)

    monkeypatch.setattr(postgres, "_search", slow)
    with in_org(org.id) as session:
        organization = session.get(Organization, org.id)
        page = services.search(organization, org.owner_id, SearchQuery(text="slow"))
        assert page.hits == [] and "too long" in page.notice
        # The transaction goes on, with the usual settings back.
        assert session.scalar(text("SELECT current_setting('statement_timeout')")) == "0"
        assert session.scalar(select(Ticket.subject).where(Ticket.org_id == org.id)) == "Slow one"



def test_matches_past_the_walked_window_are_found_through_the_index(
        in_org, make_org, make_ticket, monkeypatch):
    """Both steps of the matcher: the newest WINDOW rows walked, then the GIN index."""
    monkeypatch.setattr(postgres, "WINDOW", 2)
    org = make_org()
    numbers = []
    for n in range(7):
        ticket = make_ticket(org, subject=f"Parcel {n}" + (" rarely" if n in (0, 3) else ""))
        numbers.append(ticket.id)
    assert found(in_org, org, "rarely") == [numbers[3], numbers[0]]  # older than the window
    for sort in ("newest", "relevance"):
        seen, cursor = [], None
        while True:
            with in_org(org.id) as session:
                page = services.search(session.get(Organization, org.id), org.owner_id,
                                       SearchQuery(text="parcel", type="tickets", limit=2,
                                                   sort=sort, cursor=cursor))
            seen += [hit.id for hit in page.hits]
            cursor = page.next_cursor
            if not cursor:
                break
        assert sorted(seen) == sorted(numbers) and len(seen) == 7, sort


def test_full_text_matching_is_leakproof_for_row_level_security(in_org, make_org):
    """`@@` is marked LEAKPROOF (migration 5b1e0c7d2a41): without it RLS keeps the GIN indexes
    out of every plan the app role gets (the benchmark's rare word: 3.4 s instead of 0.1 ms)."""
    org = make_org()
    with in_org(org.id) as session:
        assert session.scalar(text("SELECT current_user")) == "helpdesk_app"
        assert session.scalar(text(
            "SELECT proleakproof FROM pg_proc WHERE oid = "
            "'pg_catalog.ts_match_vq(tsvector, tsquery)'::regprocedure"))
        statistics = session.execute(text(
            "SELECT attrelid::regclass::text, attstattarget FROM pg_attribute "
            "WHERE attname = 'search_vector' AND attrelid::regclass::text IN "
            "('tickets', 'messages', 'customers')")).all()
    assert sorted(statistics) == [("customers", 1000), ("messages", 1000), ("tickets", 1000)]


# --- orders ----------------------------------------------------------------------------------

def order_vector(in_org, org, order_id) -> tuple[str | None, str]:
    """(the order's vector as text, where its row version is: an UPDATE moves it)."""
    with in_org(org.id) as session:
        return tuple(session.execute(text(
            "SELECT search_vector::text, ctid::text FROM shop_orders WHERE id = :id"),
            {"id": order_id}).one())


def test_order_vectors_weigh_number_address_and_name_a_and_lines_b(
        in_org, make_org, make_shop_order):
    org = make_org()
    order = make_shop_order(org, "ada.lovelace@example.com", "Ada King",
                            [("Brass compass", 1)])
    vector, _ = order_vector(in_org, org, order.id)
    weights = {lexeme.strip("'"): positions[-1]
               for lexeme, positions in (item.rsplit(":", 1) for item in vector.split())}
    for word in (str(order.number), "ada.lovelace@example.com", "lovelace", "king"):
        assert weights[word] == "A", word
    sku_word = order.skus[0].split("-")[0].lower()  # MUG-12: 'mug' and '-12' (simple parser)
    for word in ("brass", "compass", sku_word):
        assert weights[word] == "B", word


def test_order_lines_touch_their_order_only_when_their_words_change(
        in_org, make_org, make_shop_order):
    from storefront.models import OrderLine

    org = make_org()
    order = make_shop_order(org, "jo@example.com", "Jo", [("Brass compass", 2)])
    before = order_vector(in_org, org, order.id)
    with in_org(org.id) as session:
        session.scalar(select(OrderLine).where(OrderLine.order_id == order.id)
                       ).refunded_quantity = 1
    assert order_vector(in_org, org, order.id) == before  # a refund rewrites no order row
    with in_org(org.id) as session:
        session.scalar(select(OrderLine).where(OrderLine.order_id == order.id)
                       ).sku = "SEXTANT-9"
    assert order_vector(in_org, org, order.id)[1] != before[1]
    assert found(in_org, org, "sextant-9", "orders") == [order.id]


def test_an_orgs_language_stems_order_words_and_reindex_covers_orders(
        app, in_org, make_org, make_shop_order):
    org = make_org(slug="order-words")
    order = make_shop_order(org, "jo@example.com", "Jo Walker", [("Folding chairs", 2)])
    assert found(in_org, org, "chair", "orders") == []  # simple: words as written
    with in_org(org.id) as session:
        session.execute(text("UPDATE organizations SET search_language = 'english' "
                             "WHERE id = :id"), {"id": org.id})
        session.execute(text("UPDATE shop_orders SET search_vector = NULL, "
                             "updated_at = '2020-01-01' WHERE id = :id"), {"id": order.id})
    result = app.test_cli_runner().invoke(args=["search", "reindex", "--org", "order-words"])
    assert result.exit_code == 0, result.output
    assert found(in_org, org, "chair", "orders") == [order.id]
    assert found(in_org, org, "folded chair", "orders") == [order.id]
    with in_org(org.id) as session:  # the reindex changed no order's updated_at
        assert session.scalar(text("SELECT updated_at::date::text FROM shop_orders "
                                   "WHERE id = :id"), {"id": order.id}) == "2020-01-01"


def test_deleting_an_order_takes_its_lines_without_touching_it(
        in_org, as_system, make_org, make_shop_order):
    org = make_org()
    order = make_shop_order(org, "jo@example.com", "Jo", [("Brass compass", 1), ("Map", 1)])
    with as_system() as session:  # the lines' trigger finds the order already gone
        session.execute(text("DELETE FROM shop_orders WHERE id = :id"), {"id": order.id})
    assert found(in_org, org, "compass", "orders") == []


def test_reindex_rewrites_the_shop_products_words_too(app, in_org, make_org):
    from storefront import catalog

    org = make_org(slug="reindexed-shop")
    with in_org(org.id) as session:
        product = catalog.create_product(None, {"name": "Flickering lamps", "price": 1250},
                                         standard_stock=3)
        product_id = product.id
        session.execute(text("UPDATE organizations SET search_language = 'english' "
                             "WHERE id = :id"), {"id": org.id})
    result = app.test_cli_runner().invoke(args=["search", "reindex", "--org", "reindexed-shop"])
    assert result.exit_code == 0, result.output
    with in_org(org.id) as session:
        vector = session.scalar(text("SELECT search_vector::text FROM shop_products "
                                     "WHERE id = :id"), {"id": product_id})
    assert "'flicker'" in vector and "'lamp'" in vector  # english stems, not 'flickering'

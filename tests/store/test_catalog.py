"""Catalog services: products, variants, stock, prices, personalization definitions, the
listing (filters, sorts, keyset pages, full-text search) and tenant isolation."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text

from helpdesk.core.exceptions import Conflict, ValidationFailed
from helpdesk.extensions import db
from storefront import catalog, stock
from storefront.catalog_listing import Listing, cards, decode_cursor, list_products
from storefront.models import MovementKind, Product, StockLevel, StockMovement, Variant

SOCKS = [{"sku": "SOCK-S", "options": {"size": "S"}, "stock": 3},
         {"sku": "SOCK-M", "options": {"size": "M"}, "price": 1500, "stock": 0},
         {"sku": "SOCK-L", "options": {"size": "L"}, "price": 900, "stock": 12}]


def refused(action, error=ValidationFailed) -> dict[str, str]:
    with pytest.raises(error) as caught:
        action()
    return caught.value.fields


def test_a_product_gets_its_variants_stock_and_receipts(make_org, catalog_product, in_org):
    org = make_org()
    made = catalog_product(org, name="Merino Socks", price=1200, variants=SOCKS)
    assert made.slug == "merino-socks" and made.skus == ["SOCK-S", "SOCK-M", "SOCK-L"]
    with in_org(org.id):
        levels = {s.variant_id: s.on_hand for s in db.session.scalars(select(StockLevel))}
        assert [levels[v] for v in made.variant_ids] == [3, 0, 12]
        movements = db.session.scalars(select(StockMovement).order_by(StockMovement.id)).all()
        assert [(m.kind, m.quantity, m.actor_user_id) for m in movements] == [
            (MovementKind.RECEIPT, 3, org.owner_id), (MovementKind.RECEIPT, 12, org.owner_id)]
        variants = catalog.variants_of(made.id)
        assert [catalog.price_of(v) for v in variants] == [1200, 1500, 900]
        # The listing price is the cheapest active variant's, kept by the database.
        product = db.session.get(Product, made.id)
        assert product.price_from == 900
        catalog.save_variant(None, product, variants[2], {"active": False})
        db.session.refresh(product)
        assert product.price_from == 1200
        catalog.update_product(None, product, {"price": 1000})
        assert product.price_from == 1000


def test_without_variants_a_product_gets_one_standard_variant(make_org, catalog_product):
    org = make_org()
    first = catalog_product(org, name="Gift card")
    second = catalog_product(org, name="Gift card")
    assert (first.slug, first.skus) == ("gift-card", ["GIFT-CARD"])
    assert (second.slug, second.skus) == ("gift-card-2", ["GIFT-CARD-2"])


@pytest.mark.parametrize(("data", "fields"), [
    ({"name": "", "price": 100}, {"name": "A name is required."}),
    ({"name": "x" * 201, "price": 100}, {"name": "At most 200 characters (this has 201)."}),
    ({"name": "Socks", "price": -1}, {"price": "The price cannot be negative."}),
    ({"name": "Socks", "price": "12.50"},
     {"price": "The price must be a whole number of minor units (cents): 1250 for 12.50."}),
    ({"name": "Socks", "price": 12.5},
     {"price": "The price must be a whole number of minor units (cents): 1250 for 12.50."}),
    ({"name": "Socks", "price": True},
     {"price": "The price must be a whole number of minor units (cents): 1250 for 12.50."}),
    ({"name": "Socks"}, {"price": "A price is required (minor units: 1250 for 12.50)."}),
    ({"name": "Socks", "price": 10**11}, {"price": "The price can be at most 10000000000."}),
    ({"name": "Socks", "price": 1, "variants": [{"sku": "A", "options": {"size": {"x": 1}}}]},
     {"variants.0.options": 'Must be an object of text values, e.g. {"size": "M", "colour": '
                            '"Red"}.'}),
    ({"name": "Socks", "price": 1, "variants": [{"sku": "A", "options": ["M"]}]},
     {"variants.0.options": 'Must be an object of text values, e.g. {"size": "M", "colour": '
                            '"Red"}.'}),
    ({"name": "Socks", "price": 1, "variants": [{"sku": "A"}, {"sku": "A"}]},
     {"variants.1.sku": "Two variants cannot share the SKU A."}),
    ({"name": "Socks", "price": 1, "variants": [{"sku": "A", "options": {"size": "M"}},
                                                 {"sku": "B", "options": {"Size": "m"}}]},
     {"variants.1.options": "Same options as variant A."}),
    ({"name": "Socks", "price": 1, "variants": [{"sku": "has space"}]},
     {"variants.0.sku": "Letters, digits and . _ / - (no spaces), at most 64."}),
    ({"name": "Socks", "price": 1, "variants": [{"sku": "A", "stock": -2}]},
     {"variants.0.stock": "The stock cannot be negative."}),
    ({"name": "Socks", "price": 1, "variants": [{"sku": "A", "colour": "red"}]},
     {"variants.0": "Unknown field: colour."}),
    ({"name": "Socks", "price": 1, "variants": "A"}, {"variants": "Must be a list of variants."}),
    ({"name": "Socks", "price": 1, "slug": "Not A Slug"},
     {"slug": "Lower-case letters, digits and single hyphens, e.g. wool-socks."}),
    ({"name": "Socks", "price": 1, "category_id": 999999}, {"category_id": "No such category."}),
])
def test_bad_input_is_refused_field_by_field(make_org, in_org, data, fields):
    org = make_org()
    with in_org(org.id):
        assert refused(lambda: catalog.create_product(None, data)) == fields
        assert db.session.scalar(select(Product.id)) is None


def test_every_bad_field_is_named_at_once(make_org, in_org):
    org = make_org()
    with in_org(org.id):
        fields = refused(lambda: catalog.create_product(None, {
            "name": "", "price": -5, "variants": [{"sku": "ok"}, {"sku": "", "price": "x"}]}))
    assert set(fields) == {"name", "price", "variants.1.sku", "variants.1.price"}


def test_a_sku_of_another_product_is_a_conflict_but_another_orgs_is_free(
        make_org, catalog_product, in_org):
    org, other = make_org(), make_org()
    catalog_product(org, variants=[{"sku": "TEE-1"}])
    catalog_product(other, variants=[{"sku": "TEE-1"}])  # each org has its own SKUs
    with in_org(org.id):
        fields = refused(lambda: catalog.create_product(None, {
            "name": "Tee", "price": 1, "variants": [
                {"sku": "X", "options": {"size": "S"}}, {"sku": "TEE-1"}]}), Conflict)
        assert fields == {"variants.1.sku": "The SKU TEE-1 is already used by another product."}


def test_variants_change_by_id_and_new_ones_are_added(make_org, catalog_product, in_org):
    org = make_org()
    made = catalog_product(org, variants=[{"sku": "A", "options": {"size": "S"}, "stock": 4}])
    with in_org(org.id):
        product = catalog.get_product(made.id)
        catalog.update_product(org.owner_id, product, {"name": "Socks II", "variants": [
            {"id": made.variant_ids[0], "sku": "A2", "stock": 10},
            {"sku": "B", "options": {"size": "M"}, "price": 300, "stock": 1}]})
        variants = catalog.variants_of(made.id)
        assert [(v.sku, v.options) for v in variants] == [("A2", {"size": "S"}),
                                                          ("B", {"size": "M"})]
        assert stock.availability([v.id for v in variants]) == {variants[0].id: 10,
                                                                variants[1].id: 1}
        counted = db.session.scalars(select(StockMovement).where(
            StockMovement.variant_id == made.variant_ids[0]).order_by(StockMovement.id)).all()
        assert [(m.kind, m.quantity) for m in counted] == [(MovementKind.RECEIPT, 4),
                                                           (MovementKind.ADJUSTMENT, 6)]
        fields = refused(lambda: catalog.update_product(None, product, {
            "variants": [{"id": 10**12, "sku": "Z"}]}))
        assert fields == {"variants.0.id": "This product has no variant with that id."}


def test_stock_adjustments_never_go_below_what_checkouts_hold(make_org, catalog_product, in_org):
    org = make_org()
    made = catalog_product(org, variants=[{"sku": "A", "stock": 5}])
    with in_org(org.id):
        variant = catalog.get_variant(made.variant_ids[0])
        db.session.execute(text("UPDATE shop_stock_levels SET reserved = 3"))
        assert stock.adjust_stock(org.owner_id, variant, 2, "receipt", "Delivery") == 7
        with pytest.raises(ValidationFailed):
            stock.adjust_stock(org.owner_id, variant, -5, "adjustment")
        assert refused(lambda: stock.set_stock(None, variant, 2)) == {
            "stock": "At least 3 (held by open checkouts)."}
        assert refused(lambda: stock.adjust_stock(None, variant, 0)) == {
            "stock": "A whole number other than 0."}
        assert refused(lambda: stock.adjust_stock(None, variant, 1, "sale")) == {
            "kind": "A receipt or an adjustment."}
        assert stock.set_stock(None, variant, 3) == 3
        assert stock.availability([variant.id]) == {variant.id: 0}
        assert stock.availability_text(0) == "Out of stock"
        assert stock.availability_text(3) == "3 left"
        assert stock.availability_text(6) == "In stock"


def test_personalization_definitions_are_checked(make_org, in_org):
    org = make_org()
    good = [{"key": "gift_message", "label": "Gift message", "type": "text", "max_length": 120},
            {"key": "photo", "label": "Your photo", "type": "image", "required": True},
            {"key": "colour", "label": "Thread colour", "type": "choice",
             "choices": ["Red", "Blue"]}]
    with in_org(org.id):
        product = catalog.create_product(None, {"name": "Mug", "price": 900,
                                                "personalization": good})
        assert product.personalization == [
            {**good[0], "required": False}, {**good[1]},
            {**good[2], "required": False}]
        bad = [{"key": "Gift", "label": "", "type": "text", "max_length": 501},
               {"key": "c", "label": "C", "type": "choice", "choices": []},
               {"key": "c2", "label": "C", "type": "choice", "choices": ["x"] * 2},
               {"key": "d", "label": "D", "type": "video"},
               {"key": "e", "label": "E", "type": "choice", "choices": [str(n) for n in
                                                                           range(51)]},
               "text"]
        fields = refused(lambda: catalog.update_product(None, product, {"personalization": bad}))
        assert fields == {
            "personalization.0.key": "Lower-case letters, digits and _, starting with a letter "
                                     "(at most 40), e.g. gift_message.",
            "personalization.0.label": "Give the field a label.",
            "personalization.0.max_length": "A whole number from 1 to 500.",
            "personalization.1.choices": "List 1 to 50 choices.",
            "personalization.2.choices": "“x” is listed twice.",
            "personalization.3.type": "One of: text, image, choice.",
            "personalization.4.choices": "At most 50 choices.",
            "personalization.5": "Must be an object with key, label and type.",
        }
        assert refused(lambda: catalog.update_product(None, product, {
            "personalization": [{"key": "a", "label": "A", "type": "text"}] * 2})) == {
            "personalization.1.key": "Same key as field 1."}


def test_another_orgs_products_are_not_found_or_listed(make_org, catalog_product, in_org):
    org, other = make_org(), make_org()
    mine = catalog_product(org, name="Mine")
    theirs = catalog_product(other, name="Theirs")
    with in_org(org.id):
        assert catalog.get_product(theirs.id) is None
        assert catalog.get_product_by_slug(theirs.slug) is None or theirs.slug == mine.slug
        assert catalog.get_variant(theirs.variant_ids[0]) is None
        assert [p.id for p in list_products(org.id, Listing()).products] == [mine.id]
        assert list_products(org.id, Listing(q="Theirs")).products == []
        # Even naming the other org explicitly finds nothing: the ORM filter and RLS hold.
        assert list_products(other.id, Listing()).products == []


def _shop(catalog_product, org):
    made = {}
    for name, price, variants, description in [
        ("Alpine jacket", 19900, [{"sku": "J-M", "options": {"size": "M"}, "stock": 2},
                                  {"sku": "J-L", "options": {"size": "L"}, "stock": 0}],
         "Waterproof shell for the mountains"),
        ("Camp mug", 900, [{"sku": "MUG", "stock": 30}], "Enamel mug, keeps coffee hot"),
        ("Down sleeping bag", 24900, [{"sku": "BAG", "stock": 0}], "Warm down bag"),
        ("Trail socks", 1500, [{"sku": "S-S", "options": {"size": "S"}, "stock": 5},
                               {"sku": "S-M", "options": {"size": "M"}, "price": 1700,
                                "stock": 1}], "Merino socks for long hikes"),
        ("Headlamp", 3500, [{"sku": "LAMP", "stock": 8}], "Bright LED lamp for the mountains"),
    ]:
        made[name] = catalog_product(org, name=name, price=price, variants=variants,
                                     description=description).id
    return made


def names(page) -> list[str]:
    return [p.name for p in page.products]


def test_listing_filters_and_sort_orders(make_org, catalog_product, in_org):
    org = make_org()
    _shop(catalog_product, org)
    with in_org(org.id):
        listed = lambda **kw: names(list_products(org.id, Listing(**kw)))  # noqa: E731
        assert listed() == ["Headlamp", "Trail socks", "Down sleeping bag", "Camp mug",
                            "Alpine jacket"]
        assert listed(sort="price_asc") == ["Camp mug", "Trail socks", "Headlamp",
                                            "Alpine jacket", "Down sleeping bag"]
        assert listed(sort="price_desc") == listed(sort="price_asc")[::-1]
        assert listed(sort="name") == ["Alpine jacket", "Camp mug", "Down sleeping bag",
                                       "Headlamp", "Trail socks"]
        assert listed(in_stock=True, sort="name") == ["Alpine jacket", "Camp mug", "Headlamp",
                                                      "Trail socks"]
        assert listed(options={"size": "M"}, sort="name") == ["Alpine jacket", "Trail socks"]
        # size L exists only out of stock
        assert listed(options={"size": "L"}, in_stock=True) == []
        assert listed(min_price=1000, max_price=20000, sort="price_asc") == [
            "Trail socks", "Headlamp", "Alpine jacket"]
        assert listed(q="mountains", sort="name") == ["Alpine jacket", "Headlamp"]
        assert listed(q="merino OR enamel", sort="name") == ["Camp mug", "Trail socks"]
        assert listed(q="S-M") == ["Trail socks"]  # SKUs are searchable
        assert listed(q='"down bag"') == ["Down sleeping bag"]
        assert listed(q="bag -warm") == []
        assert listed(q="   ") == listed()
        found = cards(list_products(org.id, Listing(sort="name")).products)
        assert [(c.product.name, c.price_min, c.price_max, c.available, c.in_stock)
                for c in found] == [
            ("Alpine jacket", 19900, 19900, 2, True), ("Camp mug", 900, 900, 30, True),
            ("Down sleeping bag", 24900, 24900, 0, False), ("Headlamp", 3500, 3500, 8, True),
            ("Trail socks", 1500, 1700, 6, True)]


def test_hidden_products_are_listed_for_staff_only(make_org, catalog_product, in_org):
    org = make_org()
    made = catalog_product(org, name="Prototype", is_active=False)
    with in_org(org.id):
        assert list_products(org.id, Listing()).products == []
        assert [p.id for p in list_products(org.id, Listing(active=None)).products] == [made.id]
        assert [p.id for p in list_products(org.id, Listing(active=False)).products] == [made.id]


@pytest.mark.parametrize("sort", ["newest", "price_asc", "price_desc", "name", "relevance"])
def test_keyset_pages_cover_every_product_once_both_ways(make_org, catalog_product, in_org,
                                                          sort):
    org = make_org()
    with in_org(org.id):
        for n in range(23):
            # Equal prices and names across products: the id breaks the ties.
            catalog.create_product(None, {"name": f"Tent {n % 4}", "price": 100 * (n % 5),
                                          "description": "tent " * (n % 3 + 1)})
        query = {"q": "tent"} if sort == "relevance" else {}
        everything = [p.id for p in list_products(org.id, Listing(sort=sort, limit=100,
                                                                  **query)).products]
        assert len(everything) == 23
        pages, cursor = [], None
        while True:
            page = list_products(org.id, Listing(sort=sort, limit=5, cursor=cursor, **query))
            pages.append([p.id for p in page.products])
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        assert [i for p in pages for i in p] == everything
        assert [len(p) for p in pages] == [5, 5, 5, 5, 3]
        back = list_products(org.id, Listing(sort=sort, limit=5, cursor=page.prev_cursor,
                                             **query))
        assert [p.id for p in back.products] == pages[-2]
        assert decode_cursor(page.prev_cursor, "other-sort") is None
        assert list_products(org.id, Listing(sort=sort, limit=5, cursor="garbage!",
                                             **query)).products[0].id == everything[0]


def test_the_database_keeps_the_listing_price_for_any_writer(make_org, catalog_product, in_org):
    org = make_org()
    made = catalog_product(org, price=500, variants=[
        {"sku": "A", "price": 700, "options": {"size": "S"}},
        {"sku": "B", "price": 650, "options": {"size": "M"}}])
    with in_org(org.id):
        db.session.execute(text("UPDATE shop_variants SET price = 100 WHERE sku = 'B'"))
        assert db.session.scalar(select(Product.price_from).where(Product.id == made.id)) == 100
        db.session.execute(text("DELETE FROM shop_variants"))
        assert db.session.scalar(select(Product.price_from).where(Product.id == made.id)) == 500
        assert db.session.scalar(select(Variant.id)) is None


def test_the_demo_shop(make_org, in_org):
    from storefront.demo import PRODUCTS, seed_catalog

    org = make_org()
    with in_org(org.id, org.owner_id):
        assert seed_catalog(org.owner_id) == len(PRODUCTS) == 8
        found = cards(list_products(org.id, Listing(sort="name", limit=50)).products)
        assert [c.product.name for c in found if not c.in_stock] == ["Trail running cap"]
        assert len(catalog.categories()) == 3
        assert len(list_products(org.id, Listing(q="merino")).products) == 1

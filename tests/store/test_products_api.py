"""The product API: create with variants and stock, read, change, list with filters and
cursors; bad input is a 422 naming the field; roles; another org's product is a 404."""

from __future__ import annotations

import pytest
from openapi_schema_validator import OAS31Validator

BASE = "/api/v1/store/products"
SOCKS = {"name": "Merino socks", "description": "Warm.", "price": 1200, "variants": [
    {"sku": "SOCK-S", "options": {"size": "S"}, "price": None, "stock": 3},
    {"sku": "SOCK-M", "options": {"size": "M"}, "price": 1500, "stock": 0}]}


def create(client, headers, body=None, status=201):
    response = client.post(BASE, headers=headers, json=body or SOCKS)
    assert response.status_code == status, response.json
    return response.json


def test_create_returns_the_product_with_its_variants_ids(client, catalog_api):
    org, headers = catalog_api()
    response = client.post(BASE, headers=headers, json=SOCKS)
    assert response.status_code == 201
    product = response.json
    assert response.headers["Location"].endswith(f"{BASE}/{product['id']}")
    assert {k: product[k] for k in ("name", "slug", "description", "price", "price_from",
                                    "currency", "active", "category", "tax_inclusive")} == {
        "name": "Merino socks", "slug": "merino-socks", "description": "Warm.", "price": 1200,
        "price_from": 1200, "currency": "EUR", "active": True, "category": None,
        "tax_inclusive": True}
    assert product["url"] == f"/{org.slug}/shop/products/merino-socks"
    variants = product["variants"]
    assert [(v["sku"], v["options"], v["price"], v["price_override"], v["stock"])
            for v in variants] == [
        ("SOCK-S", {"size": "S"}, 1200, None, {"on_hand": 3, "reserved": 0, "available": 3}),
        ("SOCK-M", {"size": "M"}, 1500, 1500, {"on_hand": 0, "reserved": 0, "available": 0})]
    assert all(isinstance(v["id"], int) for v in variants)
    again = client.get(f"{BASE}/{product['id']}", headers=headers)
    assert again.status_code == 200 and again.json["variants"] == variants


def test_the_responses_match_the_openapi_document(client, catalog_api):
    _, headers = catalog_api()
    spec = client.get("/api/v1/openapi.json").json
    created = create(client, headers)

    def conforms(name, instance):
        schema = {"$ref": f"#/components/schemas/{name}", "components": spec["components"]}
        assert [e.message for e in OAS31Validator(schema).iter_errors(instance)] == []

    conforms("StoreProduct", created)
    conforms("StoreProductPage", client.get(BASE, headers=headers).json)
    operations = spec["paths"]["/api/v1/store/products"]
    assert {"201", "403", "409", "422"} <= set(operations["post"]["responses"])
    assert {"name", "price"} <= set(spec["components"]["schemas"]["StoreProductCreate"]
                                    ["required"])


@pytest.mark.parametrize(("body", "fields"), [
    ({"name": "Socks", "price": -1}, {"price": "The price cannot be negative."}),
    ({"name": "Socks", "price": "12.50"},
     {"price": "Must be a whole number of minor units (cents): 1250 for 12.50."}),
    ({"name": "Socks", "price": 12.5},
     {"price": "Must be a whole number of minor units (cents): 1250 for 12.50."}),
    ({"name": "Socks"}, {"price": "Missing data for required field."}),
    ({"name": "x" * 201, "price": 1}, {"name": "Longer than maximum length 200."}),
    ({"name": "Socks", "price": 1, "variants": [{"sku": "A", "price": -5}]},
     {"variants.0.price": "The price cannot be negative."}),
    ({"name": "Socks", "price": 1, "variants": [{"sku": "A", "options": {"size": ["M"]}}]},
     {"variants.0.options": 'Must be an object of text values, e.g. {"size": "M", '
                            '"colour": "Red"}.'}),
    ({"name": "Socks", "price": 1, "variants": [{"sku": "A", "options": "size=M"}]},
     {"variants.0.options": 'Must be an object of text values, e.g. {"size": "M", '
                            '"colour": "Red"}.'}),
    ({"name": "Socks", "price": 1, "variants": [{"sku": "A", "options": {"size": "M"}},
                                                 {"sku": "A", "options": {"size": "L"}}]},
     {"variants.1.sku": "Two variants cannot share the SKU A."}),
    ({"name": "Socks", "price": 1, "variants": [{"sku": "A", "stock": 1.5}]},
     {"variants.0.stock": "Not a valid integer."}),
    ({"name": "Socks", "price": 1, "colour": "red"}, {"colour": "Unknown field."}),
    ({"name": "Socks", "price": 1, "personalization": [{"key": "a", "label": "A",
                                                        "type": "text", "max_length": 0}]},
     {"personalization.0.max_length": "A whole number from 1 to 500."}),
])
def test_bad_input_is_a_422_naming_the_field(client, catalog_api, body, fields):
    _, headers = catalog_api()
    response = client.post(BASE, headers=headers, json=body)
    assert response.status_code == 422, response.json
    assert response.json["error"]["fields"] == fields
    assert client.get(BASE, headers=headers).json["data"] == []


def test_malformed_bodies_are_400s(client, catalog_api):
    _, headers = catalog_api()
    assert client.post(BASE, headers=headers, data="{", content_type="application/json") \
        .status_code == 400
    assert client.post(BASE, headers=headers, json=[1, 2]).status_code == 400


def test_a_sku_of_another_product_is_a_409_and_nothing_is_made(client, catalog_api):
    _, headers = catalog_api()
    create(client, headers)
    response = client.post(BASE, headers=headers, json={
        "name": "Other", "price": 5, "variants": [{"sku": "SOCK-M"}]})
    assert response.status_code == 409
    assert response.json["error"]["fields"] == {
        "variants.0.sku": "The SKU SOCK-M is already used by another product."}
    assert len(client.get(BASE, headers=headers).json["data"]) == 1


def test_patch_changes_fields_variants_and_stock(client, catalog_api):
    _, headers = catalog_api()
    product = create(client, headers)
    small, medium = (v["id"] for v in product["variants"])
    response = client.patch(f"{BASE}/{product['id']}", headers=headers, json={
        "price": 1000, "active": False, "description": "Warmer.",
        "variants": [{"id": small, "stock": 7, "price": 900},
                     {"id": medium, "active": False},
                     {"sku": "SOCK-L", "options": {"size": "L"}, "stock": 2}]})
    assert response.status_code == 200, response.json
    changed = response.json
    assert (changed["price"], changed["active"], changed["description"], changed["name"]) == (
        1000, False, "Warmer.", "Merino socks")
    assert [(v["sku"], v["price"], v["active"], v["stock"]["on_hand"])
            for v in changed["variants"]] == [("SOCK-S", 900, True, 7),
                                              ("SOCK-M", 1500, False, 0),
                                              ("SOCK-L", 1000, True, 2)]
    assert changed["price_from"] == 900
    refused = client.patch(f"{BASE}/{product['id']}", headers=headers,
                           json={"variants": [{"id": small, "options": {"size": "L"}}]})
    assert refused.status_code == 422
    assert refused.json["error"]["fields"] == {"variants.0.options": "Same options as variant "
                                                                      "SOCK-L."}
    assert client.patch(f"{BASE}/{product['id']}", headers=headers,
                        json={"price": None}).status_code == 422


def test_listing_filters_sorts_and_cursors(client, catalog_api):
    _, headers = catalog_api()
    for n in range(5):
        create(client, headers, {"name": f"Tent {n}", "price": 1000 * (n + 1),
                                 "variants": [{"sku": f"T{n}", "stock": n,
                                               "options": {"size": "M" if n % 2 else "L"}}]})
    listed = lambda query: [p["name"] for p in client.get(  # noqa: E731
        f"{BASE}?{query}", headers=headers).json["data"]]
    assert listed("") == ["Tent 4", "Tent 3", "Tent 2", "Tent 1", "Tent 0"]
    assert listed("sort=price_asc&in_stock=true") == ["Tent 1", "Tent 2", "Tent 3", "Tent 4"]
    assert listed("options=size:M") == ["Tent 3", "Tent 1"]
    assert listed("min_price=2000&max_price=3000&sort=name") == ["Tent 1", "Tent 2"]
    assert listed("q=T3") == ["Tent 3"]
    first = client.get(f"{BASE}?limit=2&sort=name", headers=headers).json
    second = client.get(f"{BASE}?limit=2&sort=name&cursor={first['next']}",
                        headers=headers).json
    assert [p["name"] for p in first["data"] + second["data"]] == [
        "Tent 0", "Tent 1", "Tent 2", "Tent 3"]
    for query, field in [("limit=0", "limit"), ("sort=cheapest", "sort"),
                         ("min_price=-1", "min_price"), ("options=size", "options"),
                         (f"sort=price_asc&cursor={first['next']}", "cursor"),
                         ("cursor=%%%", "cursor"), ("category_id=0", "category_id")]:
        response = client.get(f"{BASE}?{query}", headers=headers)
        assert response.status_code == 422 and field in response.json["error"]["fields"], query


def test_agents_read_but_only_managers_and_up_write(client, catalog_api):
    org, owner = catalog_api()
    product = create(client, owner)
    _, agent = catalog_api(org, "agent")
    _, manager = catalog_api(org, "manager")
    assert client.get(f"{BASE}/{product['id']}", headers=agent).status_code == 200
    assert client.post(BASE, headers=agent, json=SOCKS).status_code == 403
    assert client.patch(f"{BASE}/{product['id']}", headers=agent,
                        json={"price": 1}).status_code == 403
    assert client.patch(f"{BASE}/{product['id']}", headers=manager,
                        json={"price": 1}).status_code == 200
    assert client.get(BASE).status_code == 401


def test_another_orgs_products_are_404s_and_never_listed(client, catalog_api):
    _, mine = catalog_api()
    _, theirs = catalog_api()
    product = create(client, theirs)
    for method in ("get", "patch"):
        response = getattr(client, method)(f"{BASE}/{product['id']}", headers=mine,
                                           json={"name": "Stolen"})
        assert response.status_code == 404, method
    assert client.get(BASE, headers=mine).json == {"data": [], "next": None}
    assert client.get(f"{BASE}?q=merino", headers=mine).json["data"] == []
    # Their SKU is free in my org, and their category id is no category of mine.
    assert create(client, mine)["variants"][0]["sku"] == "SOCK-S"
    assert client.get(f"{BASE}/99999999999999999999", headers=mine).status_code == 404
    untouched = client.get(f"{BASE}/{product['id']}", headers=theirs).json
    assert untouched["name"] == "Merino socks"


def test_stock_held_by_checkouts_cannot_be_counted_away(client, catalog_api, as_system):
    from sqlalchemy import text

    from helpdesk.extensions import db

    _, headers = catalog_api()
    product = create(client, headers)
    small = product["variants"][0]["id"]
    with as_system():
        db.session.execute(text("UPDATE shop_stock_levels SET reserved = 2 "
                                "WHERE variant_id = :id"), {"id": small})
    response = client.patch(f"{BASE}/{product['id']}", headers=headers,
                            json={"variants": [{"id": small, "stock": 1}]})
    assert response.status_code == 422
    assert response.json["error"]["fields"] == {
        "variants.0.stock": "At least 2 (held by open checkouts)."}


def test_a_category_of_another_org_is_no_category(client, catalog_api, make_org, in_org):
    from storefront import catalog

    other = make_org()
    with in_org(other.id):
        theirs = catalog.save_category(None, name="Theirs").id
    _, headers = catalog_api()
    response = client.post(BASE, headers=headers, json={**SOCKS, "category_id": theirs})
    assert response.status_code == 422
    assert response.json["error"]["fields"] == {"category_id": "No such category."}


def test_listing_by_category_from_the_query_string(client, catalog_api, make_org, in_org):
    from storefront import catalog

    org, headers = catalog_api()
    with in_org(org.id):
        tents = catalog.save_category(None, name="Tents").id
    other = make_org()
    with in_org(other.id):
        theirs = catalog.save_category(None, name="Theirs").id
    create(client, headers, {"name": "Dome tent", "price": 9900, "category_id": tents})
    create(client, headers, {"name": "Socks", "price": 900})
    response = client.get(f"{BASE}?category_id={tents}", headers=headers)
    assert response.status_code == 200, response.json
    assert [p["name"] for p in response.json["data"]] == ["Dome tent"]
    # Another org's category lists nothing here; text is refused with the field named.
    assert client.get(f"{BASE}?category_id={theirs}", headers=headers).json["data"] == []
    response = client.get(f"{BASE}?category_id=tents", headers=headers)
    assert response.status_code == 422 and "category_id" in response.json["error"]["fields"]

"""The shop's product list and product page, and product pictures: what a visitor sees, the
filters and pages, bad query strings, and other orgs' products (404, never listed)."""

from __future__ import annotations

import io
import re

import pytest

from helpdesk.extensions import db
from storefront import catalog, product_images

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture
def shop(make_org, catalog_product, in_org):
    """An org with two categories and five products (one hidden), and another org's product."""
    org = make_org()
    with in_org(org.id):
        clothing = catalog.save_category(None, name="Clothing")
        gear = catalog.save_category(None, name="Camp gear")
        ids = (clothing.id, gear.id)
    made = {
        "jacket": catalog_product(org, name="Alpine jacket", price=19900, category_id=ids[0],
                                  description="Waterproof shell\nfor the mountains",
                                  variants=[{"sku": "J-M", "options": {"size": "M"}, "stock": 3},
                                            {"sku": "J-L", "options": {"size": "L"},
                                             "price": 20900, "stock": 0},
                                            {"sku": "J-S", "options": {"size": "S"},
                                             "stock": 40}]),
        "mug": catalog_product(org, name="Camp mug", price=900, category_id=ids[1],
                               variants=[{"sku": "MUG", "stock": 30}],
                               personalization=[
                                   {"key": "name", "label": "Name on the mug", "type": "text",
                                    "max_length": 20},
                                   {"key": "colour", "label": "Colour", "type": "choice",
                                    "choices": ["Red", "Blue"], "required": True},
                                   {"key": "photo", "label": "Photo", "type": "image"}]),
        "bag": catalog_product(org, name="Down sleeping bag", price=24900, category_id=ids[1],
                               variants=[{"sku": "BAG", "stock": 0}]),
        "socks": catalog_product(org, name="Trail socks", price=1500, category_id=ids[0],
                                 variants=[{"sku": "S-M", "options": {"size": "M"}, "stock": 5}]),
        "secret": catalog_product(org, name="Secret prototype", price=100, is_active=False),
    }
    other = make_org()
    made["theirs"] = catalog_product(other, name="Their lantern", price=4200,
                                     variants=[{"sku": "LANTERN", "stock": 9}])
    return org, other, made


def names(response) -> list[str]:
    return re.findall(r'<span class="product-name">([^<]+)</span>', response.text)


def test_the_list_shows_prices_badges_and_only_this_orgs_active_products(client, shop):
    org, other, made = shop
    response = client.get(f"/{org.slug}/shop/")
    assert response.status_code == 200
    assert names(response) == ["Trail socks", "Down sleeping bag", "Camp mug", "Alpine jacket"]
    assert "Secret prototype" not in response.text and "Their lantern" not in response.text
    assert "from €199.00" in response.text  # the jacket's variants cost 199 and 209
    assert "€9.00" in response.text and "€15.00" in response.text
    assert response.text.count('data-testid="out-of-stock"') == 1  # the sleeping bag
    assert f'href="/{org.slug}/shop/products/alpine-jacket"' in response.text


def test_prices_follow_the_orgs_currency(client, make_org, catalog_product, as_system):
    from helpdesk.orgs.models import Organization

    org = make_org()
    with as_system():
        db.session.get(Organization, org.id).settings = {"currency": "USD"}
    catalog_product(org, name="Cap", price=123456)
    assert "$1,234.56" in client.get(f"/{org.slug}/shop/").text


@pytest.mark.parametrize(("query", "expected"), [
    ("category=clothing", ["Trail socks", "Alpine jacket"]),
    ("category=camp-gear&in_stock=1", ["Camp mug"]),
    ("min=10&max=200", ["Trail socks", "Alpine jacket"]),
    ("min=10%2C50&sort=price_asc", ["Trail socks", "Alpine jacket", "Down sleeping bag"]),
    ("o.size=M", ["Trail socks", "Alpine jacket"]),
    ("o.size=L&in_stock=1", []),
    ("sort=name", ["Alpine jacket", "Camp mug", "Down sleeping bag", "Trail socks"]),
    ("sort=price_desc", ["Down sleeping bag", "Alpine jacket", "Trail socks", "Camp mug"]),
    ("q=mountains", ["Alpine jacket"]),
    ("q=lantern", []),
    ("q=prototype", []),
])
def test_filters_sorts_and_search(client, shop, query, expected):
    org, _, _ = shop
    response = client.get(f"/{org.slug}/shop/?{query}")
    assert response.status_code == 200
    assert names(response) == expected
    if not expected:
        assert "No products match." in response.text


@pytest.mark.parametrize("query", [
    "min=abc", "max=-5", "min=1.234", "category=nope", "sort=%00", "cursor=%FF%FE",
    "cursor=" + "x" * 5000, "q=" + "ü" * 1000, "o.size=" + "M" * 500, "q=%22%22%22&sort=relevance",
    "in_stock=yes", "q=!!!", "q=a%00b",
])
def test_bad_query_strings_are_no_error_pages(client, shop, query):
    org, _, _ = shop
    response = client.get(f"/{org.slug}/shop/?{query}")
    assert response.status_code == 200
    if query.startswith(("min=abc", "max=-5")):
        assert "field-error" in response.text


def test_pages_follow_on_without_repeats(client, make_org, in_org):
    org = make_org()
    with in_org(org.id):
        for n in range(30):
            catalog.create_product(None, {"name": f"Tent {n:02d}", "price": 1000 + n})
    first = client.get(f"/{org.slug}/shop/?sort=price_asc")
    assert names(first) == [f"Tent {n:02d}" for n in range(24)]
    next_link = re.search(r'href="([^"]+)" rel="next"', first.text).group(1).replace("&amp;", "&")
    second = client.get(next_link)
    assert names(second) == [f"Tent {n:02d}" for n in range(24, 30)]
    assert 'rel="next"' not in second.text and 'rel="prev"' in second.text


def test_the_product_page(client, shop):
    org, _, made = shop
    response = client.get(f"/{org.slug}/shop/products/alpine-jacket")
    assert response.status_code == 200
    page = response.text
    assert "<h1>Alpine jacket</h1>" in page
    # The first variant in stock is chosen; each shows its price and availability.
    jacket_m, jacket_l, jacket_s = made["jacket"].variant_ids
    assert re.search(rf'value="{jacket_m}"[^>]*checked', page, re.S)
    assert 'data-testid="product-price" aria-live="polite">€199.00' in page
    assert ">3 left</p>" in page
    assert "L <span class=\"muted\">· €209.00 · Out of stock" in page
    assert "S <span class=\"muted\">· €199.00 · In stock" in page
    assert 'name="quantity"' in page and 'max="3"' in page
    assert f'action="/{org.slug}/shop/cart/' in page  # the cart's add route
    assert "Waterproof shell\nfor the mountains" in page
    assert "Reviews coming soon." in page
    chosen = client.get(f"/{org.slug}/shop/products/alpine-jacket?variant={jacket_l}").text
    assert 'data-testid="product-price" aria-live="polite">€209.00' in chosen
    assert "disabled>Add to cart" in chosen.replace('data-testid="add-to-cart-button" ', "")
    assert client.get(f"/{org.slug}/shop/products/alpine-jacket?variant=x").status_code == 200


def test_the_product_page_estimates_delivery(client, shop):
    org, _, _ = shop
    page = client.get(f"/{org.slug}/shop/products/camp-mug").text
    assert 'data-testid="delivery"' in page
    assert "Standard delivery" in page and "Arrives" in page


def test_personalization_inputs_are_named_for_the_cart(client, shop):
    org, _, _ = shop
    page = client.get(f"/{org.slug}/shop/products/camp-mug").text
    assert 'name="p_name" maxlength="20"' in page
    assert re.search(r'<select id="p_colour" name="p_colour" required>\s*<option value="">'
                     r'Choose…</option>\s*<option>Red</option><option>Blue</option>', page)
    assert 'type="file" id="p_photo" name="p_photo"' in page
    assert 'enctype="multipart/form-data"' in page
    assert 'type="hidden" name="variant_id"' in page  # one variant: no picker


def test_sold_out_product(client, shop):
    org, _, _ = shop
    page = client.get(f"/{org.slug}/shop/products/down-sleeping-bag").text
    assert 'data-testid="availability" aria-live="polite">Out of stock' in page
    assert re.search(r'data-testid="add-to-cart-button"\s+disabled', page)


def test_other_orgs_and_hidden_products_are_not_found(client, app, shop, login, make_member):
    org, other, made = shop
    assert client.get(f"/{org.slug}/shop/products/their-lantern").status_code == 404
    assert client.get(f"/{other.slug}/shop/products/alpine-jacket").status_code == 404
    assert client.get(f"/{org.slug}/shop/products/secret-prototype").status_code == 404
    assert client.get(f"/{org.slug}/shop/products/{'x' * 300}").status_code == 404
    assert client.get("/no-such-org/shop/").status_code == 404
    # The org's staff preview a hidden product; another org's staff do not.
    outsider = make_member(other, "manager")
    login(outsider.email)
    assert client.get(f"/{org.slug}/shop/products/secret-prototype").status_code == 404
    agent = make_member(org, "agent")
    staff = app.test_client()
    staff.post("/login", data={"email": agent.email, "password": agent.password})
    preview = staff.get(f"/{org.slug}/shop/products/secret-prototype")
    assert preview.status_code == 200 and "hidden from the shop" in preview.text


def test_pictures_are_served_to_their_org_only(client, shop, in_org, app, tmp_path):
    org, other, made = shop
    app.config["ATTACHMENTS_DIR"] = str(tmp_path)
    with in_org(org.id):
        image = product_images.add_image(catalog.get_product(made["mug"].id), "mug.png",
                                         io.BytesIO(PNG), "A red mug")
        image_id = image.id
    with in_org(other.id):
        theirs = product_images.add_image(catalog.get_product(made["theirs"].id), "l.png",
                                          io.BytesIO(PNG)).id
    with client.get(f"/{org.slug}/shop/images/{image_id}") as response:
        assert response.status_code == 200 and response.data == PNG
        assert response.mimetype == "image/png"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Cache-Control"] == "public, max-age=3600"
    assert client.get(f"/{org.slug}/shop/images/{theirs}").status_code == 404
    assert client.get(f"/{other.slug}/shop/images/{image_id}").status_code == 404
    page = client.get(f"/{org.slug}/shop/").text
    assert f'src="/{org.slug}/shop/images/{image_id}" alt="A red mug"' in page


def test_the_add_to_cart_form_reaches_the_cart(client, shop):
    org, _, made = shop
    product_url = f"/{org.slug}/shop/products/camp-mug"
    page = client.get(product_url).text
    action = re.search(r'<form method="post" action="([^"]+)"', page).group(1)
    form = {"variant_id": str(made["mug"].variant_ids[0]), "quantity": "2", "p_name": "Ada"}
    missing = client.post(action, data=form, headers={"Referer": f"http://localhost"
                                                                  f"{product_url}"},
                          follow_redirects=True)
    assert "Colour is required." in missing.text and "<h1>Camp mug</h1>" in missing.text
    added = client.post(action, data={**form, "p_colour": "Blue"})
    assert added.status_code == 303
    cart = client.get(f"/{org.slug}/shop/cart").text
    assert "Camp mug" in cart and "€18.00" in cart


def test_the_option_menus_follow_catalog_changes(client, shop, in_org):
    org, _, made = shop
    assert '<option value="XL"' not in client.get(f"/{org.slug}/shop/").text  # now cached
    with in_org(org.id):
        catalog.save_variant(None, catalog.get_product(made["socks"].id), None,
                             {"sku": "S-XL", "options": {"size": "XL"}})
    assert '<option value="XL"' in client.get(f"/{org.slug}/shop/").text

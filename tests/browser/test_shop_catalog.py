"""A visitor browses the shop in Chromium: the product list, a category filter that applies
on change, a search, the product page and its variant picker (price and availability follow
the chosen variant, a sold-out one cannot be added) and into the cart, with no console or
CSP errors. A manager
then adds a product in the desk (a mistake shown next to its field)."""

import os
import re
from pathlib import Path
from types import SimpleNamespace

from playwright.sync_api import expect

from helpdesk.accounts import services as accounts
from helpdesk.core import tenancy
from helpdesk.extensions import db
from helpdesk.orgs import services as orgs
from helpdesk.orgs.models import Membership, Role
from storefront import catalog

PASSWORD = "shop-manager-password"


def seed(app) -> SimpleNamespace:
    with app.app_context():
        with tenancy.system_scope():
            owner = accounts.create_user(email="ola@fjord.test", name="Ola Owner",
                                         password=PASSWORD)
            org = orgs.create_org(name="Fjord Outdoor", slug="fjord", owner=owner,
                                  plan="growing")
            manager = accounts.create_user(email="mia@fjord.test", name="Mia Manager",
                                           password=PASSWORD)
            db.session.add(Membership(org_id=org.id, user=manager, role=Role.MANAGER))
            db.session.flush()
        tenancy.set_current_org(org.id)
        clothing = catalog.save_category(None, name="Clothing")
        camping = catalog.save_category(None, name="Camping")
        catalog.create_product(owner.id, {
            "name": "Rain jacket", "price": 12900, "category_id": clothing.id,
            "description": "Keeps you dry on the fjord.",
            "variants": [{"sku": "RJ-S", "options": {"size": "S"}, "stock": 0},
                         {"sku": "RJ-M", "options": {"size": "M"}, "stock": 2},
                         {"sku": "RJ-L", "options": {"size": "L"}, "price": 13900,
                          "stock": 20}]})
        catalog.create_product(owner.id, {"name": "Wool hat", "price": 2900,
                                          "category_id": clothing.id,
                                          "variants": [{"sku": "HAT", "stock": 9}]})
        catalog.create_product(owner.id, {"name": "Camp stove", "price": 5900,
                                          "category_id": camping.id,
                                          "variants": [{"sku": "STOVE", "stock": 0}]})
        db.session.commit()
        return SimpleNamespace(slug=org.slug)


def test_visitor_filters_opens_a_product_and_picks_a_variant(live_server, page, tmp_path):
    problems = []
    page.on("console", lambda message: message.type == "error" and "status of 422"
            not in message.text and problems.append(message.text))
    page.on("pageerror", lambda error: problems.append(str(error)))
    shots = Path(os.environ.get("DESK_SCREENSHOTS", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)
    shop = seed(live_server.app)
    base = live_server.url
    page.set_viewport_size({"width": 1280, "height": 900})

    page.goto(f"{base}/{shop.slug}/shop/")
    cards = page.get_by_test_id("product-card")
    expect(cards).to_have_count(3)
    expect(cards.filter(has_text="Camp stove").get_by_test_id("out-of-stock")).to_be_visible()
    expect(cards.filter(has_text="Rain jacket")).to_contain_text("from €129.00")
    page.screenshot(path=str(shots / "shop-list.png"), full_page=True)

    # The category menu applies as soon as it changes (shop.js), and the URL says so.
    page.get_by_label("Category").select_option(label="Clothing")
    expect(page).to_have_url(re.compile(r"/shop/\?.*category=clothing"))
    expect(cards).to_have_count(2)
    page.get_by_label("In stock only").check()
    expect(cards).to_have_count(2)
    page.get_by_label("Size").select_option("S")
    expect(page.get_by_test_id("no-products")).to_be_visible()
    page.get_by_role("link", name="Clear all").click()
    expect(cards).to_have_count(3)
    page.get_by_label("Search the shop").fill("fjord")
    page.get_by_role("button", name="Search").click()
    expect(cards).to_have_count(1)

    cards.first.get_by_role("link").click()
    expect(page.get_by_role("heading", name="Rain jacket", level=1)).to_be_visible()
    price, availability = page.get_by_test_id("product-price"), page.get_by_test_id("availability")
    add = page.get_by_test_id("add-to-cart-button")
    # The first variant in stock is chosen: M, two left.
    expect(page.get_by_label("M · €129.00 · 2 left")).to_be_checked()
    expect(price).to_have_text("€129.00")
    expect(availability).to_have_text("2 left")
    page.get_by_label("L · €139.00 · In stock").check()
    expect(price).to_have_text("€139.00")
    expect(availability).to_have_text("In stock")
    expect(add).to_be_enabled()
    expect(page).to_have_url(re.compile(r"variant=\d+"))
    page.get_by_label("S · €129.00 · Out of stock").check()
    expect(availability).to_have_text("Out of stock")
    expect(add).to_be_disabled()
    expect(page.get_by_test_id("delivery")).to_contain_text("Standard delivery")
    expect(page.get_by_test_id("reviews")).to_contain_text("Reviews coming soon.")
    page.screenshot(path=str(shots / "shop-product.png"), full_page=True)
    # The form goes to the cart with the chosen variant (CSRF on: the token is in the form).
    page.get_by_label("L · €139.00 · In stock").check()
    page.get_by_label("Quantity").fill("2")
    add.click()
    expect(page).to_have_url(f"{base}/{shop.slug}/shop/cart")
    expect(page.locator("main")).to_contain_text("Rain jacket")
    expect(page.locator("main")).to_contain_text("€278.00")
    assert problems == []


def test_manager_adds_a_product_in_the_desk(live_server, page, tmp_path):
    shots = Path(os.environ.get("DESK_SCREENSHOTS", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)
    problems = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    shop = seed(live_server.app)
    base = live_server.url
    page.goto(f"{base}/login")
    page.get_by_label("Email").fill("mia@fjord.test")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("navigation", name="Desk").get_by_role("link", name="Store").click()
    expect(page.get_by_test_id("product-row")).to_have_count(3)
    page.get_by_role("link", name="New product").click()
    page.get_by_label("Name", exact=True).fill("Trail map")
    page.get_by_label("Price", exact=True).fill("twelve")
    page.get_by_label("SKU").fill("MAP-1")
    page.get_by_label("Units in stock").fill("7")
    page.get_by_role("button", name="Create product").click()
    expect(page.locator("#price-error")).to_have_text("Enter an amount like 12.50.")
    expect(page.get_by_label("Name", exact=True)).to_have_value("Trail map")
    page.get_by_label("Price", exact=True).fill("12.50")
    page.get_by_role("button", name="Create product").click()
    expect(page.get_by_text("Product created.")).to_be_visible()
    expect(page.get_by_test_id("variant-row")).to_contain_text("MAP-1")
    page.screenshot(path=str(shots / "desk-product.png"), full_page=True)
    page.goto(f"{base}/{shop.slug}/shop/products/trail-map")
    expect(page.get_by_test_id("product-price")).to_have_text("€12.50")
    expect(page.get_by_test_id("availability")).to_have_text("In stock")
    assert problems == []

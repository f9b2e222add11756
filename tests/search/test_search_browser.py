"""The header's search box in Chromium: instant results grouped by type while typing, the
arrow keys and Enter to open a ticket, Escape to close, Enter without a choice for all results."""

from __future__ import annotations

import os
import re
from pathlib import Path
from types import SimpleNamespace

from playwright.sync_api import expect

from helpdesk.accounts import services as accounts
from helpdesk.core import tenancy
from helpdesk.extensions import db
from helpdesk.orgs import services as orgs
from helpdesk.tickets import services
from helpdesk.tickets.models import Channel
from tests.browser.conftest import browser_type_launch_args  # noqa: F401  (Debian's Chromium)
from tests.browser.test_agent_desk import PASSWORD, sign_in


def seed(app) -> SimpleNamespace:
    with app.app_context():
        with tenancy.system_scope():
            owner = accounts.create_user(email="lee@lamps.test", name="Lee Chen",
                                         password=PASSWORD)
            org = orgs.create_org(name="Lamp House", slug="lamps", owner=owner)
        tenancy.set_current_org(org.id)
        ada = services.find_or_create_customer("ada@example.com", "Ada Lovelace")
        numbers = [services.create_ticket(None, subject=subject, body_text=body, customer=ada,
                                          channel=Channel.EMAIL).number
                   for subject, body in (
                       ("Desk lamp flickers", "The lamp flickers when the heating is on."),
                       ("Lamp shade cracked", "The shade of my lamp arrived cracked."),
                       ("Invoice copy", "Please send the invoice again."))]
        db.session.commit()
        return SimpleNamespace(slug=org.slug, numbers=numbers)


def test_instant_results_and_keyboard(live_server, page, tmp_path):
    base = live_server.url
    data = seed(live_server.app)
    flickers, cracked, _ = data.numbers
    shots = Path(os.environ.get("DESK_SCREENSHOTS", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)
    problems = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.set_viewport_size({"width": 1280, "height": 900})

    sign_in(page, base, "lee@lamps.test")
    expect(page.get_by_role("heading", name="Welcome, Lee Chen")).to_be_visible()

    box = page.get_by_role("combobox", name="Search tickets, messages, customers and orders")
    box.press_sequentially("lam", delay=30)
    box.press_sequentially("p", delay=30)
    listbox = page.get_by_role("listbox", name="Instant results")
    expect(listbox).to_be_visible()
    expect(box).to_have_attribute("aria-expanded", "true")
    expect(listbox.get_by_role("group", name="Tickets").get_by_role("option")).to_have_count(2)
    expect(listbox.get_by_role("group", name="Messages").get_by_role("option")).to_have_count(2)
    expect(listbox.get_by_role("group", name="Customers")).to_have_count(0)
    expect(listbox.locator("mark").first).to_have_text(re.compile("lamp", re.I))
    page.screenshot(path=str(shots / "search-instant.png"))

    # Escape closes the list and keeps the focus; ArrowDown opens it again.
    box.press("Escape")
    expect(listbox).to_be_hidden()
    expect(box).to_be_focused()
    box.press("ArrowDown")
    expect(listbox).to_be_visible()
    first = listbox.get_by_role("option").first
    expect(first).to_have_attribute("aria-selected", "true")
    expect(box).to_have_attribute("aria-activedescendant", first.get_attribute("id"))
    box.press("ArrowDown")
    expect(listbox.get_by_role("option").nth(1)).to_have_attribute("aria-selected", "true")
    box.press("ArrowUp")
    expect(first).to_have_attribute("aria-selected", "true")
    box.press("Enter")
    expect(page).to_have_url(f"{base}/lamps/desk/tickets/{cracked}")  # the newest match
    expect(page.get_by_role("heading", name=f"Lamp shade cracked #{cracked}")).to_be_visible()

    # Enter without a choice goes to the results page, where the match is marked.
    box = page.get_by_role("combobox", name="Search tickets, messages, customers and orders")
    box.fill("flickers")
    box.press("Enter")
    expect(page).to_have_url(f"{base}/lamps/desk/search?q=flickers")
    expect(page.get_by_test_id("hit-ticket")).to_have_count(1)
    expect(page.get_by_test_id("hit-ticket").locator("mark")).to_have_text("flickers")
    page.screenshot(path=str(shots / "search-results.png"), full_page=True)
    page.get_by_test_id("hit-ticket").get_by_role("link").click()
    expect(page).to_have_url(f"{base}/lamps/desk/tickets/{flickers}")
    assert problems == []


def seed_order(app) -> SimpleNamespace:
    from storefront import checkout, inventory
    from storefront.models import Product, Variant

    with app.app_context():
        with tenancy.system_scope():
            owner = accounts.create_user(email="kim@kettles.test", name="Kim Park",
                                         password=PASSWORD)
            org = orgs.create_org(name="Kettle Co", slug="kettles", owner=owner)
        tenancy.set_current_org(org.id)
        product = Product(org_id=org.id, name="Copper kettle", slug="copper-kettle", price=4500)
        db.session.add(product)
        db.session.flush()
        variant = Variant(org_id=org.id, product_id=product.id, sku="KET-CU", options={})
        db.session.add(variant)
        db.session.flush()
        inventory.adjust(variant.id, 5, "receipt", "initial stock", None)
        order = checkout.place_order(
            org, email="ada@example.com", name="Ada Lovelace",
            items=[{"variant_id": variant.id, "quantity": 1}], payment="cash_on_delivery",
            shipping_address={"name": "Ada Lovelace", "line1": "1 Main St",
                              "postal_code": "1000", "city": "Brussels", "country": "BE"})
        db.session.commit()
        return SimpleNamespace(id=order.id, number=order.number, total=order.total)


def test_instant_results_show_orders(live_server, page):
    from storefront.money import format_money

    base = live_server.url
    order = seed_order(live_server.app)
    problems = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    sign_in(page, base, "kim@kettles.test")
    box = page.get_by_role("combobox", name=re.compile("^Search tickets"))
    box.press_sequentially("kettle", delay=30)
    listbox = page.get_by_role("listbox", name="Instant results")
    orders = listbox.get_by_role("group", name="Orders").get_by_role("option")
    expect(orders).to_have_count(1)
    expect(orders.first).to_contain_text(f"Order #{order.number}")
    expect(orders.first).to_contain_text(f"confirmed · {format_money(order.total, 'EUR')}")
    expect(orders.first.locator("mark")).to_have_text(re.compile("kettle", re.I))
    box.press("ArrowDown")
    box.press("Enter")
    expect(page).to_have_url(f"{base}/kettles/desk/store/orders/{order.id}")
    assert problems == []

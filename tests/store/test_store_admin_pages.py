"""The desk's store pages: managers create and change products, variants, stock, pictures,
categories and import CSV; agents read; mistakes come back next to their fields; another
org's ids are 404s."""

from __future__ import annotations

import io
import re

import pytest
from sqlalchemy import select

from helpdesk.extensions import db
from storefront import catalog
from storefront.models import MovementKind, ProductImage, StockMovement

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture
def store(make_org, make_member, catalog_product, app, tmp_path):
    app.config["ATTACHMENTS_DIR"] = str(tmp_path)
    org = make_org()
    product = catalog_product(org, name="Merino socks", price=1200,
                              variants=[{"sku": "SOCK-S", "options": {"size": "S"}, "stock": 3}])
    return org, product, make_member(org, "manager"), make_member(org, "agent")


def base(org) -> str:
    return f"/{org.slug}/desk/store"


def field_error(page: str, field_id: str) -> str:
    found = re.search(rf'id="{field_id}-error">([^<]+)<', page)
    return found.group(1) if found else ""


def test_agents_read_the_catalog_but_cannot_change_it(client, store, login):
    org, product, _, agent = store
    login(agent.email)
    listing = client.get(f"{base(org)}/products")
    assert listing.status_code == 200 and "Merino socks" in listing.text
    assert "New product" not in listing.text
    page = client.get(f"{base(org)}/products/{product.id}")
    assert page.status_code == 200 and "SOCK-S" in page.text
    assert '<fieldset class="plain-fieldset" disabled>' in page.text
    assert 'data-testid="stock-form"' not in page.text
    assert client.get(f"{base(org)}/products/export.csv").status_code == 200
    for path in ("/products/new", f"/products/{product.id}/variants/new", "/products/import"):
        assert client.get(base(org) + path).status_code == 403, path
    for path in (f"/products/{product.id}", f"/products/{product.id}/stock", "/categories",
                 f"/products/{product.id}/images"):
        assert client.post(base(org) + path, data={"name": "x"}).status_code == 403, path


def test_a_manager_creates_a_product_and_mistakes_come_back_by_field(client, store, login,
                                                                       in_org):
    org, _, manager, _ = store
    login(manager.email)
    form = {"name": "Camp mug", "price": "abc", "description": "Enamel", "sku": "SOCK-S",
            "stock": "4", "tax_inclusive": "y", "is_active": "y",
            "personalization-0-key": "Bad Key", "personalization-0-label": "Name",
            "personalization-0-type": "text", "personalization-0-max_length": "20"}
    refused = client.post(f"{base(org)}/products/new", data=form)
    assert refused.status_code == 422
    assert field_error(refused.text, "price") == "Enter an amount like 12.50."
    assert 'value="Camp mug"' in refused.text  # what was typed stays
    form["price"] = "9.50"
    refused = client.post(f"{base(org)}/products/new", data=form)
    assert refused.status_code in (409, 422)
    assert "Lower-case letters, digits and _" in refused.text
    form["personalization-0-key"] = "name"
    refused = client.post(f"{base(org)}/products/new", data=form)
    assert refused.status_code == 409
    assert field_error(refused.text, "sku") == "The SKU SOCK-S is already used by another " \
                                               "product."
    form["sku"] = "MUG-1"
    created = client.post(f"{base(org)}/products/new", data=form)
    assert created.status_code == 303
    with in_org(org.id):
        mug = catalog.get_product_by_slug("camp-mug")
        assert (mug.price, mug.description, mug.personalization) == (950, "Enamel", [
            {"key": "name", "label": "Name", "type": "text", "required": False,
             "max_length": 20}])
        variant = catalog.variants_of(mug.id)[0]
        assert (variant.sku, catalog.stock_levels([variant.id])[variant.id].on_hand) == (
            "MUG-1", 4)
        mug_id = mug.id
    assert created.headers["Location"].endswith(f"/desk/store/products/{mug_id}")


def test_editing_a_product_keeps_what_is_not_on_the_form(client, store, login, in_org):
    org, product, manager, _ = store
    login(manager.email)
    page = client.get(f"{base(org)}/products/{product.id}").text
    assert 'value="12.00"' in page
    saved = client.post(f"{base(org)}/products/{product.id}", data={
        "name": "Merino socks II", "price": "14", "slug": "merino-socks",
        "is_active": "y"})
    assert saved.status_code == 303
    with in_org(org.id):
        changed = catalog.get_product(product.id)
        assert (changed.name, changed.price, changed.is_active, changed.tax_inclusive) == (
            "Merino socks II", 1400, True, False)
        assert [v.sku for v in catalog.variants_of(product.id)] == ["SOCK-S"]


def test_variants_and_stock_from_the_product_page(client, store, login, in_org):
    org, product, manager, _ = store
    login(manager.email)
    url = f"{base(org)}/products/{product.id}"
    refused = client.post(f"{url}/variants/new", data={"sku": "SOCK-M", "options": "size",
                                                       "price": "-1"})
    assert refused.status_code == 422
    assert "Write each option as name=value" in field_error(refused.text, "options")
    refused = client.post(f"{url}/variants/new", data={"sku": "SOCK-M", "options": "size=S"})
    assert field_error(refused.text, "options") == "Same options as variant SOCK-S."
    added = client.post(f"{url}/variants/new", data={
        "sku": "SOCK-M", "options": "size=M, colour=Grey", "price": "15.00", "stock": "2",
        "is_active": "y"})
    assert added.status_code == 303
    with in_org(org.id):
        small, medium = catalog.variants_of(product.id)
        assert (medium.options, medium.price) == ({"size": "M", "colour": "Grey"}, 1500)
        small, medium = small.id, medium.id
    edit = client.get(f"{url}/variants/{medium}").text
    assert 'value="size=M, colour=Grey"' in edit and 'value="15.00"' in edit
    for data in ({"stock-variant_id": small, "stock-action": "receipt",
                  "stock-quantity": "5", "stock-note": "Delivery"},
                 {"stock-variant_id": small, "stock-action": "adjustment",
                  "stock-quantity": "-2"},
                 {"stock-variant_id": medium, "stock-action": "count",
                  "stock-quantity": "9"}):
        assert client.post(f"{url}/stock", data=data).status_code == 303
    too_many = client.post(f"{url}/stock", data={"stock-variant_id": small,
                                                 "stock-action": "adjustment",
                                                 "stock-quantity": "-99"},
                           follow_redirects=True)
    assert "Cannot remove 99: 6 on hand." in too_many.text
    with in_org(org.id):
        levels = catalog.stock_levels([small, medium])
        assert (levels[small].on_hand, levels[medium].on_hand) == (6, 9)
        kinds = db.session.scalars(select(StockMovement.kind).order_by(StockMovement.id)).all()
        assert kinds == [MovementKind.RECEIPT, MovementKind.RECEIPT, MovementKind.RECEIPT,
                         MovementKind.ADJUSTMENT, MovementKind.ADJUSTMENT]
    page = client.get(url).text
    assert "Delivery" in page and "+5" in page and "-2" in page


def test_pictures_upload_checks_the_file(client, store, login, in_org):
    org, product, manager, _ = store
    login(manager.email)
    url = f"{base(org)}/products/{product.id}/images"
    shown = client.post(url, data={"image-image": (io.BytesIO(b"<svg onload=alert(1)>"),
                                                   "evil.png"), "image-alt": ""},
                        content_type="multipart/form-data", follow_redirects=True)
    assert "evil.png is not a picture we can show." in shown.text
    assert client.post(url, data={"image-image": (io.BytesIO(PNG), "socks.png"),
                                  "image-alt": "Grey socks"},
                       content_type="multipart/form-data").status_code == 303
    with in_org(org.id):
        image = db.session.scalar(select(ProductImage))
        assert (image.content_type, image.alt, image.filename) == ("image/png", "Grey socks",
                                                                   "socks.png")
        image_id = image.id
    assert client.post(f"{url}/{image_id}/delete").status_code == 303
    with in_org(org.id):
        assert db.session.scalar(select(ProductImage)) is None


def test_csv_export_and_import_pages(client, store, login):
    org, _, manager, _ = store
    login(manager.email)
    exported = client.get(f"{base(org)}/products/export.csv")
    assert exported.mimetype == "text/csv"
    assert "attachment" in exported.headers["Content-Disposition"]
    assert b"SOCK-S" in exported.data
    bad = client.post(f"{base(org)}/products/import", data={
        "file": (io.BytesIO(b"product_name,price,sku\nMug,-2,M1\n"), "c.csv")},
        content_type="multipart/form-data")
    assert bad.status_code == 422
    assert "Line 2: price: Enter an amount like 12.50." in bad.text
    good = client.post(f"{base(org)}/products/import", data={
        "file": (io.BytesIO(b"product_name,price,sku\nMug,2,M1\n"), "c.csv")},
        content_type="multipart/form-data", follow_redirects=True)
    assert "Imported 1 variant: 1 new product, 0 updated." in good.text


def test_categories(client, store, login, in_org):
    org, _, manager, _ = store
    login(manager.email)
    assert client.post(f"{base(org)}/categories", data={"name": "Socks & more"}).status_code \
        == 303
    refused = client.post(f"{base(org)}/categories", data={"name": "Other",
                                                           "slug": "socks-more"})
    assert refused.status_code == 409
    assert field_error(refused.text, "slug") == "Another one has this address."
    with in_org(org.id):
        category = catalog.categories()[0]
        assert category.slug == "socks-more"
        category_id = category.id
    assert client.post(f"{base(org)}/categories/{category_id}",
                       data={"name": "Socks", "slug": ""}).status_code == 303
    assert client.post(f"{base(org)}/categories/{category_id}/delete").status_code == 303
    with in_org(org.id):
        assert catalog.categories() == []


def test_another_orgs_products_are_not_found(client, store, login, make_org, catalog_product):
    org, product, manager, _ = store
    other = make_org()
    theirs = catalog_product(other, name="Their socks", variants=[{"sku": "T1"}])
    login(manager.email)
    mine = base(org)
    for method, path in [
        ("get", f"/products/{theirs.id}"), ("post", f"/products/{theirs.id}"),
        ("get", f"/products/{theirs.id}/variants/new"),
        ("get", f"/products/{product.id}/variants/{theirs.variant_ids[0]}"),
        ("post", f"/products/{theirs.id}/stock"), ("post", f"/products/{theirs.id}/images"),
        ("get", f"/products/{theirs.id}/variants/{theirs.variant_ids[0]}"),
    ]:
        assert getattr(client, method)(mine + path).status_code == 404, path
    # Naming the other org in the URL: this manager is no member there.
    assert client.get(f"{base(other)}/products").status_code == 404
    assert "Their socks" not in client.get(f"{mine}/products").text
    assert b"T1" not in client.get(f"{mine}/products/export.csv").data


def test_a_large_file_is_checked_at_once_and_written_by_a_job(client, store, login, in_org,
                                                               run_jobs):
    from helpdesk.tickets.models import Notification
    from storefront.catalog_jobs import SYNC_ROWS

    org, _, manager, _ = store
    login(manager.email)
    rows = ["product_name,price,sku,stock"] + [f"Tent {n},{n}.00,TENT-{n},{n % 3}"
                                               for n in range(SYNC_ROWS + 1)]
    bad = client.post(f"{base(org)}/products/import", data={"file": (io.BytesIO(
        "\n".join([*rows, "Broken,-1,B-1,1"]).encode()), "big.csv")},
        content_type="multipart/form-data")
    assert bad.status_code == 422 and f"Line {SYNC_ROWS + 3}: price" in bad.text
    started = client.post(f"{base(org)}/products/import", data={"file": (io.BytesIO(
        "\n".join(rows).encode()), "big.csv")}, content_type="multipart/form-data",
        follow_redirects=True)
    assert f"All {SYNC_ROWS + 1} rows are fine: they are being imported now." in started.text
    with in_org(org.id):
        assert len(catalog.categories()) == 0 and catalog.get_product_by_slug("tent-7") is None
    run_jobs()
    with in_org(org.id):
        assert catalog.get_product_by_slug("tent-7").price == 700
        note = db.session.scalar(select(Notification).where(Notification.user_id == manager.id))
        assert note.text == (f"Catalog import done. Imported {SYNC_ROWS + 1} variants: "
                             f"{SYNC_ROWS + 1} new products, 0 updated.")

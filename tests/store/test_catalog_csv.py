"""CSV export and import of the catalog: one row per variant, a round trip that changes
nothing, updates by slug and SKU, and files with mistakes refused whole, by line."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import func, select

from helpdesk.extensions import db
from storefront import catalog, catalog_csv
from storefront.models import Product, StockLevel, Variant

HEADER = ("product_slug,product_name,description,category,price,tax_inclusive,"
          "product_active,sku,variant_price,weight_grams,stock,variant_active,option:size")


def run_import(in_org, org, text: str | bytes):
    data = text.encode() if isinstance(text, str) else text
    with in_org(org.id, org.owner_id):
        return catalog_csv.import_csv(org.owner_id, catalog_csv.read_upload(io.BytesIO(data)),
                                      "EUR")


def refused(in_org, org, text) -> list[tuple[int, str]]:
    with pytest.raises(catalog_csv.ImportRefused) as caught:
        run_import(in_org, org, text)
    return caught.value.errors


def export(in_org, org) -> str:
    with in_org(org.id):
        return catalog_csv.export_csv("EUR")


def counts(in_org, org) -> tuple[int, int]:
    with in_org(org.id):
        return (db.session.scalar(select(func.count()).select_from(Product)),
                db.session.scalar(select(func.count()).select_from(Variant)))


def test_export_is_one_row_per_variant_and_safe_in_a_spreadsheet(make_org, catalog_product,
                                                                   in_org):
    org = make_org()
    with in_org(org.id):
        category = catalog.save_category(None, name="Clothing").id
    catalog_product(org, name="Merino socks", price=1200, category_id=category,
                    description="=HYPERLINK(\"http://evil\")\nsecond line",
                    variants=[{"sku": "SOCK-S", "options": {"size": "S"}, "stock": 3},
                              {"sku": "SOCK-M", "options": {"size": "M"}, "price": 1500,
                               "weight_grams": 80}])
    catalog_product(org, name="Gift card", price=2500, is_active=False)
    rows = list(csv.reader(io.StringIO(export(in_org, org))))
    assert ",".join(rows[0]) == HEADER
    assert rows[1:] == [
        ["merino-socks", "Merino socks", "'=HYPERLINK(\"http://evil\")\nsecond line",
         "Clothing", "12.00", "yes", "yes", "SOCK-S", "", "", "3", "yes", "S"],
        ["merino-socks", "Merino socks", "'=HYPERLINK(\"http://evil\")\nsecond line",
         "Clothing", "12.00", "yes", "yes", "SOCK-M", "15.00", "80", "0", "yes", "M"],
        ["gift-card", "Gift card", "", "", "25.00", "yes", "no", "GIFT-CARD", "", "", "0",
         "yes", ""]]


def test_an_exported_file_imports_back_unchanged(make_org, catalog_product, in_org):
    org = make_org()
    catalog_product(org, name="Merino socks", price=1200, description="=1+1",
                    variants=[{"sku": "SOCK-S", "options": {"size": "S"}, "stock": 3},
                              {"sku": "SOCK-M", "options": {"size": "M"}, "price": 1500}])
    before = export(in_org, org)
    result = run_import(in_org, org, before)
    assert (result.products_created, result.products_updated, result.variants) == (0, 1, 2)
    assert export(in_org, org) == before
    with in_org(org.id):
        assert catalog.get_product_by_slug("merino-socks").description == "=1+1"


def test_an_export_moves_a_catalog_to_another_org(make_org, catalog_product, in_org):
    org, other = make_org(), make_org()
    catalog_product(org, name="Merino socks", price=1200,
                    variants=[{"sku": "SOCK-S", "options": {"size": "S"}, "stock": 3}])
    run_import(in_org, other, export(in_org, org))
    assert export(in_org, other) == export(in_org, org)
    assert counts(in_org, org) == counts(in_org, other) == (1, 1)


def test_import_creates_updates_and_sets_stock(make_org, catalog_product, in_org):
    org = make_org()
    made = catalog_product(org, name="Merino socks", price=1200,
                           variants=[{"sku": "SOCK-S", "options": {"size": "S"}, "stock": 3}])
    result = run_import(in_org, org, "\n".join([
        "product_name,price,sku,stock,option:size,category",
        "Merino socks,13.00,SOCK-S,10,S,Clothing",
        "Merino socks,13.00,SOCK-L,4,L,Clothing",
        "Camp mug,9,MUG-1,,,Kitchen",
    ]))
    assert (result.products_created, result.products_updated, result.variants,
            result.categories_created) == (1, 1, 3, 2)
    assert result.summary() == "Imported 3 variants: 1 new product, 1 updated, 2 new categories."
    with in_org(org.id):
        socks = catalog.get_product(made.id)
        assert socks.price == 1300
        stock = {v.sku: s.on_hand for v, s in db.session.execute(
            select(Variant, StockLevel).join(StockLevel, StockLevel.variant_id == Variant.id))}
        assert stock == {"SOCK-S": 10, "SOCK-L": 4, "MUG-1": 0}
        assert catalog.get_product_by_slug("camp-mug").price == 900


@pytest.mark.parametrize(("text", "errors"), [
    (b"", [(0, "Choose a CSV file to import.")]),
    (b"\x89PNG\r\n\x1a\n\x00\x00", [(1, "The file is not UTF-8 text: save it as “CSV UTF-8”.")]),
    ("name,cost\nSocks,1", [(1, "Unknown columns: name, cost. Known: product_slug, "
                                 "product_name, description, category, price, tax_inclusive, "
                                 "product_active, sku, variant_price, weight_grams, stock, "
                                 "variant_active, option:<name>."),
                            (1, "Missing columns: product_name, sku.")]),
    ("product_name,sku,sku\nA,B,C", [(1, "Column given twice: sku.")]),
    ("product_name,sku,price\n", [(0, "The file has no rows below the column names.")]),
    ("\n\n", [(1, "The first line must name the columns, e.g. product_name,price,sku,stock.")]),
    ("product_name,sku,price\nSocks,S1,\"12.00", [(2, "The CSV cannot be read here: "
                                                      "unexpected end of data.")]),
])
def test_garbage_files_are_refused_with_the_reason(make_org, in_org, text, errors):
    org = make_org()
    assert refused(in_org, org, text) == errors
    assert counts(in_org, org) == (0, 0)


def test_every_bad_row_is_reported_and_nothing_is_imported(make_org, catalog_product, in_org):
    org = make_org()
    catalog_product(org, name="Lantern", variants=[{"sku": "LAMP"}])
    errors = refused(in_org, org, "\n".join([
        "product_name,price,sku,stock,weight_grams,variant_active,option:size",
        "Good socks,12.00,GOOD-1,5,,yes,S",       # fine, but the file is refused whole
        "Bad price,-3,BAD-1,1,,,",                # 3
        "Bad price 2,abc,BAD-2,1,,,",             # 4
        ",1.00,NONAME,1,,,",                      # 5
        "Stocky,1.00,BAD-3,-2,,,",                # 6
        "Heavy,1.00,BAD-4,1,lots,,",              # 7
        "Flag,1.00,BAD-5,1,,maybe,",              # 8
        "Twice,1.00,GOOD-1,1,,,M",                # 9: the SKU of line 2
        "Good socks,13.00,GOOD-2,1,,,M",          # 10: differs from line 2
        "Spaced,1.00,BAD SKU,1,,,",               # 11
        "Theirs,1.00,LAMP,1,,,",                  # 12: another product's SKU
        "Toolong," + "1" * 40 + ",BAD-6,1,,,",    # 13
        "x" * 201 + ",1,BAD-7,1,,,",              # 14
        "Extra,1,BAD-8,1,,,,,",                   # 15
    ]))
    assert errors == [
        (3, "price: Enter an amount like 12.50."),
        (4, "price: Enter an amount like 12.50."),
        (5, "product_name: product_name is required."),
        (6, "stock: A whole number, 0 or more."),
        (7, "weight_grams: A whole number, 0 or more."),
        (8, "variant_active: write yes or no (not “maybe”)."),
        (9, "sku: GOOD-1 is already on line 2."),
        (10, "The product columns differ from line 2 of the same product: repeat them as they "
             "are."),
        (11, "sku: Letters, digits and . _ / - (no spaces), at most 64."),
        (12, "sku: LAMP belongs to the product lantern: give that product_slug to change it."),
        (13, "price: Enter an amount like 12.50."),
        (14, "product_name: At most 200 characters (this has 201)."),
        (15, "9 cells but 7 columns: check the quotes and commas."),
    ]
    assert counts(in_org, org) == (1, 1)
    # What only the services check (the form of a slug) still names its line.
    errors = refused(in_org, org, "\n".join([
        "product_slug,product_name,price,sku",
        "Not A Slug,Spaced,1.00,OK-1",
    ]))
    assert errors == [(2, "slug: Lower-case letters, digits and single hyphens, e.g. "
                          "wool-socks.")]
    assert counts(in_org, org) == (1, 1)


def test_line_numbers_count_lines_inside_quoted_cells(make_org, in_org):
    org = make_org()
    errors = refused(in_org, org, 'product_name,description,price,sku\n'
                                  'Socks,"two\nlines",1.00,S1\n'
                                  'Mug,one line,-1,M1\n')
    assert errors == [(4, "price: Enter an amount like 12.50.")]


def test_a_bom_and_windows_line_ends_are_fine(make_org, in_org):
    org = make_org()
    run_import(in_org, org, "\ufeffproduct_name,price,sku\r\nSocks,1.50,S1\r\n")
    assert counts(in_org, org) == (1, 1)


def test_the_import_job_tells_what_only_writing_finds(make_org, in_org, run_jobs, app,
                                                     tmp_path):
    from helpdesk.tickets.models import Notification
    from storefront import catalog_jobs

    app.config["ATTACHMENTS_DIR"] = str(tmp_path)
    org = make_org()
    with in_org(org.id, org.owner_id):
        catalog_jobs.import_later(org.id, org.owner_id,
                                  b"product_slug,product_name,price,sku\nNot A Slug,X,1,X1\n")
    assert len(list(tmp_path.rglob("*"))) == 2  # the org's folder and the file
    run_jobs()
    with in_org(org.id):
        assert db.session.scalar(select(Notification.text)) == (
            "Catalog import refused. Nothing was imported: 1 problem in the file. line 2: "
            "slug: Lower-case letters, digits and single hyphens, e.g. wool-socks.")
    assert counts(in_org, org) == (0, 0)
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []  # the file went with it
    with app.app_context():  # run again (a retry): the file is gone, nothing happens
        assert catalog_jobs.import_catalog(org.id, org.owner_id, f"{org.id}/gone") == "no file"

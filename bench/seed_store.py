"""The store benchmark's catalog (bench/store.py): 10,000 products with 3 variants each (30,000
variants and stock rows) and 12 categories in one org, written by set-based SQL as the database
owner (RLS does not bind it) with every trigger on (search vector, price_from).

Products: names from word pools ("Kestrel wool hiking socks"), a short description, a price of
4.00-199.00, created over the last year (created_at in id order, newest last), 5% hidden. Each
product's variants are three of the sizes XS..XXL in one colour, SKU `B-<product>-<n>`, every
fifth variant with its own price; stock 0-60 units (about 10% sold out).
"""

from __future__ import annotations

import time

import psycopg

ADJECTIVES = ("Kestrel", "Harbour", "Alpine", "Meadow", "Granite", "Coastal", "Nordic",
              "Urban", "Summit", "Willow", "Ember", "Glacier", "Cedar", "Falcon", "Lumen",
              "Saffron", "Tundra", "Orchid", "Basalt", "Juniper")
MATERIALS = ("wool", "cotton", "linen", "leather", "canvas", "bamboo", "fleece", "denim",
             "merino", "recycled", "organic", "waxed")
NOUNS = ("hiking socks", "rain jacket", "tote bag", "beanie", "running shirt", "hoodie",
         "travel mug", "scarf", "backpack", "gloves", "sneakers", "sweater", "cap", "apron",
         "blanket", "notebook", "water bottle", "belt", "wallet", "pyjamas")
CATEGORIES = ("Clothing", "Shoes", "Bags", "Accessories", "Home", "Kitchen", "Outdoor",
              "Stationery", "Sports", "Kids", "Gifts", "Sale")
SIZES = ("XS", "S", "M", "L", "XL", "XXL")
COLOURS = ("red", "blue", "green", "black", "white", "grey", "navy", "olive", "sand",
           "burgundy", "teal", "mustard")


def _array(values) -> str:
    return "ARRAY[" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + "]"


def seed(dsn: str, org_id: int, products: int = 10_000, log=print) -> dict[str, float]:
    """Categories, products, variants, stock rows; returns the phases' seconds."""
    phases: dict[str, float] = {}
    with psycopg.connect(dsn) as conn:
        t0 = time.perf_counter()
        conn.execute(
            "INSERT INTO shop_categories (org_id, name, slug, position)"
            " SELECT %s, c, lower(c), i FROM unnest(" + _array(CATEGORIES) + ")"
            " WITH ORDINALITY AS t(c, i)", (org_id,))
        categories = [r[0] for r in conn.execute(
            "SELECT id FROM shop_categories WHERE org_id = %s ORDER BY position", (org_id,))]
        conn.execute(f"""
            INSERT INTO shop_products (org_id, category_id, name, slug, description, price,
                                       tax_inclusive, is_active, created_at, updated_at)
            SELECT %(org)s, (%(cats)s::bigint[])[1 + (g * 7) %% %(ncat)s],
                   name || ' ' || g, lower(replace(name, ' ', '-')) || '-' || g,
                   'The ' || lower(name) || ' for every day: ' || m || ', made to last, '
                     || 'easy care. Ships in 2 business days.',
                   400 + (g * 7919) %% 19500, true, (g %% 20) <> 0,
                   now() - interval '365 days' * (1 - g::float / %(n)s),
                   now() - interval '365 days' * (1 - g::float / %(n)s)
            FROM (SELECT g,
                         ({_array(ADJECTIVES)})[1 + g %% {len(ADJECTIVES)}] || ' ' ||
                         ({_array(MATERIALS)})[1 + (g / 3) %% {len(MATERIALS)}] || ' ' ||
                         ({_array(NOUNS)})[1 + (g / 7) %% {len(NOUNS)}] AS name,
                         ({_array(MATERIALS)})[1 + (g / 3) %% {len(MATERIALS)}] AS m
                  FROM generate_series(1, %(n)s) g) s
            ORDER BY g""", {"org": org_id, "cats": categories, "ncat": len(categories),
                            "n": products})
        phases["products"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        conn.execute(f"""
            INSERT INTO shop_variants (org_id, product_id, sku, options, price, is_active,
                                       position)
            SELECT p.org_id, p.id, 'B-' || p.rn || '-' || v,
                   jsonb_build_object(
                     'size', ({_array(SIZES)})[1 + (p.rn + v) %% {len(SIZES)}],
                     'colour', ({_array(COLOURS)})[1 + p.rn %% {len(COLOURS)}]),
                   CASE WHEN (p.rn * 3 + v) %% 5 = 0 THEN p.price + 100 * v END, true, v
            FROM (SELECT id, org_id, price, row_number() OVER (ORDER BY id) AS rn
                  FROM shop_products WHERE org_id = %(org)s) p
            CROSS JOIN generate_series(0, 2) v
            ORDER BY p.id, v""", {"org": org_id})
        phases["variants"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        conn.execute("""
            INSERT INTO shop_stock_levels (org_id, variant_id, on_hand, reserved,
                                           low_stock_threshold)
            SELECT org_id, id, CASE WHEN id %% 10 = 3 THEN 0 ELSE (id * 37) %% 61 END, 0, 2
            FROM shop_variants WHERE org_id = %s ORDER BY id""", (org_id,))
        phases["stock"] = time.perf_counter() - t0
        conn.commit()
    with psycopg.connect(dsn, autocommit=True) as conn:
        t0 = time.perf_counter()
        conn.execute("VACUUM ANALYZE shop_categories, shop_products, shop_variants,"
                     " shop_stock_levels")
        phases["vacuum analyze"] = time.perf_counter() - t0
    for name, seconds in phases.items():
        log(f"  {name}: {seconds:.1f} s")
    return phases


def counts(dsn: str, org_id: int) -> dict[str, int]:
    with psycopg.connect(dsn) as conn:
        return {table: conn.execute(f"SELECT count(*) FROM {table} WHERE org_id = %s",
                                    (org_id,)).fetchone()[0]
                for table in ("shop_categories", "shop_products", "shop_variants",
                              "shop_stock_levels")}

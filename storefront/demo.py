"""The demo tenant's shop: a few outdoor-gear products with sizes, colours, price overrides,
personalization and stock (one sold out), made through the catalog services."""

from __future__ import annotations

from storefront import catalog

CATEGORIES = ["Clothing", "Camping", "Accessories"]
# (category, name, price, description, variants [(sku, options, price override, stock)],
#  personalization)
PRODUCTS = [
    ("Clothing", "Alpine shell jacket", 18900,
     "A three-layer waterproof shell for wet days in the mountains.\nTaped seams, helmet "
     "hood, two chest pockets.",
     [("JKT-S", {"size": "S"}, None, 4), ("JKT-M", {"size": "M"}, None, 12),
      ("JKT-L", {"size": "L"}, None, 3), ("JKT-XL", {"size": "XL"}, 19900, 0)], []),
    ("Clothing", "Merino hiking socks", 1800,
     "Cushioned merino wool socks that stay warm when wet. Sold as a pair.",
     [("SOCK-36", {"size": "36-38"}, None, 40), ("SOCK-39", {"size": "39-42"}, None, 55),
      ("SOCK-43", {"size": "43-46"}, None, 2)], []),
    ("Camping", "Down sleeping bag -5°C", 24900,
     "800-fill responsibly sourced down, comfortable to -5°C. Packs to the size of a loaf.",
     [("BAG-REG", {"length": "Regular"}, None, 6), ("BAG-LONG", {"length": "Long"}, 26900, 0)],
     []),
    ("Camping", "Enamel camp mug", 1400,
     "Steel enamel mug, 350 ml. Add a name and we print it on the side.",
     [("MUG-RED", {"colour": "Red"}, None, 30), ("MUG-BLUE", {"colour": "Blue"}, None, 25),
      ("MUG-FOREST", {"colour": "Forest"}, None, 18)],
     [{"key": "name", "label": "Name printed on the mug", "type": "text", "max_length": 20}]),
    ("Camping", "Ultralight tent 2P", 42900,
     "Two-person, double-wall tent at 1.2 kg. Pitches in three minutes.",
     [("TENT-2P", {}, None, 3)], []),
    ("Accessories", "LED headlamp 400 lm", 3990,
     "Rechargeable headlamp with red light and a lock for the backpack.",
     [("LAMP-400", {}, None, 22)], []),
    ("Accessories", "Trail running cap", 2400,
     "Light, quick-drying cap with a reflective logo.", [("CAP-1", {}, None, 0)], []),
    ("Accessories", "Engraved trekking pole", 5900,
     "Carbon trekking pole with a cork grip. We engrave your text on the shaft.",
     [("POLE-110", {"length": "110 cm"}, None, 8), ("POLE-125", {"length": "125 cm"}, None, 5)],
     [{"key": "engraving", "label": "Engraving", "type": "text", "max_length": 30,
       "required": True},
      {"key": "grip", "label": "Grip colour", "type": "choice",
       "choices": ["Natural cork", "Black"]}]),
]


def seed_catalog(actor_id: int | None) -> int:
    """Create the demo products in the current org; how many. Flushes only."""
    categories = {name: catalog.save_category(None, name=name, position=position)
                  for position, name in enumerate(CATEGORIES)}
    for category, name, price, description, variants, fields in PRODUCTS:
        catalog.create_product(actor_id, {
            "name": name, "price": price, "description": description,
            "category_id": categories[category].id, "personalization": fields,
            "variants": [{"sku": sku, "options": options, "price": override, "stock": stock}
                         for sku, options, override, stock in variants]})
    return len(PRODUCTS)

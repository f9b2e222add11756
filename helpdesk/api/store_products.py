"""API v1: the store catalog (list, create, read, change products with their variants).

Reading needs any staff token; writing needs a manager's (or admin's, owner's), as in the desk.
Prices are integers in minor units of the org's currency (1250 = 12.50 EUR).
"""

from __future__ import annotations

from typing import Any

from flask import g, url_for
from marshmallow import Schema, ValidationError, fields, validate

from helpdesk.api import bp
from helpdesk.api.auth import token_required
from helpdesk.api.operations import operation, page_of
from helpdesk.api.schemas import MAX_ID, Id, Text
from helpdesk.api.ticket_schemas import StrictBoolean
from helpdesk.core.errors import ApiError
from helpdesk.orgs.models import Role
from storefront import catalog
from storefront import catalog_checks as checks
from storefront.catalog_listing import SORTS, Listing, decode_cursor, list_products
from storefront.catalog_serialize import serialize_products
from storefront.personalization import MAX_FIELDS

PRICE = {"description": "Minor units of the shop's currency (1250 = 12.50)."}


class Options(fields.Field):
    """A flat object of text values: {"size": "M", "colour": "Red"} (checked by the catalog,
    which names the variant in its message)."""

    def __init__(self, **kwargs: Any):
        super().__init__(metadata={"type": "object", "additionalProperties": {"type": "string"},
                                   "example": {"size": "M"}}, **kwargs)

    def _serialize(self, value, attr, obj, **kwargs):
        return value


class Money(fields.Integer):
    """Minor units: a JSON integer from 0 (not "12.50", not 12.5, not -1)."""

    default_error_messages = {
        "invalid": "Must be a whole number of minor units (cents): 1250 for 12.50."}

    def __init__(self, **kwargs: Any):
        kwargs.setdefault("metadata", PRICE)
        super().__init__(strict=True, validate=self._in_range, **kwargs)

    @staticmethod
    def _in_range(value: int) -> None:
        if value < 0:
            raise ValidationError("The price cannot be negative.")
        if value > checks.MAX_PRICE:
            raise ValidationError(f"The price can be at most {checks.MAX_PRICE}.")


class StoreVariantInputSchema(Schema):
    id = Id(metadata={"description": "Changes that variant (PATCH); without it a new one."})
    sku = Text(max_length=64)
    options = Options()
    price = Money(allow_none=True, metadata={"description": "Overrides the product's price; "
                                                            "null: the product's."})
    stock = fields.Integer(strict=True, validate=validate.Range(min=0, max=checks.MAX_STOCK),
                           metadata={"description": "Units on hand (a stock movement records "
                                                    "the change)."})
    weight_grams = fields.Integer(strict=True, allow_none=True,
                                  validate=validate.Range(min=0, max=checks.MAX_WEIGHT))
    active = StrictBoolean()


class StorePersonalizationFieldSchema(Schema):
    key = fields.String(required=True)
    label = fields.String(required=True)
    type = fields.String(required=True, validate=validate.OneOf(["text", "image", "choice"]))
    required = fields.Boolean()
    max_length = fields.Integer(metadata={"description": "Text fields: 1-500."})
    choices = fields.List(fields.String(), metadata={"description": "Choice fields: 1-50."})


class StoreProductWriteSchema(Schema):
    name = Text(max_length=checks.MAX_NAME)
    description = Text(max_length=checks.MAX_DESCRIPTION)
    price = Money()
    slug = Text(max_length=100, metadata={"description": "The shop address; from the name "
                                                          "when not given."})
    category_id = Id(allow_none=True)
    tax_inclusive = StrictBoolean()
    active = StrictBoolean(metadata={"description": "false hides the product from the shop."})
    personalization = fields.List(fields.Dict(), validate=validate.Length(max=MAX_FIELDS),
                                  metadata={"description": "Fields the buyer fills in: {key, "
                                            "label, type: text|image|choice, required, "
                                            "max_length (text, 1-500), choices (1-50)}."})
    variants = fields.List(fields.Nested(StoreVariantInputSchema),
                           validate=validate.Length(max=checks.MAX_VARIANTS))


class StoreProductCreateSchema(StoreProductWriteSchema):
    name = Text(max_length=checks.MAX_NAME, required=True)
    price = Money(required=True)


class StoreStockSchema(Schema):
    on_hand = fields.Integer()
    reserved = fields.Integer(metadata={"description": "Held by open checkouts."})
    available = fields.Integer()


class StoreVariantSchema(Schema):
    id = fields.Integer()
    sku = fields.String()
    options = fields.Dict(keys=fields.String(), values=fields.String())
    price = fields.Integer(metadata={"description": "What it sells for (minor units)."})
    price_override = fields.Integer(allow_none=True)
    weight_grams = fields.Integer(allow_none=True)
    active = fields.Boolean()
    stock = fields.Nested(StoreStockSchema)


class StoreCategoryRefSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    slug = fields.String()


class StoreImageSchema(Schema):
    id = fields.Integer()
    url = fields.String()
    alt = fields.String()
    content_type = fields.String()
    size = fields.Integer()


class StoreProductSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    slug = fields.String()
    url = fields.String(metadata={"description": "The product's page in the shop."})
    description = fields.String()
    price = fields.Integer(metadata=PRICE)
    price_from = fields.Integer(metadata={"description": "The cheapest active variant's price."})
    currency = fields.String()
    tax_inclusive = fields.Boolean()
    active = fields.Boolean()
    category = fields.Nested(StoreCategoryRefSchema, allow_none=True)
    personalization = fields.List(fields.Nested(StorePersonalizationFieldSchema))
    variants = fields.List(fields.Nested(StoreVariantSchema))
    images = fields.List(fields.Nested(StoreImageSchema))
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class OptionFilter(fields.Field):
    def _deserialize(self, value, attr, data, **kwargs) -> dict[str, str]:
        options: dict[str, str] = {}
        for part in str(value).split(","):
            name, sep, choice = part.partition(":")
            if not sep or not name.strip() or not choice.strip() or len(part) > 150:
                raise ValidationError("name:value pairs separated by commas, e.g. size:M.")
            options[name.strip()] = choice.strip()
        return options


class StoreProductListQuery(Schema):
    q = Text(max_length=200, metadata={"description": "Words in the name, description, SKUs "
                                       'or options (web-search syntax: "a phrase", OR, -word).'})
    # A query string carries text: the strict JSON Id would refuse every value.
    category_id = fields.Integer(validate=validate.Range(min=1, max=MAX_ID))
    min_price = fields.Integer(validate=validate.Range(min=0, max=MAX_ID), metadata=PRICE)
    max_price = fields.Integer(validate=validate.Range(min=0, max=MAX_ID), metadata=PRICE)
    in_stock = fields.Boolean(metadata={"description": "Only products with an available "
                                                       "variant."})
    options = OptionFilter(metadata={"type": "string", "description": "Variant option values, "
                                     "e.g. size:M,colour:Red (one variant has them all)."})
    active = fields.Boolean(metadata={"description": "true: shown in the shop; false: hidden; "
                                                     "not given: all."})
    sort = fields.String(validate=validate.OneOf(SORTS), metadata={
        "description": "newest (default), price_asc, price_desc, name, relevance (with q: the "
                       "default)."})
    limit = fields.Integer(load_default=25, validate=validate.Range(min=1, max=100))
    cursor = Text(max_length=1200, metadata={"description": "`next` of the previous page."})


StoreProductPageSchema = page_of(StoreProductSchema)


def _editor_required() -> None:
    if g.membership.role.rank < Role.MANAGER.rank:
        raise ApiError(403, "Changing the catalog needs the manager role or higher.")


def _find(product_id: int, *, for_update: bool = False):
    product = catalog.get_product(product_id, for_update=for_update)
    if product is None:
        raise ApiError(404, "No such product.")
    return product


def _service_data(body: dict[str, Any]) -> dict[str, Any]:
    data = dict(body)
    if "active" in data:
        data["is_active"] = data.pop("active")
    return data


@bp.get("/store/products")
@token_required
@operation("List products", tag="store", query=StoreProductListQuery,
           response=StoreProductPageSchema,
           description="Newest first unless `sort` says otherwise; hidden products too unless "
                       "`active` is given. Pass `next` back as `cursor` for the next page.")
def store_products_list(query: dict):
    listing = Listing(q=query.get("q", ""), category_id=query.get("category_id"),
                      min_price=query.get("min_price"), max_price=query.get("max_price"),
                      in_stock=query.get("in_stock", False), options=query.get("options", {}),
                      sort=query.get("sort", ""), cursor=query.get("cursor"),
                      limit=query["limit"], active=query.get("active"))
    if listing.cursor and decode_cursor(listing.cursor, listing.effective_sort) is None:
        raise ApiError(422, "Some fields are invalid.",
                       {"cursor": "Not a cursor from a previous page of this sort order."})
    page = list_products(g.org.id, listing)
    return {"data": serialize_products(page.products), "next": page.next_cursor}


@bp.post("/store/products")
@token_required
@operation("Create a product", tag="store", body=StoreProductCreateSchema,
           response=StoreProductSchema, status=201, errors=(403, 409),
           description="With its variants (each with its own SKU, options, price override and "
                       "units in stock); without `variants` one standard variant is made. "
                       "Needs a manager's token. A SKU another product has is a 409.")
def store_products_create(body: dict):
    _editor_required()
    product = catalog.create_product(g.membership.user_id, _service_data(body))
    location = url_for("api.store_products_detail", product_id=product.id)
    return serialize_products([product])[0], {"Location": location}


@bp.get("/store/products/<id:product_id>")
@token_required
@operation("Get a product", tag="store", response=StoreProductSchema)
def store_products_detail(product_id: int):
    return serialize_products([_find(product_id)])[0]


@bp.patch("/store/products/<id:product_id>")
@token_required
@operation("Change a product", tag="store", body=StoreProductWriteSchema,
           response=StoreProductSchema, errors=(403, 409),
           description="Only the fields given change. `variants` entries with an `id` change "
                       "that variant (`stock` sets the units on hand), entries without one are "
                       "added; variants not named stay as they are. Needs a manager's token.")
def store_products_update(product_id: int, body: dict):
    _editor_required()
    product = _find(product_id, for_update=True)
    catalog.update_product(g.membership.user_id, product, _service_data(body))
    return serialize_products([product])[0]

"""Forms of the desk's store pages. They read what staff type (prices in major units, options
as "size=M, colour=Red") into the shape storefront.catalog takes; the catalog judges it.
`place_errors` puts the catalog's field errors next to the inputs that caused them."""

from __future__ import annotations

import re
from typing import Any

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (
    BooleanField,
    Field,
    FieldList,
    Form,
    FormField,
    IntegerField,
    RadioField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import InputRequired, NumberRange, Optional, ValidationError

from storefront.models import Category, Product, Variant
from storefront.money import parse_money, to_major
from storefront.personalization import MAX_FIELDS, TYPES

EXTRA_PERSONALIZATION_ROWS = 2


class MoneyField(StringField):
    """A price typed in major units ("12.50"); `.minor` holds it in minor units once valid."""

    def __init__(self, label: str, *, currency: str = "EUR", required: bool = True, **kwargs):
        super().__init__(label, **kwargs)
        self.currency, self.required, self.minor = currency, required, None

    def pre_validate(self, form) -> None:
        text = (self.data or "").strip()
        self.minor = None
        if not text:
            if self.required:
                raise ValidationError("Enter a price, e.g. 12.50.")
            return
        try:
            self.minor = parse_money(text, self.currency)
        except ValueError as error:
            raise ValidationError(str(error)) from None


def parse_options(text: str) -> dict[str, str]:
    """ "size=M, colour=Red" (or one per line, or "size: M") as {"size": "M", ...}. Raises
    ValueError naming the part it cannot read."""
    options: dict[str, str] = {}
    for part in re.split(r"[,\n;]", text or ""):
        if not part.strip():
            continue
        name, sep, value = part.partition("=")
        if not sep:
            name, sep, value = part.partition(":")
        if not sep or not name.strip() or not value.strip():
            raise ValueError("Write each option as name=value, e.g. size=M "
                             f"(not “{part.strip()[:40]}”).")
        options[name.strip()] = value.strip()
    return options


def format_options(options: dict[str, str]) -> str:
    return ", ".join(f"{name}={value}" for name, value in (options or {}).items())


class PersonalizationRow(Form):
    key = StringField("Key")
    label = StringField("Label")
    type = SelectField("Type", choices=[SelectChoice(t, t.capitalize()) for t in TYPES],
                       default="text", validate_choice=False)
    required = BooleanField("Required")
    max_length = IntegerField("Max. characters", [Optional()])
    choices = StringField("Choices", description="Separated by commas.")

    def is_blank(self) -> bool:
        return not (self.key.data or "").strip() and not (self.label.data or "").strip()

    def definition(self) -> dict[str, Any]:
        kind = self.type.data
        entry: dict[str, Any] = {"key": (self.key.data or "").strip(), "label": self.label.data,
                                 "type": kind, "required": bool(self.required.data)}
        if kind == "text":
            entry["max_length"] = self.max_length.data if self.max_length.data is not None \
                else 100
        if kind == "choice":
            entry["choices"] = [c.strip() for c in (self.choices.data or "").split(",")
                                if c.strip()]
        return entry


class ProductForm(FlaskForm):
    name = StringField("Name")
    slug = StringField("Address in the shop", description="Lower-case words and hyphens; "
                       "made from the name when left empty.")
    description = TextAreaField("Description")
    price = MoneyField("Price")
    category_id = SelectField("Category", validate_choice=False)
    tax_inclusive = BooleanField("Price includes tax", default=True)
    is_active = BooleanField("Shown in the shop", default=True)
    # A new product starts with one variant; more can be added on its page.
    sku = StringField("SKU", description="Made from the address when left empty.")
    stock = IntegerField("Units in stock", [Optional(), NumberRange(0, None, "0 or more.")],
                         default=0)
    personalization = FieldList(FormField(PersonalizationRow), max_entries=MAX_FIELDS
                                + EXTRA_PERSONALIZATION_ROWS)

    def setup(self, categories: list[Category], currency: str) -> ProductForm:
        self.category_id.choices = [SelectChoice("", "No category"),
                                    *(SelectChoice(str(c.id), c.name) for c in categories)]
        self.price.currency = currency
        while len(self.personalization) < min(
                len([r for r in self.personalization if not r.form.is_blank()])
                + EXTRA_PERSONALIZATION_ROWS, MAX_FIELDS):
            self.personalization.append_entry()
        return self

    def rows(self) -> list[tuple[int, PersonalizationRow]]:
        """(form row index, row) of the rows filled in: blank rows are ignored."""
        return [(index, entry.form) for index, entry in enumerate(self.personalization)
                if not entry.form.is_blank()]

    def service_data(self, *, new: bool) -> dict[str, Any]:
        data: dict[str, Any] = {
            "name": self.name.data, "description": self.description.data or "",
            "price": self.price.minor, "tax_inclusive": bool(self.tax_inclusive.data),
            "is_active": bool(self.is_active.data),
            "category_id": int(self.category_id.data) if (self.category_id.data or "")
            .isdigit() else None,
            "personalization": [row.definition() for _, row in self.rows()],
        }
        if (self.slug.data or "").strip():
            data["slug"] = self.slug.data.strip()
        if new and (self.sku.data or "").strip():
            data["variants"] = [{"sku": self.sku.data, "options": {},
                                 "stock": self.stock.data or 0}]
        return data

    def place_errors(self, fields: dict[str, str]) -> list[str]:
        """Show the catalog's field errors on the inputs; the messages that fit none."""
        rows = [index for index, _ in self.rows()]
        unplaced = []
        for name, message in fields.items():
            target: Field | None = None
            parts = name.split(".")
            if parts[0] == "personalization" and len(parts) >= 2 and parts[1].isdigit() \
                    and int(parts[1]) < len(rows):
                row = self.personalization[rows[int(parts[1])]].form
                target = getattr(row, parts[2], None) if len(parts) > 2 else row.key
            elif parts[0] == "variants":
                target = self.stock if name.endswith(".stock") else self.sku
            else:
                target = getattr(self, parts[0], None)
            if isinstance(target, Field):
                target.errors = [*target.errors, message]
            else:
                unplaced.append(message)
        return unplaced


def product_form_data(product: Product) -> dict[str, Any]:
    return {"name": product.name, "slug": product.slug, "description": product.description,
            "category_id": str(product.category_id or ""),
            "tax_inclusive": product.tax_inclusive, "is_active": product.is_active,
            "personalization": [
                {**field, "choices": ", ".join(field.get("choices", []))}
                for field in product.personalization or []]}


class VariantForm(FlaskForm):
    sku = StringField("SKU")
    options = StringField("Options", description="name=value pairs separated by commas, e.g. "
                                                 "size=M, colour=Red. Empty for a product "
                                                 "without options.")
    price = MoneyField("Price", required=False, description="Empty: the product's price.")
    weight_grams = IntegerField("Weight (grams)", [Optional(), NumberRange(0, None, "0 or more.")])
    is_active = BooleanField("On sale", default=True)
    stock = IntegerField("Units in stock", [Optional(), NumberRange(0, None, "0 or more.")],
                         default=0)

    def setup(self, currency: str) -> VariantForm:
        self.price.currency = currency
        return self

    def validate_options(self, field) -> None:
        try:
            parse_options(field.data)
        except ValueError as error:
            raise ValidationError(str(error)) from None

    def service_data(self, *, new: bool) -> dict[str, Any]:
        data: dict[str, Any] = {"sku": self.sku.data, "options": parse_options(self.options.data),
                                "price": self.price.minor, "weight_grams": self.weight_grams.data,
                                "active": bool(self.is_active.data)}
        if new:
            data["stock"] = self.stock.data or 0
        return data


def variant_form_data(variant: Variant, currency: str) -> dict[str, Any]:
    return {"sku": variant.sku, "options": format_options(variant.options),
            "price": "" if variant.price is None else to_major(variant.price, currency),
            "weight_grams": variant.weight_grams, "is_active": variant.is_active}


class StockForm(FlaskForm):
    variant_id = SelectField("Variant", validate_choice=False)
    action = RadioField("What happened", default="receipt", choices=[
        SelectChoice("receipt", "Received units (add)"),
        SelectChoice("adjustment", "Correction (+ or −)"),
        SelectChoice("count", "Counted: this many on hand")])
    quantity = IntegerField("Units", [InputRequired("Enter a whole number of units.")])
    note = StringField("Note")

    def setup(self, variants: list[Variant]) -> StockForm:
        self.variant_id.choices = [SelectChoice(str(v.id), v.sku) for v in variants]
        return self


class ImageForm(FlaskForm):
    image = FileField("Picture")
    alt = StringField("Description for screen readers")


class AltForm(FlaskForm):
    alt = StringField("Description for screen readers")


class CsvImportForm(FlaskForm):
    file = FileField("CSV file")


class CategoryForm(FlaskForm):
    name = StringField("Name")
    slug = StringField("Address", description="Made from the name when left empty.")
    position = IntegerField("Position", [Optional()], default=0)

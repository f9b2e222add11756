"""The catalog as CSV: one row per variant, the product's columns repeated on each of its rows.

Columns: product_slug, product_name, description, category, price, tax_inclusive,
product_active, sku, variant_price, weight_grams, stock, variant_active and one
`option:<name>` column per option (option:size, option:colour). Prices are in major units
(12.50), like the desk's forms. The export opens in a spreadsheet without running anything (a
cell that would start a formula gets a leading '), and imports again as it is.

The import is all or nothing: every row is checked first and the errors come back by line;
only a file without errors is written, in one savepoint, through the catalog services (so the
same rules hold as in the desk and the API). A product is found by its slug (else made from
the name), a variant by its SKU; a column left out of the file leaves that value unchanged,
an empty `stock` cell leaves the stock unchanged, a number sets the units on hand.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from helpdesk.core.exceptions import ServiceError
from helpdesk.extensions import db
from storefront import catalog
from storefront import catalog_checks as checks
from storefront.models import Product, StockLevel, StockMovement, Variant
from storefront.money import parse_money, to_major

PRODUCT_COLUMNS = ["product_slug", "product_name", "description", "category", "price",
                   "tax_inclusive", "product_active"]
VARIANT_COLUMNS = ["sku", "variant_price", "weight_grams", "stock", "variant_active"]
COLUMNS = PRODUCT_COLUMNS + VARIANT_COLUMNS
REQUIRED = ("product_name", "sku")
OPTION = "option:"
MAX_BYTES = 5 * 1024 * 1024
MAX_ROWS = 10_000
MAX_ERRORS = 200
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
YES = {"yes", "true", "1", "y"}
NO = {"no", "false", "0", "n"}


class ImportRefused(ServiceError):
    """The file was not imported; `errors` are (line, message) pairs (line 0: the file)."""

    status = 422

    def __init__(self, errors: list[tuple[int, str]]):
        super().__init__(f"Nothing was imported: {len(errors)} problem"
                         f"{'s' if len(errors) != 1 else ''} in the file.")
        self.errors = errors[:MAX_ERRORS]


@dataclass
class ImportResult:
    products_created: int = 0
    products_updated: int = 0
    variants: int = 0
    categories_created: int = 0

    def summary(self) -> str:
        return (f"Imported {self.variants} variant{'s' if self.variants != 1 else ''}: "
                f"{self.products_created} new product{'s' if self.products_created != 1 else ''}"
                f", {self.products_updated} updated"
                + (f", {self.categories_created} new categor"
                   f"{'ies' if self.categories_created != 1 else 'y'}"
                   if self.categories_created else "") + ".")


# Export ----------------------------------------------------------------------------------------

def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text


def export_csv(currency: str) -> str:
    """Every product of the org (hidden ones too), one row per variant; prices in
    `currency`'s major units."""
    products = list(db.session.scalars(select(Product).order_by(Product.id)))
    variants = catalog.variants_of(p.id for p in products)
    levels = catalog.stock_levels(v.id for v in variants)
    categories = {c.id: c.name for c in catalog.categories()}
    option_names = sorted({name for v in variants for name in v.options or {}})
    by_product: dict[int, list[Variant]] = {}
    for variant in variants:
        by_product.setdefault(variant.product_id, []).append(variant)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS + [f"{OPTION}{name}" for name in option_names])
    for product in products:
        for variant in by_product.get(product.id, []):
            level = levels.get(variant.id)
            writer.writerow([_cell(v) for v in [
                product.slug, product.name, product.description,
                categories.get(product.category_id, ""), to_major(product.price, currency),
                "yes" if product.tax_inclusive else "no",
                "yes" if product.is_active else "no", variant.sku,
                "" if variant.price is None else to_major(variant.price, currency),
                "" if variant.weight_grams is None else variant.weight_grams,
                level.on_hand if level else 0, "yes" if variant.is_active else "no",
                *((variant.options or {}).get(name, "") for name in option_names)]])
    return out.getvalue()


# Import ----------------------------------------------------------------------------------------

@dataclass
class _Group:
    """The rows of one product."""

    key: str
    lines: list[int] = field(default_factory=list)
    product: dict[str, Any] = field(default_factory=dict)
    variants: list[dict[str, Any]] = field(default_factory=list)
    category: str | None = None


def read_upload(stream: BinaryIO | None) -> bytes:
    """The uploaded file's bytes. Raises ImportRefused when there is none or it is too big."""
    raw = stream.read(MAX_BYTES + 1) if stream is not None else b""
    if not raw:
        raise ImportRefused([(0, "Choose a CSV file to import.")])
    if len(raw) > MAX_BYTES:
        raise ImportRefused([(0, f"The file is larger than {MAX_BYTES // (1024 * 1024)} MB: "
                                 "split it into several files.")])
    return raw


def _read_rows(raw: bytes) -> list[tuple[int, list[str]]]:
    """The records with the line each starts on (a quoted cell may span lines)."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw[:error.start].count(b"\n") + 1
        raise ImportRefused([(line, "The file is not UTF-8 text: save it as “CSV UTF-8”.")]) \
            from None
    if "\x00" in text:
        raise ImportRefused([(0, "This is not a CSV file (it holds binary data).")])
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    rows = []
    try:
        for row in reader:
            rows.append((reader.line_num - sum(cell.count("\n") for cell in row), row))
            if len(rows) > MAX_ROWS + 1:
                raise ImportRefused([(0, f"At most {MAX_ROWS} rows per file: split it.")])
    except csv.Error as error:
        raise ImportRefused([(reader.line_num, f"The CSV cannot be read here: {error}.")]) \
            from None
    return rows


def _uncell(text: str) -> str:
    text = text.strip()
    return text[1:] if text.startswith("'") and text[1:].startswith(FORMULA_STARTS) else text


def _flag(value: str, line: int, column: str, errors: list) -> bool | None:
    lowered = value.lower()
    if lowered in YES:
        return True
    if lowered in NO:
        return False
    errors.append((line, f"{column}: write yes or no (not “{value[:20]}”)."))
    return None


def _header(first: list[str]) -> tuple[dict[str, int], dict[str, int]]:
    if not any(cell.strip() for cell in first):
        raise ImportRefused([(1, "The first line must name the columns, e.g. "
                                 "product_name,price,sku,stock.")])
    header = [cell.strip().lower() for cell in first]
    errors = []
    unknown = [c for c in header if c and c not in COLUMNS and not (
        c.startswith(OPTION) and len(c) > len(OPTION))]
    if unknown:
        errors.append((1, f"Unknown column{'s' if len(unknown) > 1 else ''}: "
                          f"{', '.join(unknown[:10])}. Known: {', '.join(COLUMNS)}, "
                          "option:<name>."))
    doubled = sorted({c for c in header if c and header.count(c) > 1})
    if doubled:
        errors.append((1, f"Column{'s' if len(doubled) > 1 else ''} given twice: "
                          f"{', '.join(doubled)}."))
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        errors.append((1, f"Missing column{'s' if len(missing) > 1 else ''}: "
                          f"{', '.join(missing)}."))
    if errors:
        raise ImportRefused(errors)
    columns = {c: i for i, c in enumerate(header) if c in COLUMNS}
    options = {c[len(OPTION):].strip(): i for i, c in enumerate(header) if c.startswith(OPTION)}
    return columns, options


def _parse(rows: list[tuple[int, list[str]]],
           currency: str) -> tuple[list[_Group], list]:
    first = rows[0][1] if rows else []
    columns, options = _header(first)
    errors: list[tuple[int, str]] = []
    groups: dict[str, _Group] = {}
    seen_skus: dict[str, int] = {}
    for line, row in rows[1:]:
        if not any(cell.strip() for cell in row):
            continue
        if len(row) > len(first):
            errors.append((line, f"{len(row)} cells but {len(first)} columns: check the "
                                 "quotes and commas."))
            continue
        cells = {name: _uncell(row[i]) if i < len(row) else "" for name, i in columns.items()}
        problems = checks.Problems()
        name = checks.clean_text(problems, "product_name", cells.get("product_name"),
                                  required=True, label="product_name")
        key = cells.get("product_slug") or (checks.slugify(name) if name else "")
        product: dict[str, Any] = {"name": name}
        if cells.get("product_slug"):
            product["slug"] = cells["product_slug"]
        for column, target in (("description", "description"),):
            if column in cells:
                product[target] = checks.clean_text(problems, column, cells[column],
                                                     max_length=checks.MAX_DESCRIPTION)
        if "price" in cells:
            if cells["price"]:
                try:
                    product["price"] = parse_money(cells["price"], currency)
                except ValueError as error:
                    problems.add("price", str(error))
            else:
                problems.add("price", "Give the product's price, e.g. 12.50.")
        for column, target in (("tax_inclusive", "tax_inclusive"),
                               ("product_active", "is_active")):
            if cells.get(column):
                product[target] = _flag(cells[column], line, column, errors)
        variant = _parse_variant(cells, row, options, problems, currency, line, errors)
        for column, message in problems.fields.items():
            errors.append((line, f"{column}: {message}"))
        sku = variant.get("sku")
        if sku and not checks.SKU.fullmatch(sku):
            errors.append((line, "sku: Letters, digits and . _ / - (no spaces), at most 64."))
        elif sku in seen_skus:
            errors.append((line, f"sku: {sku} is already on line {seen_skus[sku]}."))
        elif sku:
            seen_skus[sku] = line
        if not key:
            continue
        group = groups.setdefault(key, _Group(key=key, product=product,
                                              category=cells.get("category") or None))
        if group.lines and (product != group.product or (cells.get("category") or None)
                            != group.category):
            errors.append((line, f"The product columns differ from line {group.lines[0]} of "
                                 "the same product: repeat them as they are."))
        group.lines.append(line)
        group.variants.append(variant)
    if len(rows) < 2 and not errors:
        errors.append((0, "The file has no rows below the column names."))
    errors += _skus_of_other_products(groups.values())
    return list(groups.values()), errors


def _skus_of_other_products(groups) -> list[tuple[int, str]]:
    """A SKU that another product of the org has (found by slug, the variant by SKU)."""
    wanted = {v["sku"]: (group, line) for group in groups
              for v, line in zip(group.variants, group.lines, strict=True) if v.get("sku")}
    if not wanted:
        return []
    owners = db.session.execute(select(Variant.sku, Product.slug).join(
        Product, (Product.org_id == Variant.org_id) & (Product.id == Variant.product_id))
        .where(Variant.sku.in_(list(wanted)))).all()
    return [(wanted[sku][1], f"sku: {sku} belongs to the product {slug}: give that "
                             "product_slug to change it.")
            for sku, slug in owners if wanted[sku][0].key != slug]


def _parse_variant(cells: dict, row: list[str], options: dict[str, int], problems,
                   currency: str, line: int, errors: list) -> dict[str, Any]:
    variant: dict[str, Any] = {"sku": checks.clean_text(problems, "sku", cells.get("sku"),
                                                         required=True, max_length=64,
                                                         label="sku")}
    if "variant_price" in cells:
        variant["price"] = None
        if cells["variant_price"]:
            try:
                variant["price"] = parse_money(cells["variant_price"], currency)
            except ValueError as error:
                problems.add("variant_price", str(error))
    for column in ("weight_grams", "stock"):
        if cells.get(column):
            value = cells[column]
            if not value.isdigit() or len(value) > 12:
                problems.add(column, "A whole number, 0 or more.")
            else:
                variant[column] = int(value)
        elif column == "weight_grams" and column in cells:
            variant[column] = None
    if cells.get("variant_active"):
        variant["active"] = _flag(cells["variant_active"], line, "variant_active", errors)
    if options:
        variant["options"] = {name: _uncell(row[i]) for name, i in options.items()
                              if i < len(row) and _uncell(row[i])}
        checks.clean_options(problems, "options", variant["options"])
    return variant


@dataclass
class CheckedFile:
    """A file whose every row passed the checks that need no writing."""

    groups: list[_Group]
    rows: int


def check_csv(raw: bytes, currency: str) -> CheckedFile:
    """Every row checked (columns, values, duplicates, SKUs of other products). Raises
    ImportRefused with every problem by line."""
    rows = _read_rows(raw)
    groups, errors = _parse(rows, currency)
    if errors:
        raise ImportRefused(sorted(errors))
    return CheckedFile(groups=groups, rows=sum(len(group.lines) for group in groups))


def import_csv(actor_id: int | None, raw: bytes, currency: str) -> ImportResult:
    """Check the whole file, then write it through the catalog services in one savepoint.
    Raises ImportRefused with every problem by line when anything is wrong (what only the
    services find too); then nothing is written."""
    return write_checked(actor_id, check_csv(raw, currency))


def write_checked(actor_id: int | None, checked: CheckedFile) -> ImportResult:
    """Write a checked file (see import_csv)."""
    result = ImportResult()
    errors: list[tuple[int, str]] = []
    savepoint = db.session.begin_nested()
    try:
        categories = {c.name.lower(): c.id for c in catalog.categories()}
        for group in checked.groups:
            _apply(actor_id, group, categories, result, errors)
            _forget_written()
    except IntegrityError:
        errors.append((0, "A change made at the same moment conflicts with the file: "
                          "import it again."))
    if errors:
        savepoint.rollback()
        raise ImportRefused(sorted(errors))
    savepoint.commit()
    return result


def _forget_written() -> None:
    """Let go of the rows written for a product (they are flushed): the session stays small,
    so a 10,000-row file costs no more per row than a short one."""
    db.session.flush()
    for obj in list(db.session.identity_map.values()):
        if isinstance(obj, Product | Variant | StockLevel | StockMovement):
            db.session.expunge(obj)


def _apply(actor_id, group: _Group, categories: dict, result: ImportResult, errors) -> None:
    data = dict(group.product)
    if group.category is not None:
        category_id = categories.get(group.category.lower())
        if category_id is None:
            try:
                category_id = catalog.save_category(None, name=group.category).id
            except ServiceError as error:
                errors.append((group.lines[0], f"category: {error.message}"))
                return
            categories[group.category.lower()] = category_id
            result.categories_created += 1
        data["category_id"] = category_id
    product = catalog.get_product_by_slug(group.key)
    existing = {v.sku: v for v in catalog.variants_of(product.id)} if product else {}
    entries = [{**v, "id": existing[v["sku"]].id} if v["sku"] in existing else v
               for v in group.variants]
    try:
        if product is None:
            if "price" not in data:
                errors.append((group.lines[0], "price: Give the product's price, e.g. 12.50."))
                return
            data.setdefault("slug", group.key)
            catalog.create_product(actor_id, {**data, "variants": entries})
            result.products_created += 1
        else:
            data.pop("slug", None)
            catalog.update_product(actor_id, product, {**data, "variants": entries})
            result.products_updated += 1
        result.variants += len(entries)
    except ServiceError as error:
        for name, message in (error.fields or {"": error.message}).items():
            parts = name.split(".")
            line = group.lines[int(parts[1])] if (
                parts[0] == "variants" and len(parts) > 1 and parts[1].isdigit()
                and int(parts[1]) < len(group.lines)) else group.lines[0]
            column = parts[-1] if name else ""
            errors.append((line, f"{column}: {message}" if column else message))

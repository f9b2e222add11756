"""The desk's store pages (/<org>/desk/store/...): products with their variants, pictures and
stock, categories, and the CSV import and export. Agents read; managers and up change."""

from __future__ import annotations

from collections.abc import Callable

from flask import (
    Response,
    abort,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)

from helpdesk.core.auth import current_membership, staff_required
from helpdesk.core.exceptions import ServiceError
from helpdesk.core.forms import form_status
from helpdesk.core.views import get_or_404, run_and_flash
from helpdesk.core.web import org_blueprint
from helpdesk.orgs.forms import EmptyForm
from helpdesk.orgs.models import Role
from storefront import catalog, catalog_csv, catalog_jobs, product_images, stock
from storefront.catalog_checks import options_label
from storefront.catalog_listing import SORT_LABELS, Listing, cards, list_products
from storefront.models import Category, MovementKind, Product, ProductImage, Variant
from storefront.money import org_currency, to_major
from storefront.staff_forms import (
    AltForm,
    CategoryForm,
    CsvImportForm,
    ImageForm,
    ProductForm,
    StockForm,
    VariantForm,
    product_form_data,
    variant_form_data,
)

bp = org_blueprint("store_admin", __name__, "desk")
manager_required = staff_required(Role.MANAGER)


def _can_edit() -> bool:
    membership = current_membership()
    return membership is not None and membership.role.rank >= Role.MANAGER.rank


@bp.context_processor
def _store_layout() -> dict:
    return {"can_edit_store": _can_edit}


def _product(product_id: int) -> Product:
    return get_or_404(Product, product_id)


def _variant_of(product: Product, variant_id: int) -> Variant:
    variant = get_or_404(Variant, variant_id)
    if variant.product_id != product.id:
        abort(404)
    return variant


def _image_of(product: Product, image_id: int) -> ProductImage:
    image = get_or_404(ProductImage, image_id)
    if image.product_id != product.id:
        abort(404)
    return image


def _save(form, save: Callable[[], object], place: Callable[[dict], list[str]], success: str,
          then: Callable[[object], str], template: str, **context):
    """A valid submission is saved and redirects; a refused one comes back (422) with the
    errors next to their fields and everything as it was typed."""
    if form.validate_on_submit():
        try:
            saved = save()
        except ServiceError as error:
            unplaced = place(error.fields)
            if unplaced or not error.fields:
                flash(" ".join(unplaced) or error.message, "error")
            status = error.status
        else:
            flash(success, "success")
            return redirect(then(saved), 303)
    else:
        status = form_status(form)
    return render_template(template, form=form, **context), status


def _place_on(form) -> Callable[[dict], list[str]]:
    def place(fields: dict[str, str]) -> list[str]:
        unplaced = []
        for name, message in fields.items():
            field = getattr(form, name.rsplit(".", 1)[-1], None)
            if field is not None and hasattr(field, "errors"):
                field.errors = [*field.errors, message]
            else:
                unplaced.append(message)
        return unplaced

    return place


# Products --------------------------------------------------------------------------------------

@bp.get("/store/products")
@staff_required()
def products():
    shown = request.args.get("shown", "")
    listing = Listing(q=(request.args.get("q") or "")[:200], sort=request.args.get("sort", ""),
                      cursor=request.args.get("cursor"), limit=50,
                      active={"yes": True, "no": False}.get(shown))
    page = list_products(g.org.id, listing)
    query = {k: v for k, v in request.args.items() if k != "cursor" and v}
    return render_template(
        "storefront/staff/products.html", cards=cards(page.products), page=page,
        query=listing.q, shown=shown, sort=listing.effective_sort, sort_labels=SORT_LABELS,
        link=lambda cursor: url_for("store_admin.products", **query, cursor=cursor))


@bp.route("/store/products/new", methods=["GET", "POST"])
@manager_required
def new_product():
    form = ProductForm().setup(catalog.categories(), org_currency(g.org))
    return _save(
        form, lambda: catalog.create_product(g.membership.user_id, form.service_data(new=True),
                                             standard_stock=form.stock.data or 0),
        form.place_errors, "Product created.",
        lambda product: url_for("store_admin.product", product_id=product.id),
        "storefront/staff/product_form.html", product=None)


@bp.route("/store/products/<id:product_id>", methods=["GET", "POST"])
@staff_required()
def product(product_id: int):
    product = _product(product_id)
    if request.method == "POST" and not _can_edit():
        abort(403, description="Changing the catalog needs the manager role or higher.")
    currency = org_currency(g.org)
    form = ProductForm(data=None if request.method == "POST" else {
        **product_form_data(product), "price": to_major(product.price, currency)})
    form.setup(catalog.categories(), currency)
    variants = catalog.variants_of(product.id)
    levels = catalog.stock_levels(v.id for v in variants)
    return _save(
        form, lambda: catalog.update_product(g.membership.user_id, product,
                                             form.service_data(new=False)),
        form.place_errors, "Product saved.",
        lambda saved: url_for("store_admin.product", product_id=saved.id),
        "storefront/staff/product_form.html", product=product, variants=variants,
        levels=levels, images=product_images.images_of(product.id),
        movements=stock.movements([v.id for v in variants], limit=20),
        skus={v.id: v.sku for v in variants}, stock_form=StockForm(prefix="stock").setup(variants),
        image_form=ImageForm(prefix="image"), button_form=EmptyForm(),
        price_of=catalog.price_of, labels=options_label)


@bp.route("/store/products/<id:product_id>/variants/new", methods=["GET", "POST"])
@manager_required
def new_variant(product_id: int):
    product = _product(product_id)
    form = VariantForm().setup(org_currency(g.org))
    return _save(
        form, lambda: catalog.save_variant(g.membership.user_id, product, None,
                                           form.service_data(new=True)),
        _place_on(form), "Variant added.",
        lambda _: url_for("store_admin.product", product_id=product.id),
        "storefront/staff/variant_form.html", product=product, variant=None)


@bp.route("/store/products/<id:product_id>/variants/<id:variant_id>", methods=["GET", "POST"])
@manager_required
def variant(product_id: int, variant_id: int):
    product = _product(product_id)
    variant = _variant_of(product, variant_id)
    currency = org_currency(g.org)
    form = VariantForm(data=None if request.method == "POST" else variant_form_data(
        variant, currency)).setup(currency)
    return _save(
        form, lambda: catalog.save_variant(g.membership.user_id, product, variant,
                                           form.service_data(new=False)),
        _place_on(form), f"Variant {variant.sku} saved.",
        lambda _: url_for("store_admin.product", product_id=product.id),
        "storefront/staff/variant_form.html", product=product, variant=variant)


@bp.post("/store/products/<id:product_id>/stock")
@manager_required
def product_stock(product_id: int):
    product = _product(product_id)
    form = StockForm(prefix="stock")
    variant_id = form.variant_id.data or ""
    variant = _variant_of(product, int(variant_id)) if variant_id.isdigit() \
        and len(variant_id) < 19 else None
    if variant is None or not form.validate_on_submit():
        flash("Choose a variant and enter a whole number of units.", "error")
    elif form.action.data == "count":
        run_and_flash(lambda: stock.set_stock(g.membership.user_id, variant, form.quantity.data,
                                              form.note.data),
                      f"Stock of {variant.sku} counted.")
    elif form.action.data == "receipt" and form.quantity.data < 1:
        flash("Received units must be 1 or more (use a correction to remove units).", "error")
    else:
        kind = MovementKind(form.action.data)
        run_and_flash(lambda: stock.adjust_stock(g.membership.user_id, variant,
                                                 form.quantity.data, kind, form.note.data),
                      f"Stock of {variant.sku} updated.")
    return redirect(url_for("store_admin.product", product_id=product.id) + "#stock", 303)


# Pictures --------------------------------------------------------------------------------------

@bp.post("/store/products/<id:product_id>/images")
@manager_required
def add_image(product_id: int):
    product = _product(product_id)
    form = ImageForm(prefix="image")
    if form.validate_on_submit():
        upload = form.image.data
        run_and_flash(lambda: product_images.add_image(
            product, getattr(upload, "filename", "") or "", getattr(upload, "stream", None),
            form.alt.data), "Picture added.")
    return redirect(url_for("store_admin.product", product_id=product.id) + "#images", 303)


@bp.post("/store/products/<id:product_id>/images/<id:image_id>")
@manager_required
def image_alt(product_id: int, image_id: int):
    image = _image_of(_product(product_id), image_id)
    form = AltForm()
    if form.validate_on_submit():
        run_and_flash(lambda: product_images.update_image(image, alt=form.alt.data),
                      "Description saved.")
    return redirect(url_for("store_admin.product", product_id=product_id) + "#images", 303)


@bp.post("/store/products/<id:product_id>/images/<id:image_id>/<any(first, delete):action>")
@manager_required
def image_action(product_id: int, image_id: int, action: str):
    image = _image_of(_product(product_id), image_id)
    if EmptyForm().validate_on_submit():
        if action == "first":
            run_and_flash(lambda: product_images.make_first(image), "Picture shown first.")
        else:
            run_and_flash(lambda: product_images.delete_image(image), "Picture deleted.")
    return redirect(url_for("store_admin.product", product_id=product_id) + "#images", 303)


# CSV -------------------------------------------------------------------------------------------

@bp.get("/store/products/export.csv")
@staff_required()
def export_csv():
    body = catalog_csv.export_csv(org_currency(g.org))
    return Response(body, mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="{g.org.slug}-products.csv"',
        "Cache-Control": "private, no-store"})


@bp.route("/store/products/import", methods=["GET", "POST"])
@manager_required
def import_csv():
    form = CsvImportForm()
    errors: list[tuple[int, str]] = []
    status = 200
    if form.validate_on_submit():
        try:
            raw = catalog_csv.read_upload(getattr(form.file.data, "stream", None))
            checked = catalog_csv.check_csv(raw, org_currency(g.org))
            if checked.rows > catalog_jobs.SYNC_ROWS:
                catalog_jobs.import_later(g.org.id, g.membership.user_id, raw)
                flash(f"All {checked.rows} rows are fine: they are being imported now. A "
                      "notification tells you when they are in.", "success")
            else:
                flash(catalog_csv.write_checked(g.membership.user_id, checked).summary(),
                      "success")
        except catalog_csv.ImportRefused as refused:
            errors, status = refused.errors, 422
        else:
            return redirect(url_for("store_admin.products"), 303)
    return render_template("storefront/staff/import.html", form=form, errors=errors,
                           columns=catalog_csv.COLUMNS, sync_rows=catalog_jobs.SYNC_ROWS), status


# Categories ------------------------------------------------------------------------------------

@bp.route("/store/categories", methods=["GET", "POST"])
@staff_required()
def categories():
    form = CategoryForm()
    if request.method == "POST" and not _can_edit():
        abort(403, description="Changing the catalog needs the manager role or higher.")
    context = {"categories": catalog.categories(), "button_form": EmptyForm()}
    return _save(form, lambda: catalog.save_category(None, name=form.name.data,
                                                     slug=form.slug.data or None,
                                                     position=form.position.data or 0),
                 _place_on(form), "Category added.",
                 lambda _: url_for("store_admin.categories"),
                 "storefront/staff/categories.html", **context)


@bp.route("/store/categories/<id:category_id>", methods=["GET", "POST"])
@manager_required
def category(category_id: int):
    found = get_or_404(Category, category_id)
    form = CategoryForm(data=None if request.method == "POST" else {
        "name": found.name, "slug": found.slug, "position": found.position})
    return _save(form, lambda: catalog.save_category(found, name=form.name.data,
                                                     slug=form.slug.data or None,
                                                     position=form.position.data or 0),
                 _place_on(form), "Category saved.",
                 lambda _: url_for("store_admin.categories"),
                 "storefront/staff/category_form.html", category=found)


@bp.post("/store/categories/<id:category_id>/delete")
@manager_required
def delete_category(category_id: int):
    found = get_or_404(Category, category_id)
    if EmptyForm().validate_on_submit():
        run_and_flash(lambda: catalog.delete_category(found),
                      f"Category “{found.name}” deleted; its products keep no category.")
    return redirect(url_for("store_admin.categories"), 303)

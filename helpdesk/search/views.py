"""The desk's search: the header's instant results, the results page, saved views and the search
settings. Views parse the query string, call helpdesk.search.services and render; a search box
never shows an error page (bad filters and stale page links become notes)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from flask import (
    abort,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from werkzeug.routing import BuildError

from helpdesk.core.auth import current_membership, staff_required
from helpdesk.core.exceptions import NotFound, ServiceError
from helpdesk.core.forms import form_status, show_service_error
from helpdesk.orgs.forms import EmptyForm
from helpdesk.orgs.models import Role
from helpdesk.search import bp, params, services
from helpdesk.search.backend import Hit, InvalidCursor
from helpdesk.search.forms import (
    FILTER_LABELS,
    SaveViewForm,
    SearchLanguageForm,
    filters_of,
    search_args,
)
from helpdesk.search.models import SavedView
from helpdesk.search.query import DOC_TYPES
from helpdesk.tickets.models import Priority, Status
from helpdesk.tickets.queries import members
from storefront.money import format_money

PAGE_SIZE = 25  # hits of one type per page
GROUP_SIZE = 10  # hits of each type on the "all" page
TYPE_LABELS = {"all": "All", "tickets": "Tickets", "messages": "Messages",
               "customers": "Customers", "orders": "Orders"}
DOC_TYPE_OF_HIT = {"ticket": "tickets", "message": "messages", "customer": "customers",
                   "order": "orders"}
# The desk's page of one order, used once the store registers it (until then an order hit
# opens its customer's page).
STAFF_ORDER_ENDPOINT = "store_orders.detail"
STALE_PAGE = "That page link no longer fits this search, so here is its first page."


def hit_url(hit: Hit) -> str:
    """Where a hit opens: the ticket (at the message), the customer, or the order."""
    if hit.type == "order" and STAFF_ORDER_ENDPOINT in current_app.view_functions:
        try:
            return url_for(STAFF_ORDER_ENDPOINT, order_id=hit.id)
        except BuildError:
            pass  # another URL shape than expected: the customer's page still works
    if hit.type in ("customer", "order"):
        return url_for("customers.detail", customer_id=hit.customer_id)
    url = url_for("tickets.detail", number=hit.ticket_number)
    return f"{url}#message-{hit.id}" if hit.type == "message" else url


def can_edit(view: SavedView) -> bool:
    return services.may_edit(view, current_user.id, _role())


def _role() -> Role:
    return current_membership().role


def _run(args: dict[str, str]):
    """Search for the arguments: (query, page, the arguments kept, notes for the user)."""
    query, bad = params.lenient_query(args)
    state = {key: value for key, value in args.items() if key not in bad}
    notes = [STALE_PAGE] if "cursor" in bad else []
    notes += [f"The {FILTER_LABELS.get(key, key)} filter was left out: {_message(errors)}"
              for key, errors in bad.items() if key != "cursor"]
    query = replace(query, limit=GROUP_SIZE if query.type == "all" else PAGE_SIZE)
    try:
        page = services.search(g.org, current_user.id, query)
    except InvalidCursor:
        notes.append(STALE_PAGE)
        query = replace(query, cursor=None)
        state.pop("cursor", None)
        page = services.search(g.org, current_user.id, query)
    if query.text:
        state["q"] = query.text  # cleaned and capped: what links carry on
    else:
        state.pop("q", None)
    return query, page, state, notes


def _message(errors) -> str:
    return " ".join(map(str, errors)) if isinstance(errors, list) else str(errors)


def _results_page(args: dict[str, str], *, save_form: SaveViewForm | None = None,
                  status: int = 200):
    query, page, state, notes = _run(args)

    def link(**changes) -> str:
        """This search's URL with `changes` applied (None removes an argument)."""
        merged = {**state, **changes}
        return url_for("search.results", **{k: v for k, v in merged.items() if v})

    groups = _by_type(page.hits).items() if query.type == "all" else None
    filters = filters_of(state)
    return render_template(
        "helpdesk/search/results.html", query=query, page=page, groups=groups, state=state,
        filters=filters, narrowed=any(key not in ("type", "sort") for key in filters),
        notes=notes, link=link, hit_url=hit_url, order_total=order_total, types=TYPE_LABELS,
        save_form=save_form or SaveViewForm(formdata=None, q=query.text),
        can_share=_role().rank >= Role.MANAGER.rank, is_admin=_role().rank >= Role.ADMIN.rank,
        can_edit=can_edit,
        saved_views=services.visible_views(current_user.id),
        active_view=request.args.get("view", type=int), **_filter_choices(),
    ), status


def _by_type(hits: list[Hit]) -> dict[str, list[Hit]]:
    """The hits of each document type, in the order of DOC_TYPES."""
    groups: dict[str, list[Hit]] = {doc_type: [] for doc_type in DOC_TYPES}
    for hit in hits:
        groups[DOC_TYPE_OF_HIT[hit.type]].append(hit)
    return groups


def _filter_choices() -> dict:
    return {"members": members(), "statuses": list(Status), "priorities": list(Priority)}


@bp.get("/search")
@staff_required()
def results():
    return _results_page(search_args(request.args))


results.cleans_query_string = True  # a NUL typed into the box is dropped by search_args


@bp.get("/search/suggest")
@staff_required()
def suggest():
    """Instant results for the header box: up to GROUP_LIMIT hits of each type, as JSON."""
    query, _ = params.lenient_query(search_args(request.args, ("q",)),
                                    limit=services.GROUP_LIMIT)
    page = services.search(g.org, current_user.id, query)
    groups = [{"type": doc_type, "label": TYPE_LABELS[doc_type],
               "hits": [_hit_json(hit) for hit in hits],
               "more_url": url_for("search.results", q=query.text, type=doc_type)
               if doc_type in page.more else None}
              for doc_type, hits in _by_type(page.hits).items()]
    return jsonify(query=query.text, groups=groups, notice=page.notice,
                   all_url=url_for("search.results", q=query.text or None))


suggest.cleans_query_string = True


def _hit_json(hit: Hit) -> dict:
    status = hit.ticket_status or hit.order_status
    return {"type": hit.type, "title": hit.title, "snippet": hit.snippet, "url": hit_url(hit),
            "ticket_number": hit.ticket_number, "order_number": hit.order_number,
            "status": str(status) if status else None, "total": order_total(hit),
            "exact": hit.exact, "created_at": hit.created_at.isoformat()}


def order_total(hit: Hit) -> str | None:
    """An order's total in its currency ("€12.50"); None for other hits."""
    if hit.order_total is None:
        return None
    return format_money(hit.order_total, hit.currency or "EUR")


# Saved views ----------------------------------------------------------------------------------

def _view_or_404(view_id: int) -> SavedView:
    try:
        return services.get_view(view_id, current_user.id)
    except NotFound:
        abort(404)


def _checked_filters(args: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """(the filters that are valid search arguments, messages for the others)."""
    _, bad = params.lenient_query(args)
    filters = {key: value for key, value in filters_of(args).items() if key not in bad}
    return filters, {key: _message(errors) for key, errors in bad.items()}


def _save(form: SaveViewForm, action: Callable[[], SavedView]):
    """Run a saving service: (a redirect to the saved search, or None and the refusal's status)."""
    try:
        view = action()
    except ServiceError as error:
        show_service_error(form, error)
        return None, error.status
    flash(f"Search saved as “{view.name}”.", "success")
    return redirect(url_for("search.open_view", view_id=view.id), 303), 200


@bp.post("/views")
@staff_required()
def create_view():
    form = SaveViewForm()
    args = search_args(request.form)
    if form.validate_on_submit():
        filters, _ = _checked_filters(args)  # the results page only offers valid ones
        done, status = _save(form, lambda: services.create_view(
            current_user.id, _role(), name=form.name.data, query=form.q.data or "",
            filters=filters, shared=form.shared.data))
        if done:
            return done
    else:
        status = form_status(form)
    return _results_page(args, save_form=form, status=status)


@bp.get("/views/<id:view_id>")
@staff_required()
def open_view(view_id: int):
    view = _view_or_404(view_id)
    args = {"q": view.query or None, **filters_of(view.filters), "view": view.id}
    return redirect(url_for("search.results", **args))


@bp.route("/views/<id:view_id>/edit", methods=["GET", "POST"])
@staff_required()
def edit_view(view_id: int):
    view = _view_or_404(view_id)
    if not can_edit(view):
        abort(404)  # a colleague's shared view: usable, not theirs to change
    form = SaveViewForm(data={"name": view.name, "q": view.query, "shared": view.is_shared})
    filters, filter_errors = filters_of(view.filters), {}
    if form.is_submitted():
        filters = search_args(request.form, services.VIEW_FILTERS)
        _, filter_errors = _checked_filters(filters)
    if form.validate_on_submit() and not filter_errors:
        done, status = _save(form, lambda: services.update_view(
            view.id, current_user.id, _role(), name=form.name.data, query=form.q.data or "",
            filters=filters, shared=form.shared.data))
        if done:
            return done
    else:
        status = 422 if filter_errors else form_status(form)
    return render_template(
        "helpdesk/search/view_form.html", view=view, form=form, filters=filters,
        filter_errors=filter_errors, can_share=_role().rank >= Role.MANAGER.rank,
        types=TYPE_LABELS, button_form=EmptyForm(), **_filter_choices()), status


@bp.post("/views/<id:view_id>/delete")
@staff_required()
def delete_view(view_id: int):
    view = _view_or_404(view_id)
    if not EmptyForm().validate_on_submit():
        abort(400, description="The form expired. Reload the page and try again.")
    name = view.name
    try:
        services.delete_view(view.id, current_user.id, _role())
    except NotFound:
        abort(404)
    flash(f"View “{name}” deleted.", "success")
    return redirect(url_for("search.results"), 303)


# Settings -------------------------------------------------------------------------------------

@bp.route("/settings/search", methods=["GET", "POST"])
@staff_required(Role.ADMIN)
def settings():
    form = SearchLanguageForm(search_language=g.org.search_language)
    form.with_choices(services.search_languages())
    status = 200
    if form.validate_on_submit():
        try:
            changed = services.set_search_language(g.org, form.search_language.data)
        except ServiceError as error:
            show_service_error(form, error)
            status = error.status
        else:
            flash(f"Search language set to {g.org.search_language}: the index is being rebuilt "
                  "in the background, so new matches appear within minutes." if changed
                  else "The search language was already set to that.", "success")
            return redirect(url_for("search.settings"), 303)
    else:
        status = form_status(form)
    return render_template("helpdesk/search/settings.html", form=form), status

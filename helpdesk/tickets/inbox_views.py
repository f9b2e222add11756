"""The desk inbox: views with counts, filters, sort, keyset pages and bulk actions."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from helpdesk.core.auth import staff_required
from helpdesk.core.exceptions import ServiceError, ValidationFailed
from helpdesk.core.forms import form_status, show_service_error
from helpdesk.core.models import utcnow
from helpdesk.extensions import db
from helpdesk.search import services as search_services
from helpdesk.tickets import bp, inbox, merge, services, sla_display
from helpdesk.tickets.forms import BulkForm, id_or_none
from helpdesk.tickets.models import Status, Ticket
from helpdesk.tickets.queries import members, teams

# The query arguments an inbox URL carries (anything else is not passed on).
INBOX_ARGS = ("view", "sort", "cursor", "status", "priority", "assignee", "team", "tag",
              "customer")


def ticket_or_404(number: int, *, for_update: bool = False) -> Ticket:
    ticket = services.get_ticket(number, for_update=for_update)
    if ticket is None:
        abort(404, description=f"There is no ticket #{number}.")
    return ticket


@bp.app_template_filter("ago")
def ago(moment: datetime | None) -> str:
    """“5 min ago”, “3 h ago”, “2 d ago”, then the date."""
    if moment is None:
        return ""
    seconds = (utcnow() - moment).total_seconds()
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    if seconds < 86400:
        return f"{int(seconds // 3600)} h ago"
    if seconds < 86400 * 30:
        return f"{int(seconds // 86400)} d ago"
    return moment.strftime("%Y-%m-%d")


@bp.app_template_global()
def sla_badge_of(ticket: Ticket) -> sla_display.Badge | None:
    return sla_display.badge(ticket, utcnow())


@bp.app_template_global()
def sla_summary_of(ticket: Ticket) -> sla_display.Summary:
    return sla_display.summary(ticket, utcnow())


def inbox_page(*, bulk_form: BulkForm | None = None, status: int = 200,
               template: str = "helpdesk/tickets/inbox.html",
               default_view: Callable[[dict[str, int]], str] | None = None):
    """The inbox for the query string; the desk home renders it too, with its own default
    view chosen from the counts."""
    me = current_user.id
    counts = inbox.view_counts(me)
    view = request.args.get("view") or (default_view(counts) if default_view
                                        else inbox.DEFAULT_VIEW)
    if view not in inbox.VIEWS:
        view = inbox.DEFAULT_VIEW
    chosen = inbox.VIEWS[view]
    sort = request.args.get("sort") or chosen.sort
    sort = sort if sort in inbox.SORTS else chosen.sort
    filters = inbox.parse_filters(request.args, me)
    page = inbox.list_tickets(view, me, filters, sort=sort, cursor=request.args.get("cursor"))
    staff = members()
    # A view's own sort stays out of the links, so another view opens in its own sort.
    state = {"view": view, "sort": None if sort == chosen.sort else sort, **filters.active}

    def link(**changes) -> str:
        """The inbox URL with `changes` applied to the current view, sort and filters."""
        args = {**state, **changes}
        return url_for("tickets.index", **{k: v for k, v in args.items() if v not in (None, "")})

    return render_template(
        template, view=chosen, views=inbox.VIEWS.values(), counts=counts,
        count_label=inbox.count_label,
        page=page, filters=filters, sort=sort, sorts=inbox.SORTS, link=link, state=state,
        members=staff, teams=teams(), statuses=list(Status),
        saved_views=search_services.visible_views(me),
        bulk_form=bulk_form or BulkForm(formdata=None).with_choices(staff, me),
    ), status


@bp.get("/")
@staff_required()
def index():
    return inbox_page()


@bp.post("/")
@staff_required()
def bulk():
    """Bulk actions on the checked rows: all or nothing (one refusal rolls back the batch)."""
    form = BulkForm().with_choices(members(), current_user.id)
    if not form.validate_on_submit():
        return inbox_page(bulk_form=form, status=form_status(form))
    try:
        message = _apply_bulk(form)
    except ServiceError as error:
        db.session.rollback()
        show_service_error(form, error)
        return inbox_page(bulk_form=form, status=error.status)
    flash(message, "success")
    kept = {key: value for key, value in request.args.items() if key in INBOX_ARGS}
    return redirect(url_for("tickets.index", **kept), 303)


def _apply_bulk(form: BulkForm) -> str:
    me, action = current_user.id, form.action.data
    chosen = list(dict.fromkeys(form.tickets.data))  # page order: the first is the first row
    tickets = {n: ticket_or_404(n, for_update=True) for n in sorted(chosen)}  # lock in order
    if action == "merge":
        target_number = form.merge_target.data or chosen[0]
        target = tickets.get(target_number) or services.get_ticket(target_number,
                                                                    for_update=True)
        if target is None:
            raise ValidationFailed("Unknown ticket.",
                                   {"merge_target": f"There is no ticket #{target_number}."})
        sources = [t for t in tickets.values() if t.id != target.id]
        merge.merge_tickets(me, target, sources)
        return f"Merged {_count(len(sources))} into #{target.number}."
    changes: dict = {}
    if action == "assign":
        changes["assignee_id"] = id_or_none(form.assignee.data)
    elif action == "status":
        if not form.status.data:
            raise ValidationFailed("Choose a status.", {"status": "Choose a status."})
        changes["status"] = Status(form.status.data)
    elif action == "tag":
        if not (form.tag.data or "").strip():
            raise ValidationFailed("Enter a tag.", {"tag": "Enter a tag."})
        changes["add_tags"] = [form.tag.data]
    for number in chosen:
        try:
            services.update_ticket(me, tickets[number], **changes)
        except ServiceError as error:
            error.message = f"#{number}: {error.message}"
            error.fields = {k: f"#{number}: {v}" for k, v in error.fields.items()}
            raise
    return f"Updated {_count(len(chosen))}."


def _count(n: int) -> str:
    return f"{n} ticket" if n == 1 else f"{n} tickets"

"""Desk pages for one ticket: the thread, the composer, properties, merge and split,
canned responses and attachment downloads. Views parse, call services, render; the request
boundary commits (see helpdesk.core.web)."""

from __future__ import annotations

from flask import abort, flash, jsonify, redirect, render_template, request, send_file, url_for
from flask_login import current_user
from sqlalchemy import select

from helpdesk.core.auth import staff_required
from helpdesk.core.exceptions import ServiceError
from helpdesk.core.forms import form_status, show_service_error
from helpdesk.extensions import db
from helpdesk.orgs.forms import EmptyForm
from helpdesk.tickets import attachments, bp, canned, merge, services, workflow
from helpdesk.tickets.forms import (
    ComposerForm,
    MergeForm,
    UpdateForm,
    custom_field_values,
    id_or_none,
    status_choices,
)
from helpdesk.tickets.inbox_views import ticket_or_404
from helpdesk.tickets.models import (
    Attachment,
    CannedResponse,
    CustomField,
    Message,
    Priority,
    Status,
    Ticket,
)
from helpdesk.tickets.queries import members, teams
from helpdesk.tickets.thread import build_thread


def _custom_fields() -> list[CustomField]:
    return list(db.session.scalars(select(CustomField).order_by(CustomField.position,
                                                                CustomField.id)))


def _ticket_page(ticket: Ticket, *, composer: ComposerForm | None = None,
                 update_form: UpdateForm | None = None, merge_form: MergeForm | None = None,
                 field_values: dict | None = None, field_errors: dict | None = None,
                 status: int = 200):
    if update_form is None:
        update_form = UpdateForm(formdata=None, status=ticket.status.value,
                                 priority=ticket.priority.value,
                                 assignee=str(ticket.assignee_id or "none"),
                                 team=str(ticket.team_id or "none"), tags=", ".join(ticket.tags))
    update_form.with_choices(members(), teams(), current_user.id)
    allowed = [s for s in Status if s is ticket.status or workflow.can_transition(ticket, s)]
    update_form.status.choices = status_choices(allowed)
    others = db.session.scalars(
        select(Ticket).where(Ticket.customer_id == ticket.customer_id, Ticket.id != ticket.id)
        .order_by(Ticket.last_activity_at.desc()).limit(5)).unique().all()
    merged_into = db.session.get(Ticket, ticket.merged_into_id) if ticket.merged_into_id else None
    return render_template(
        "helpdesk/tickets/detail.html", ticket=ticket, thread=build_thread(ticket),
        composer=composer or ComposerForm(formdata=None), update_form=update_form,
        merge_form=merge_form or MergeForm(formdata=None),
        custom_fields=_custom_fields(), field_values=field_values or ticket.custom_fields,
        field_errors=field_errors or {}, other_tickets=others, merged_into=merged_into,
        can_solve=workflow.can_transition(ticket, Status.SOLVED),
        max_upload_mb=services.max_upload_mb(), inline_types=attachments.INLINE_TYPES,
    ), status


def _back_to(ticket: Ticket, anchor: str = ""):
    return redirect(url_for("tickets.detail", number=ticket.number) + anchor, 303)


@bp.get("/<id:number>")
@staff_required()
def detail(number: int):
    return _ticket_page(ticket_or_404(number))


@bp.post("/<id:number>/messages")
@staff_required()
def add_message(number: int):
    """A public reply (mailed) or an internal note, with files and an optional new status."""
    ticket = ticket_or_404(number, for_update=True)
    form = ComposerForm()
    if not form.validate_on_submit():
        return _ticket_page(ticket, composer=form, status=form_status(form))
    then = Status(form.then_status.data) if form.then_status.data else None
    try:
        if form.kind.data == "note":
            services.add_note(current_user.id, ticket, body_text=form.body.data,
                              attachments=form.uploads())
            if then is not None:
                services.update_ticket(current_user.id, ticket, status=then)
        else:
            services.add_reply(current_user.id, ticket, body_text=form.body.data,
                               attachments=form.uploads(), status=then)
    except ServiceError as error:
        db.session.rollback()  # the page shows the ticket as it is, not half-changed
        show_service_error(form, error)
        if "attachments" in error.fields:  # the full message names the file and the limit
            form.attachments.errors = [error.message]
        return _ticket_page(ticket, composer=form, status=error.status)
    flash("Note added." if form.kind.data == "note" else "Reply sent.", "success")
    return _back_to(ticket, "#composer")


@bp.post("/<id:number>/update")
@staff_required()
def update(number: int):
    """Properties from the sidebar (or a lone status, from the Solve button)."""
    ticket = ticket_or_404(number, for_update=True)
    form = UpdateForm().with_choices(members(), teams(), current_user.id)
    definitions = _custom_fields()
    submitted_fields = custom_field_values(definitions, request.form)
    if not form.validate_on_submit():
        return _ticket_page(ticket, update_form=form, status=form_status(form),
                            field_values={**ticket.custom_fields, **submitted_fields})
    sent = request.form
    changes: dict = {}
    if "status" in sent:
        changes["status"] = Status(form.status.data)
    if "priority" in sent:
        changes["priority"] = Priority(form.priority.data)
    if "assignee" in sent:
        changes["assignee_id"] = id_or_none(form.assignee.data)
    if "team" in sent:
        changes["team_id"] = id_or_none(form.team.data)
    if "tags" in sent:
        changes["tags"] = form.tag_list()
    if "is_spam" in sent:
        changes["is_spam"] = form.is_spam.data == "1"
    if submitted_fields:
        changes["custom_fields"] = submitted_fields
    try:
        changed = services.update_ticket(current_user.id, ticket, **changes)
    except ServiceError as error:
        db.session.rollback()
        prefix = "custom_fields."
        field_errors = {k[len(prefix):]: v for k, v in error.fields.items()
                        if k.startswith(prefix)}
        show_service_error(form, type(error)(error.message, {
            k: v for k, v in error.fields.items() if not k.startswith(prefix)}))
        return _ticket_page(ticket, update_form=form, status=error.status,
                            field_values={**ticket.custom_fields, **submitted_fields},
                            field_errors=field_errors)
    if changed == ["status"] and ticket.status is Status.SOLVED:
        flash(f"Ticket #{ticket.number} solved.", "success")
    else:
        flash("Ticket updated." if changed else "Nothing changed.", "success")
    return _back_to(ticket)


@bp.post("/<id:number>/merge")
@staff_required()
def merge_into(number: int):
    """Merge this ticket into the ticket number given; the page goes to the target."""
    ticket = ticket_or_404(number)  # merge_tickets locks both rows, in id order
    form = MergeForm()
    if not form.validate_on_submit():
        return _ticket_page(ticket, merge_form=form, status=form_status(form))
    target = services.get_ticket(form.target.data)
    if target is None:
        form.target.errors = [f"There is no ticket #{form.target.data}."]
        return _ticket_page(ticket, merge_form=form, status=422)
    try:
        merge.merge_tickets(current_user.id, target, [ticket])
    except ServiceError as error:
        db.session.rollback()
        form.target.errors = [" ".join(error.fields.values()) or error.message]
        return _ticket_page(ticket, merge_form=form, status=error.status)
    flash(f"Ticket #{ticket.number} was merged into #{target.number}.", "success")
    return _back_to(target)


@bp.post("/<id:number>/messages/<id:message_id>/split")
@staff_required()
def split(number: int, message_id: int):
    """A customer message becomes a ticket of its own."""
    ticket = ticket_or_404(number, for_update=True)
    message = db.session.get(Message, message_id)
    if message is None or message.ticket_id != ticket.id:
        abort(404)
    if not EmptyForm().validate_on_submit():
        abort(400, description="The form expired. Reload the page and try again.")
    try:
        new = merge.split_ticket(current_user.id, message)
    except ServiceError as error:
        db.session.rollback()
        flash(" ".join(error.fields.values()) or error.message, "error")
        return _ticket_page(ticket, status=error.status)
    flash(f"The message is now ticket #{new.number}.", "success")
    return _back_to(new)


@bp.get("/canned")
@staff_required()
def canned_search():
    """JSON for the composer's picker: the user's and the shared responses matching `q`."""
    query = (request.args.get("q") or "").strip()[:100]
    items = canned.list_for(current_user.id, query)
    return jsonify(items=[{"id": c.id, "title": c.title, "preview": c.body[:140],
                           "shared": c.owner_user_id is None} for c in items])


@bp.post("/<id:number>/canned/<id:canned_id>")
@staff_required()
def canned_insert(number: int, canned_id: int):
    """The canned response rendered for this ticket: JSON {body}. Counts the use."""
    ticket = ticket_or_404(number)
    if db.session.get(CannedResponse, canned_id) is None:  # tenant-scoped: others' are absent
        return jsonify(error={"code": "not_found", "message": "No such canned response."}), 404
    try:
        body = canned.use_canned(current_user.id, canned_id, ticket)
    except ServiceError as error:
        return jsonify(error={"code": "refused", "message": error.message}), error.status
    return jsonify(body=body)


@bp.get("/attachments/<id:attachment_id>")
@staff_required()
def attachment(attachment_id: int):
    """A file of this org's tickets; only safe types display in the browser."""
    found = db.session.get(Attachment, attachment_id)
    if found is None:
        abort(404)
    try:
        path = attachments.attachment_path(found)
    except ValueError:  # a storage key that points outside the folder: treat as missing
        abort(404)
    if not path.is_file():
        abort(404, description="The file of this attachment is missing.")
    inline = found.content_type in attachments.INLINE_TYPES
    response = send_file(path, mimetype=found.content_type, as_attachment=not inline,
                         download_name=found.filename, conditional=True, etag=found.sha256)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    return response

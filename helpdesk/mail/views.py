"""Mail settings on the mail blueprint (`/<org_slug>/desk/settings/mail/...`), for admins and
owners: mailboxes, the log of inbound mail with its quarantine, and the outbox. Logic lives
in mail.services, mail.pipeline and mail.delivery; views parse, call them, and render."""

from __future__ import annotations

import io

from flask import flash, redirect, render_template, request, send_file, url_for
from sqlalchemy import func, select
from sqlalchemy.orm import defer

from helpdesk.core.auth import staff_required
from helpdesk.core.exceptions import ServiceError
from helpdesk.core.forms import form_status, show_service_error
from helpdesk.core.keyset import paginate
from helpdesk.core.views import get_or_404, run_and_flash
from helpdesk.customers.models import Customer
from helpdesk.extensions import db
from helpdesk.mail import bp, delivery, imap, services
from helpdesk.mail import forms as mail_forms
from helpdesk.mail.models import InboundEmail, InboundStatus, Mailbox, Outbox, OutboxStatus
from helpdesk.orgs.forms import EmptyForm
from helpdesk.orgs.models import Role
from helpdesk.tickets.models import Ticket

PAGE_SIZE = 50
LOG_FILTERS = {"all": (), "quarantined": (InboundStatus.QUARANTINED,),
               "processed": (InboundStatus.PROCESSED,)}
OUTBOX_FILTERS = {"unsent": (OutboxStatus.QUEUED, OutboxStatus.FAILED),
                  "failed": (OutboxStatus.FAILED,), "sent": (OutboxStatus.SENT,)}
# A change to any of these is another server or account: test it before saving.
IMAP_SETTINGS = ("imap_host", "imap_port", "imap_security", "imap_user", "imap_password",
                 "folder")


def _ticket_numbers(ticket_ids: set[int | None]) -> dict[int, int]:
    ticket_ids.discard(None)
    if not ticket_ids:
        return {}
    return dict(db.session.execute(select(Ticket.id, Ticket.number)
                                   .where(Ticket.id.in_(ticket_ids))).all())


def _choice(value: str | None, choices: dict, default: str) -> str:
    return value if value in choices else default


def _newest_first(query, id_column, endpoint: str, shown: str):
    """One page of `query` by descending id, and the link to another page of the same list."""
    page = paginate(query, [id_column], lambda row: [row.id], cursor=request.args.get("cursor"),
                    tag=f"{endpoint}-{shown}", limit=PAGE_SIZE)
    return page, lambda cursor: url_for(endpoint, status=shown, cursor=cursor)


# Mailboxes -------------------------------------------------------------------------------------

@bp.get("/")
@staff_required(Role.ADMIN)
def mailboxes():
    boxes = db.session.scalars(select(Mailbox).order_by(Mailbox.address)).all()
    counts: dict[int, dict[str, int]] = {}
    for mailbox_id, status, count in db.session.execute(
            select(InboundEmail.mailbox_id, InboundEmail.status, func.count())
            .where(InboundEmail.mailbox_id.is_not(None))
            .group_by(InboundEmail.mailbox_id, InboundEmail.status)):
        counts.setdefault(mailbox_id, {})[status.value] = count
    return render_template("helpdesk/settings/mail/mailboxes.html", mailboxes=boxes,
                           counts=counts, button_form=EmptyForm())


@bp.route("/new", methods=["GET", "POST"])
@staff_required(Role.ADMIN)
def new_mailbox():
    return _mailbox_page(None)


@bp.route("/<id:mailbox_id>", methods=["GET", "POST"])
@staff_required(Role.ADMIN)
def edit_mailbox(mailbox_id: int):
    return _mailbox_page(get_or_404(Mailbox, mailbox_id))


def _imap_settings(mailbox: Mailbox) -> tuple:
    return tuple(getattr(mailbox, key) for key in IMAP_SETTINGS)


def _save_mailbox(mailbox: Mailbox | None, form: mail_forms.MailboxForm) -> tuple[Mailbox, str]:
    """Save, then test a new mailbox or changed IMAP settings unless told not to; returns the
    mailbox and the test's summary. Raises ServiceError, imap.MailboxError (the caller rolls
    back: nothing is saved)."""
    if mailbox is None:
        before, saved = None, services.create_mailbox(**form.values())
    else:
        before, saved = _imap_settings(mailbox), services.update_mailbox(mailbox,
                                                                         **form.values())
    if form.skip_test.data:
        return saved, "The connection was not tested."
    if before == _imap_settings(saved):
        return saved, ""
    return saved, services.test_mailbox(saved)


def _mailbox_page(mailbox: Mailbox | None):
    form = mail_forms.MailboxForm(data=mail_forms.mailbox_data(mailbox))
    status, test_error = 200, None
    if form.validate_on_submit():
        try:
            saved, summary = _save_mailbox(mailbox, form)
        except ServiceError as error:
            db.session.rollback()
            show_service_error(form, error)
            status = error.status
        except imap.MailboxError as error:
            db.session.rollback()
            test_error, status = str(error), 422
        else:
            flash(f"Mailbox {saved.address} saved. {summary}".strip(), "success")
            return redirect(url_for("mail.mailboxes"))
    else:
        status = form_status(form)
    return render_template("helpdesk/settings/mail/mailbox_form.html", form=form,
                           mailbox=mailbox, test_error=test_error,
                           button_form=EmptyForm()), status


@bp.post("/<id:mailbox_id>/test")
@staff_required(Role.ADMIN)
def test_connection(mailbox_id: int):
    mailbox = get_or_404(Mailbox, mailbox_id)
    if EmptyForm().validate_on_submit():
        try:
            flash(services.test_mailbox(mailbox), "success")
        except imap.MailboxError as error:
            flash(f"Connection test of {mailbox.address} failed: {error}", "error")
    if request.form.get("back") == "edit":
        return redirect(url_for("mail.edit_mailbox", mailbox_id=mailbox.id))
    return redirect(url_for("mail.mailboxes"))


@bp.post("/<id:mailbox_id>/<any(pause, resume):state>")
@staff_required(Role.ADMIN)
def switch_mailbox(mailbox_id: int, state: str):
    mailbox = get_or_404(Mailbox, mailbox_id)
    if EmptyForm().validate_on_submit():
        run_and_flash(lambda: services.update_mailbox(mailbox, is_active=state == "resume"),
                      f"Mailbox {mailbox.address} {'resumed' if state == 'resume' else 'paused'}.")
    return redirect(url_for("mail.mailboxes"))


# Mail log and quarantine -----------------------------------------------------------------------

@bp.get("/log")
@staff_required(Role.ADMIN)
def log():
    shown = _choice(request.args.get("status"), LOG_FILTERS, "all")
    query = select(InboundEmail).options(defer(InboundEmail.raw))  # raw mails can be megabytes
    if LOG_FILTERS[shown]:
        query = query.where(InboundEmail.status.in_(LOG_FILTERS[shown]))
    page, link = _newest_first(query, InboundEmail.id, "mail.log", shown)
    addresses = dict(db.session.execute(select(Mailbox.id, Mailbox.address)).all())
    return render_template("helpdesk/settings/mail/log.html", page=page, shown=shown,
                           filters=LOG_FILTERS, link=link, addresses=addresses,
                           numbers=_ticket_numbers({row.ticket_id for row in page.rows}),
                           outcomes=mail_forms.OUTCOME_LABELS, button_form=EmptyForm())


@bp.post("/log/<id:inbound_id>/reprocess")
@staff_required(Role.ADMIN)
def reprocess(inbound_id: int):
    inbound = get_or_404(InboundEmail, inbound_id)
    if EmptyForm().validate_on_submit():
        try:
            services.reprocess_inbound(inbound.id)
        except ServiceError as error:
            db.session.rollback()
            flash(error.message, "error")
        else:
            if inbound.status is InboundStatus.QUARANTINED:
                flash(f"Mail {inbound.id} is still quarantined: {inbound.error}", "error")
            else:
                outcome = mail_forms.OUTCOME_LABELS.get(inbound.outcome, inbound.outcome)
                flash(f"Mail {inbound.id} reprocessed: {outcome}.", "success")
    shown = _choice(request.form.get("status"), LOG_FILTERS, "quarantined")
    return redirect(url_for("mail.log", status=shown))


@bp.get("/log/<id:inbound_id>.eml")
@staff_required(Role.ADMIN)
def download(inbound_id: int):
    """The mail exactly as received, to open in a mail program or attach to a bug report."""
    inbound = get_or_404(InboundEmail, inbound_id)
    return send_file(io.BytesIO(inbound.raw), mimetype="message/rfc822", as_attachment=True,
                     download_name=f"mail-{inbound.id}.eml")


# Outbox ----------------------------------------------------------------------------------------

@bp.get("/outbox")
@staff_required(Role.ADMIN)
def outbox():
    shown = _choice(request.args.get("status"), OUTBOX_FILTERS, "unsent")
    query = (select(Outbox).options(defer(Outbox.raw))
             .where(Outbox.status.in_(OUTBOX_FILTERS[shown])))
    page, link = _newest_first(query, Outbox.id, "mail.outbox", shown)
    return render_template("helpdesk/settings/mail/outbox.html", page=page, shown=shown,
                           filters=OUTBOX_FILTERS, link=link,
                           numbers=_ticket_numbers({row.ticket_id for row in page.rows}),
                           button_form=EmptyForm())


@bp.post("/outbox/<id:outbox_id>/retry")
@staff_required()
def retry_outbox(outbox_id: int):
    """Send a failed mail again. Any member may: agents do it for their replies from the
    ticket page (`back=ticket`); the outbox page itself is for admins."""
    row = get_or_404(Outbox, outbox_id)
    if EmptyForm().validate_on_submit():
        if row.status is OutboxStatus.FAILED:
            delivery.retry_failed(row.id)
            flash(f"The mail to {row.recipient} is queued to be sent again.", "success")
        else:
            flash(f"The mail to {row.recipient} has not failed: nothing to send again.", "error")
    number = _ticket_numbers({row.ticket_id}).get(row.ticket_id)
    if request.form.get("back") == "ticket" and number is not None:
        anchor = f"#message-{row.message_row_id}" if row.message_row_id else ""
        return redirect(url_for("tickets.detail", number=number) + anchor, 303)
    return redirect(url_for("mail.outbox"))


@bp.post("/customers/<id:customer_id>/deliverable")
@staff_required()
def mark_deliverable(customer_id: int):
    """The customer's address works again (a bounce marked it): automatic mail resumes."""
    customer = get_or_404(Customer, customer_id)
    if EmptyForm().validate_on_submit():
        services.mark_deliverable(customer)
        flash(f"Mail to {customer.email} is sent again.", "success")
    number = request.form.get("number", type=int)
    if number:
        return redirect(url_for("tickets.detail", number=number), 303)
    return redirect(url_for("customers.detail", customer_id=customer.id), 303)
